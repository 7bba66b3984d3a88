using Capstan.Client.Models;

namespace Capstan.Client.Resources;

/// <summary><c>.../{app_id}/meetings</c> and their participants.</summary>
public sealed class MeetingsResource
{
    private readonly ApiTransport _t;

    internal MeetingsResource(ApiTransport transport) => _t = transport;

    /// <summary>Creates a meeting (<c>meetings.create</c>).</summary>
    public Task<Meeting> CreateAsync(string appId, CreateMeetingOptions? options = null, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Meeting>(HttpMethod.Post, _t.KitPath(appId, "meetings"), options ?? new(), null, cancellationToken);

    /// <summary>One page of meetings (<c>meetings.get</c>).</summary>
    public Task<Page<Meeting>> GetAsync(string appId, MeetingListOptions? options = null, CancellationToken cancellationToken = default) =>
        PageAsync(appId, options ?? new(), null, cancellationToken);

    /// <summary>Every meeting that matches, page after page.</summary>
    public IAsyncEnumerable<Meeting> GetAutoPagingAsync(string appId, MeetingListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => PageAsync(appId, o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>A meeting (<c>meetings.getMeetingByID</c>).</summary>
    public Task<Meeting> GetMeetingByIdAsync(string appId, string meetingId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Meeting>(HttpMethod.Get, _t.KitPath(appId, "meetings", meetingId), null, null, cancellationToken);

    /// <summary>Changes the given fields of a meeting (<c>meetings.updateMeetingByID</c>, PATCH).</summary>
    public Task<Meeting> UpdateMeetingByIdAsync(string appId, string meetingId, UpdateMeetingOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Meeting>(HttpMethod.Patch, _t.KitPath(appId, "meetings", meetingId), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Replaces a meeting's fields (<c>meetings.replaceMeetingByID</c>, PUT).</summary>
    public Task<Meeting> ReplaceMeetingByIdAsync(string appId, string meetingId, ReplaceMeetingOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Meeting>(HttpMethod.Put, _t.KitPath(appId, "meetings", meetingId), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Adds a participant and returns it with its token (<c>meetings.addParticipant</c>).</summary>
    public Task<Participant> AddParticipantAsync(string appId, string meetingId, AddParticipantOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Participant>(HttpMethod.Post, _t.KitPath(appId, "meetings", meetingId, "participants"), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>One page of a meeting's participants, without tokens (<c>meetings.getMeetingParticipants</c>).</summary>
    public Task<Page<Participant>> GetMeetingParticipantsAsync(string appId, string meetingId, ParticipantListOptions? options = null, CancellationToken cancellationToken = default) =>
        ParticipantsPageAsync(appId, meetingId, options ?? new(), null, cancellationToken);

    /// <summary>Every participant of a meeting, page after page.</summary>
    public IAsyncEnumerable<Participant> GetMeetingParticipantsAutoPagingAsync(string appId, string meetingId, ParticipantListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => ParticipantsPageAsync(appId, meetingId, o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>A participant, without token (<c>meetings.getMeetingParticipant</c>).</summary>
    public Task<Participant> GetMeetingParticipantAsync(string appId, string meetingId, string participantId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Participant>(HttpMethod.Get, _t.KitPath(appId, "meetings", meetingId, "participants", participantId), null, null, cancellationToken);

    /// <summary>Changes a participant and returns it with a new token (<c>meetings.editParticipant</c>).</summary>
    public Task<Participant> EditParticipantAsync(string appId, string meetingId, string participantId, EditParticipantOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Participant>(HttpMethod.Patch, _t.KitPath(appId, "meetings", meetingId, "participants", participantId), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Removes a participant (<c>meetings.deleteMeetingParticipant</c>).</summary>
    public Task<DeletedParticipant> DeleteMeetingParticipantAsync(string appId, string meetingId, string participantId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<DeletedParticipant>(HttpMethod.Delete, _t.KitPath(appId, "meetings", meetingId, "participants", participantId), null, null, cancellationToken);

    /// <summary>Issues a new token for a participant (<c>meetings.refreshParticipantToken</c>).</summary>
    public Task<ParticipantToken> RefreshParticipantTokenAsync(string appId, string meetingId, string participantId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<ParticipantToken>(HttpMethod.Post, _t.KitPath(appId, "meetings", meetingId, "participants", participantId, "token"), null, null, cancellationToken);

    private Task<Page<Meeting>> PageAsync(string appId, MeetingListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<Meeting>(_t.KitPath(appId, "meetings"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0, null, ct);

    private Task<Page<Participant>> ParticipantsPageAsync(string appId, string meetingId, ParticipantListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<Participant>(_t.KitPath(appId, "meetings", meetingId, "participants"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0, null, ct);
}
