using System.Text.Json.Serialization;

namespace Capstan.Contracts;

public sealed class SessionDto
{
    public required string Id { get; init; }
    public required string AssociatedId { get; init; }
    public string? MeetingDisplayName { get; init; }
    public required string OrganizationId { get; init; }
    public required string Status { get; init; }
    public string Type { get; init; } = "meeting";
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }
    public DateTime StartedAt { get; init; }
    public DateTime? EndedAt { get; init; }
    public int LiveParticipants { get; init; }
    public int MaxConcurrentParticipants { get; init; }
    public double MinutesConsumed { get; init; }

    /// <summary>A Capstan extension, in <c>GET /meetings/{id}/active-session</c> only: the peer id (a session
    /// participant's <c>id</c>) of the active speaker, from Janus's audio levels (whoever started talking last, while
    /// they talk and for 2 s after), while there is one; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [System.ComponentModel.Description("Capstan extension, in the active session only: the peer id (a session participant's id) of the active speaker from Janus's audio levels (whoever started talking last, while they talk and for 2 s after); absent when nobody is.")]
    public string? ActiveSpeaker { get; init; }
}

public sealed record SessionListDto(IReadOnlyList<SessionDto> Sessions);

public sealed class SessionParticipantDto
{
    public required string Id { get; init; }
    public string? UserId { get; init; }
    public string? CustomParticipantId { get; init; }
    public string? DisplayName { get; init; }
    public string? PresetName { get; init; }
    public DateTime JoinedAt { get; init; }
    public DateTime? LeftAt { get; init; }
    public double Duration { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<PeerEventDto>? PeerEvents { get; init; }

    /// <summary>A Capstan extension, present once the participant has shared a screen: when each share began
    /// (Janus saw its feed publish) and ended (null while it goes on).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ScreenShareDto>? ScreenShares { get; init; }
}

public sealed record ScreenShareDto(DateTime StartedAt, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] DateTime? EndedAt);

public sealed record PeerEventDto(string Id, string EventName, string PeerId, string? ParticipantId, string SessionId, DateTime CreatedAt);

public sealed record SessionParticipantsDto(IReadOnlyList<SessionParticipantDto> Participants);

public sealed record SessionParticipantDetailsDto(SessionParticipantDto Participant);

public sealed class KickRequest
{
    public IList<string>? ParticipantIds { get; set; }
    public IList<string>? CustomParticipantIds { get; set; }
}

public sealed record KickResultDto(string Action, IReadOnlyList<SessionParticipantDto> Participants);
