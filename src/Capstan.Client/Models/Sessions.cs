namespace Capstan.Client.Models;

/// <summary>A live or ended instance of a meeting.</summary>
public sealed class Session : ApiObject
{
    /// <summary>Session id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>The meeting id.</summary>
    public string? AssociatedId { get; init; }

    /// <summary>The meeting's title.</summary>
    public string? MeetingDisplayName { get; init; }

    /// <summary>The app id.</summary>
    public string? OrganizationId { get; init; }

    /// <summary><c>LIVE</c> or <c>ENDED</c>.</summary>
    public string? Status { get; init; }

    /// <summary><c>meeting</c>.</summary>
    public string? Type { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When the first participant joined.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Participants in it now.</summary>
    public int LiveParticipants { get; init; }

    /// <summary>Most participants at once.</summary>
    public int MaxConcurrentParticipants { get; init; }

    /// <summary>A Capstan extension (the active session only): the peer id of the active speaker, or null.</summary>
    public string? ActiveSpeaker { get; init; }

    /// <summary>Participant-minutes.</summary>
    public double MinutesConsumed { get; init; }
}

/// <summary>A participant's presence (a peer) in a session.</summary>
public sealed class SessionParticipant : ApiObject
{
    /// <summary>Peer id.</summary>
    public required string Id { get; init; }

    /// <summary>The participant id.</summary>
    public string? UserId { get; init; }

    /// <summary>Your own id for the participant.</summary>
    public string? CustomParticipantId { get; init; }

    /// <summary>Display name.</summary>
    public string? DisplayName { get; init; }

    /// <summary>Preset.</summary>
    public string? PresetName { get; init; }

    /// <summary>Join time.</summary>
    public DateTimeOffset JoinedAt { get; init; }

    /// <summary>Leave time.</summary>
    public DateTimeOffset? LeftAt { get; init; }

    /// <summary>Minutes present.</summary>
    public double Duration { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Join and leave events, when asked for.</summary>
    public IReadOnlyList<PeerEvent>? PeerEvents { get; init; }
}

/// <summary>A peer's join or leave event.</summary>
public sealed class PeerEvent : ApiObject
{
    /// <summary>Event id.</summary>
    public string? Id { get; init; }

    /// <summary><c>PEER_CREATED</c>, <c>PEER_JOINING</c> or <c>PEER_LEAVING</c>.</summary>
    public string? EventName { get; init; }

    /// <summary>Peer id.</summary>
    public string? PeerId { get; init; }

    /// <summary>Participant id.</summary>
    public string? ParticipantId { get; init; }

    /// <summary>Session id.</summary>
    public string? SessionId { get; init; }

    /// <summary>When.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>What a kick answers: the peers that were removed.</summary>
public sealed class KickResult : ApiObject
{
    /// <summary><c>kick</c> or <c>kick-all</c>.</summary>
    public string? Action { get; init; }

    /// <summary>The removed peers.</summary>
    public IReadOnlyList<SessionParticipant> Participants { get; init; } = [];
}

/// <summary>Options of <c>ActiveSession.KickParticipantsAsync</c>.</summary>
public sealed class KickParticipantsOptions
{
    /// <summary>Participant ids.</summary>
    public IList<string>? ParticipantIds { get; set; }

    /// <summary>Your own participant ids.</summary>
    public IList<string>? CustomParticipantIds { get; set; }
}

/// <summary>Options of <c>Sessions.GetSessionsAsync</c>.</summary>
public sealed class SessionListOptions : ListOptions
{
    /// <summary>Meeting id.</summary>
    public string? AssociatedId { get; set; }

    /// <summary>Session id, meeting id or title.</summary>
    public string? Search { get; set; }

    /// <summary><c>minutesConsumed</c> or <c>createdAt</c>.</summary>
    public string? SortBy { get; set; }

    /// <summary><c>ASC</c> or <c>DESC</c>.</summary>
    public string? SortOrder { get; set; }

    /// <summary>Started at or after.</summary>
    public DateTimeOffset? StartTime { get; set; }

    /// <summary>Started at or before.</summary>
    public DateTimeOffset? EndTime { get; set; }

    /// <summary><c>LIVE</c> or <c>ENDED</c>.</summary>
    public string? Status { get; set; }

    /// <summary>Sessions with a participant of this custom id or display name.</summary>
    public string? Participants { get; set; }

    internal override Query AddFilters(Query query) => query
        .Add("associated_id", AssociatedId).Add("search", Search).Add("sort_by", SortBy).Add("sort_order", SortOrder)
        .Add("start_time", StartTime).Add("end_time", EndTime).Add("status", Status).Add("participants", Participants);
}

/// <summary>Options of <c>Sessions.GetSessionParticipantsAsync</c>.</summary>
public sealed class SessionParticipantListOptions : ListOptions
{
    /// <summary>Add each peer's events.</summary>
    public bool? IncludePeerEvents { get; set; }

    /// <summary>Display name or custom id.</summary>
    public string? Search { get; set; }

    /// <summary><c>joinedAt</c> or <c>duration</c>.</summary>
    public string? SortBy { get; set; }

    /// <summary><c>ASC</c> or <c>DESC</c>.</summary>
    public string? SortOrder { get; set; }

    /// <summary><c>raw</c> or <c>consolidated</c>.</summary>
    public string? View { get; set; }

    internal override Query AddFilters(Query query) => query
        .Add("include_peer_events", IncludePeerEvents).Add("search", Search).Add("sort_by", SortBy).Add("sort_order", SortOrder).Add("view", View);
}
