using System.Text.Json;
using Capstan.Client.Models;

namespace Capstan.Client.Resources;

/// <summary><c>.../{app_id}/sessions</c>.</summary>
public sealed class SessionsResource
{
    private readonly ApiTransport _t;

    internal SessionsResource(ApiTransport transport) => _t = transport;

    /// <summary>One page of sessions (<c>sessions.getSessions</c>; the wire nests them under <c>data.sessions</c>).</summary>
    public Task<Page<Session>> GetSessionsAsync(string appId, SessionListOptions? options = null, CancellationToken cancellationToken = default) =>
        PageAsync(appId, options ?? new(), null, cancellationToken);

    /// <summary>Every session that matches, page after page.</summary>
    public IAsyncEnumerable<Session> GetSessionsAutoPagingAsync(string appId, SessionListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => PageAsync(appId, o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>A session (<c>sessions.getSessionDetails</c>).</summary>
    public Task<Session> GetSessionDetailsAsync(string appId, string sessionId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Session>(HttpMethod.Get, _t.KitPath(appId, "sessions", sessionId), null, null, cancellationToken);

    /// <summary>The peers of a session (<c>sessions.getSessionParticipants</c>; the wire has no paging block here).</summary>
    public async Task<IReadOnlyList<SessionParticipant>> GetSessionParticipantsAsync(string appId, string sessionId, SessionParticipantListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        using var doc = await _t.SendAsync(HttpMethod.Get, _t.KitPath(appId, "sessions", sessionId, "participants"), null, o.ToQuery(), cancellationToken).ConfigureAwait(false);
        return ApiTransport.Read<List<SessionParticipant>>(doc.RootElement.GetProperty("data"), "participants");
    }

    /// <summary>One peer of a session (<c>sessions.getSessionParticipantDetails</c>).</summary>
    public async Task<SessionParticipant> GetSessionParticipantDetailsAsync(string appId, string sessionId, string participantId, bool? includePeerEvents = null, CancellationToken cancellationToken = default)
    {
        using var doc = await _t.SendAsync(HttpMethod.Get, _t.KitPath(appId, "sessions", sessionId, "participants", participantId), null,
            new Query().Add("include_peer_events", includePeerEvents), cancellationToken).ConfigureAwait(false);
        return ApiTransport.Read<SessionParticipant>(doc.RootElement.GetProperty("data"), "participant");
    }

    private Task<Page<Session>> PageAsync(string appId, SessionListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<Session>(_t.KitPath(appId, "sessions"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0,
            data => data.ValueKind == JsonValueKind.Object ? data.GetProperty("sessions") : data, ct);
}

/// <summary><c>.../{app_id}/meetings/{meeting_id}/active-session</c>.</summary>
public sealed class ActiveSessionResource
{
    private readonly ApiTransport _t;

    internal ActiveSessionResource(ApiTransport transport) => _t = transport;

    /// <summary>The meeting's live session; 404 when there is none (<c>activeSession.getActiveSession</c>).</summary>
    public Task<Session> GetActiveSessionAsync(string appId, string meetingId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Session>(HttpMethod.Get, _t.KitPath(appId, "meetings", meetingId, "active-session"), null, null, cancellationToken);

    /// <summary>Removes the given participants from the live session (<c>activeSession.kickParticipants</c>).</summary>
    public Task<KickResult> KickParticipantsAsync(string appId, string meetingId, KickParticipantsOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<KickResult>(HttpMethod.Post, _t.KitPath(appId, "meetings", meetingId, "active-session", "kick"), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Removes everyone, ends the session and stops its recordings (<c>activeSession.kickAllParticipants</c>).</summary>
    public Task<KickResult> KickAllParticipantsAsync(string appId, string meetingId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<KickResult>(HttpMethod.Post, _t.KitPath(appId, "meetings", meetingId, "active-session", "kick-all"), null, null, cancellationToken);
}
