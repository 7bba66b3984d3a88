using Capstan.Contracts;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

public static class SessionsApi
{
    public static RouteGroupBuilder MapSessionsApi(this RouteGroupBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var g = app.MapGroup("/sessions").WithTags("Sessions");
        g.MapGet("", List).WithName("sessions.getSessions").WithQuery(
            new("associated_id", "string", "Meeting id"), OpenApiDocs.PageNo, OpenApiDocs.PerPage, new("search", "string", "Session id, meeting id or meeting title"),
            new("sort_by", "string", "minutesConsumed or createdAt", ["minutesConsumed", "createdAt"]), OpenApiDocs.SortOrder,
            new("start_time", "date-time", "Started at or after"), new("end_time", "date-time", "Started at or before"),
            new("status", "string", "LIVE or ENDED", SessionService.Statuses), new("participants", "string", "Sessions with a participant of this custom id or display name"));
        g.MapGet("/{session_id}", Get).WithName("sessions.getSessionDetails");
        g.MapGet("/{session_id}/participants", Participants).WithName("sessions.getSessionParticipants")
            .WithDescription("Capstan extension: a participant who shared a screen has screen_shares, [{started_at, ended_at}] (ended_at null while the share goes on); "
                + "the participant webhooks' participant carries the same as screenShares [{startedAt, endedAt}]. Absent for participants who never shared.")
            .WithQuery(
            new("include_peer_events", "boolean", "Add peer_events to each participant"), OpenApiDocs.PageNo, OpenApiDocs.PerPage, new("search", "string", "Display name or custom participant id"),
            new("sort_by", "string", "joinedAt or duration", ["joinedAt", "duration"]), OpenApiDocs.SortOrder, new("view", "string", "raw or consolidated", ["raw", "consolidated"]));
        g.MapGet("/{session_id}/participants/{participant_id}", Participant).WithName("sessions.getSessionParticipantDetails").WithQuery(new QueryParameter("include_peer_events", "boolean", "Add peer_events"));

        var a = app.MapGroup("/meetings/{meeting_id}/active-session").WithTags("Sessions");
        a.MapGet("", Active).WithName("activeSession.getActiveSession");
        a.MapPost("/kick", Kick).WithName("activeSession.kickParticipants");
        a.MapPost("/kick-all", KickAll).WithName("activeSession.kickAllParticipants");
        return app;
    }

    private static async Task<Ok<PagedEnvelope<SessionListDto>>> List(ApiCaller caller, HttpRequest request, SessionService sessions, CancellationToken ct)
    {
        var q = new QueryReader(request.Query);
        var page = q.Page();
        var sortBy = q.OneOf("sort_by", ["minutesConsumed", "createdAt"]) ?? "createdAt";
        var ascending = q.OneOf("sort_order", ["ASC", "DESC"]) == "ASC";
        var (items, total) = await sessions.ListAsync(caller.AppId, q.Uuid("associated_id"), q.OneOf("status", SessionService.Statuses), q.String("search"),
            q.Time("start_time"), q.Time("end_time"), q.String("participants"), sortBy, ascending, page, ct);
        var dtos = items.Select(i => i.Session.ToDto(i.Live, i.Minutes)).ToList();
        return Envelopes.Page(new SessionListDto(dtos), page.PagingFor(total, dtos.Count));
    }

    private static async Task<Ok<Envelope<SessionDto>>> Get(ApiCaller caller, string session_id, SessionService sessions, CancellationToken ct)
    {
        var (s, live, minutes) = await sessions.GetAsync(caller.AppId, Ids.Parse(session_id, "session_id"), ct);
        return Envelopes.Ok(s.ToDto(live, minutes));
    }

    private static async Task<Ok<Envelope<SessionParticipantsDto>>> Participants(ApiCaller caller, string session_id, HttpRequest request, SessionService sessions, TimeProvider time, CancellationToken ct)
    {
        var q = new QueryReader(request.Query);
        var page = q.Page();
        var withEvents = q.Bool("include_peer_events") ?? false;
        var sortBy = q.OneOf("sort_by", ["joinedAt", "duration"]) ?? "joinedAt";
        var ascending = q.OneOf("sort_order", ["ASC", "DESC"]) != "DESC";
        q.OneOf("view", ["raw", "consolidated"]);
        var peers = await sessions.PeersAsync(caller.AppId, Ids.Parse(session_id, "session_id"), q.String("search"), sortBy, ascending, page, ct);
        var now = time.GetUtcNow().UtcDateTime;
        return Envelopes.Ok(new SessionParticipantsDto(peers.Select(p => p.ToDto(now, withEvents ? SessionService.EventsOf(p) : null)).ToList()));
    }

    private static async Task<Ok<Envelope<SessionParticipantDetailsDto>>> Participant(ApiCaller caller, string session_id, string participant_id, HttpRequest request, SessionService sessions, TimeProvider time, CancellationToken ct)
    {
        var withEvents = new QueryReader(request.Query).Bool("include_peer_events") ?? false;
        var p = await sessions.PeerAsync(caller.AppId, Ids.Parse(session_id, "session_id"), Ids.Parse(participant_id, "participant_id"), ct);
        return Envelopes.Ok(new SessionParticipantDetailsDto(p.ToDto(time.GetUtcNow().UtcDateTime, withEvents ? SessionService.EventsOf(p) : null)));
    }

    private static async Task<Ok<Envelope<SessionDto>>> Active(ApiCaller caller, string meeting_id, SessionService sessions, ActiveSpeakers speakers, CancellationToken ct)
    {
        var s = await sessions.ActiveSessionAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), tracking: false, ct);
        var (live, minutes) = await sessions.StatsAsync(s.Id, ct);
        return Envelopes.Ok(s.ToDto(live, minutes, speakers.Current(s.MeetingId)));
    }

    private static async Task<Ok<Envelope<KickResultDto>>> Kick(ApiCaller caller, string meeting_id, KickRequest? body, SessionService sessions, RoomService rooms, TimeProvider time, CancellationToken ct)
    {
        var meetingId = Ids.Parse(meeting_id, "meeting_id");
        var peers = await sessions.KickAsync(caller.AppId, meetingId, body, ct);
        await rooms.KickAsync(meetingId, peers.Select(p => p.Id).ToList(), ct);
        var now = time.GetUtcNow().UtcDateTime;
        return Envelopes.Ok(new KickResultDto("kick", peers.Select(p => p.ToDto(now)).ToList()));
    }

    private static async Task<Ok<Envelope<KickResultDto>>> KickAll(ApiCaller caller, string meeting_id, SessionService sessions, RoomService rooms, TimeProvider time, CancellationToken ct)
    {
        var meetingId = Ids.Parse(meeting_id, "meeting_id");
        var peers = await sessions.KickAllAsync(caller.AppId, meetingId, ct);
        await rooms.DestroyAsync(meetingId, ct);
        var now = time.GetUtcNow().UtcDateTime;
        return Envelopes.Ok(new KickResultDto("kick-all", peers.Select(p => p.ToDto(now)).ToList()));
    }
}
