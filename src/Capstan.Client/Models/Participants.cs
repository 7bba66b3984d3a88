namespace Capstan.Client.Models;

/// <summary>A participant of a meeting.</summary>
public sealed class Participant : ApiObject
{
    /// <summary>Participant id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>The participant's auth token (a JWT) for the meeting page; only in add, edit and refresh answers.</summary>
    public string? Token { get; init; }

    /// <summary>Your own id for the participant.</summary>
    public string? CustomParticipantId { get; init; }

    /// <summary>The preset, e.g. <c>group_call_host</c>.</summary>
    public string? PresetName { get; init; }

    /// <summary>Display name.</summary>
    public string? Name { get; init; }

    /// <summary>Picture URL.</summary>
    public string? Picture { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Options of <c>Meetings.AddParticipantAsync</c>.</summary>
public sealed class AddParticipantOptions
{
    /// <summary>Your own id for the participant (required).</summary>
    public required string CustomParticipantId { get; set; }

    /// <summary>The preset (required): <c>group_call_host</c>, <c>group_call_participant</c> or <c>recorder_preset_v2</c>.</summary>
    public required string PresetName { get; set; }

    /// <summary>Display name.</summary>
    public string? Name { get; set; }

    /// <summary>Picture URL.</summary>
    public string? Picture { get; set; }
}

/// <summary>Options of <c>Meetings.EditParticipantAsync</c>: the fields to change.</summary>
public sealed class EditParticipantOptions
{
    /// <summary>Display name.</summary>
    public string? Name { get; set; }

    /// <summary>Picture URL.</summary>
    public string? Picture { get; set; }

    /// <summary>The preset.</summary>
    public string? PresetName { get; set; }
}

/// <summary>Options of <c>Meetings.GetMeetingParticipantsAsync</c>.</summary>
public sealed class ParticipantListOptions : ListOptions;

/// <summary>What <c>Meetings.DeleteMeetingParticipantAsync</c> answers.</summary>
public sealed class DeletedParticipant : ApiObject
{
    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Your own id for the participant.</summary>
    public string? CustomParticipantId { get; init; }

    /// <summary>Id of the participant's preset.</summary>
    public string? PresetId { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A refreshed participant token.</summary>
public sealed class ParticipantToken : ApiObject
{
    /// <summary>The new JWT.</summary>
    public required string Token { get; init; }
}
