using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

public static class MeetingsApi
{
    public static RouteGroupBuilder MapMeetingsApi(this RouteGroupBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var g = app.MapGroup("/meetings").WithTags("Meetings");
        g.MapPost("", Create).WithName("meetings.create").Produces<Envelope<MeetingDto>>(StatusCodes.Status201Created);
        g.MapGet("", List).WithName("meetings.get").WithQuery(OpenApiDocs.PageNo, OpenApiDocs.PerPage, new("search", "string", "Match on meeting id or title"), new("start_time", "date-time", "Created at or after"), new("end_time", "date-time", "Created at or before"), new("status", "string", "ACTIVE or INACTIVE", MeetingService.Statuses));
        g.MapGet("/{meeting_id}", Get).WithName("meetings.getMeetingByID");
        g.MapPatch("/{meeting_id}", Patch).WithName("meetings.updateMeetingByID");
        g.MapPut("/{meeting_id}", Put).WithName("meetings.replaceMeetingByID");
        g.MapPost("/{meeting_id}/broadcast", Broadcast).WithName("meetings.broadcastMessage")
            .WithSummary("Send a broadcast message to the meeting's live session (Capstan extension)")
            .WithDescription("Body {type, payload}: payload is any JSON value of at most 16 KiB serialized (413 above; 400 without type or payload; 404 without a live session). "
                + "The message is kept with the session with the server's time of receipt and delivered to every page in the meeting "
                + "(window.capstanMeeting.on(\"broadcast\", handler)). An interactive recording (interactive_config {type: ID3}) turns each ID3Data message "
                + "received while it records, until a CLOSE_TRANSPORT message, into a timed ID3 tag.");

        var p = g.MapGroup("/{meeting_id}/participants").WithTags("Participants");
        p.MapPost("", AddParticipant).WithName("meetings.addParticipant").Produces<Envelope<ParticipantDto>>(StatusCodes.Status201Created);
        p.MapGet("", ListParticipants).WithName("meetings.getMeetingParticipants").WithQuery(OpenApiDocs.PageNo, OpenApiDocs.PerPage);
        p.MapGet("/{participant_id}", GetParticipant).WithName("meetings.getMeetingParticipant");
        p.MapPatch("/{participant_id}", EditParticipant).WithName("meetings.editParticipant");
        p.MapDelete("/{participant_id}", DeleteParticipant).WithName("meetings.deleteMeetingParticipant");
        p.MapPost("/{participant_id}/token", RefreshToken).WithName("meetings.refreshParticipantToken");
        return app;
    }

    private static async Task<JsonHttpResult<Envelope<MeetingDto>>> Create(ApiCaller caller, MeetingRequest? body, MeetingService meetings, CancellationToken ct) =>
        Envelopes.Created((await meetings.CreateAsync(caller.AppId, body, ct)).ToDto());

    private static async Task<Ok<PagedEnvelope<List<MeetingDto>>>> List(ApiCaller caller, HttpRequest request, MeetingService meetings, CancellationToken ct)
    {
        var q = new QueryReader(request.Query);
        var page = q.Page();
        var (items, total) = await meetings.ListAsync(caller.AppId, q.String("search"), q.Time("start_time"), q.Time("end_time"), q.OneOf("status", MeetingService.Statuses), page, ct);
        return Envelopes.Page(items.Select(m => m.ToDto(withAiConfig: false)).ToList(), page.PagingFor(total, items.Count));
    }

    private static async Task<Ok<Envelope<MeetingDto>>> Get(ApiCaller caller, string meeting_id, MeetingService meetings, CancellationToken ct) =>
        Envelopes.Ok((await meetings.FindAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), tracking: false, ct)).ToDto());

    private static async Task<Ok<Envelope<MeetingDto>>> Patch(ApiCaller caller, string meeting_id, MeetingRequest? body, MeetingService meetings, CancellationToken ct) =>
        Envelopes.Ok((await meetings.UpdateAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), body, replace: false, ct)).ToDto());

    private static async Task<Ok<Envelope<MeetingDto>>> Put(ApiCaller caller, string meeting_id, MeetingRequest? body, MeetingService meetings, CancellationToken ct) =>
        Envelopes.Ok((await meetings.UpdateAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), body, replace: true, ct)).ToDto());

    /// <summary>A server sends a broadcast message to the meeting's live session (Capstan extension; see
    /// <see cref="Meetings.BroadcastService.SendAsync"/>).</summary>
    private static async Task<Ok<Envelope<Meetings.BroadcastDto>>> Broadcast(ApiCaller caller, string meeting_id, Meetings.BroadcastRequest? body, Meetings.BroadcastService broadcasts, CancellationToken ct) =>
        Envelopes.Ok(await broadcasts.SendAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), body?.Type, body?.Payload, null, null, ct));

    private static async Task<JsonHttpResult<Envelope<ParticipantDto>>> AddParticipant(ApiCaller caller, string meeting_id, AddParticipantRequest? body, MeetingService meetings, CancellationToken ct)
    {
        var (p, token) = await meetings.AddParticipantAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), body, ct);
        return Envelopes.Created(p.ToDto(token));
    }

    private static async Task<Ok<PagedEnvelope<List<ParticipantDto>>>> ListParticipants(ApiCaller caller, string meeting_id, HttpRequest request, MeetingService meetings, CancellationToken ct)
    {
        var page = new QueryReader(request.Query).Page();
        var (items, total) = await meetings.ListParticipantsAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), page, ct);
        return Envelopes.Page(items.Select(p => p.ToDto()).ToList(), page.PagingFor(total, items.Count));
    }

    private static async Task<Ok<Envelope<ParticipantDto>>> GetParticipant(ApiCaller caller, string meeting_id, string participant_id, MeetingService meetings, CancellationToken ct) =>
        Envelopes.Ok((await meetings.FindParticipantAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), Ids.Parse(participant_id, "participant_id"), tracking: false, ct)).ToDto());

    private static async Task<Ok<Envelope<ParticipantDto>>> EditParticipant(ApiCaller caller, string meeting_id, string participant_id, EditParticipantRequest? body, MeetingService meetings, CancellationToken ct)
    {
        var (p, token) = await meetings.EditParticipantAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), Ids.Parse(participant_id, "participant_id"), body, ct);
        return Envelopes.Ok(p.ToDto(token));
    }

    private static async Task<Ok<Envelope<DeletedParticipantDto>>> DeleteParticipant(ApiCaller caller, string meeting_id, string participant_id, MeetingService meetings, CancellationToken ct)
    {
        var p = await meetings.DeleteParticipantAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), Ids.Parse(participant_id, "participant_id"), ct);
        return Envelopes.Ok(new DeletedParticipantDto(p.CreatedAt, p.CustomParticipantId, Ids.Format(Presets.IdOf(caller.AppId, p.PresetName)), p.UpdatedAt));
    }

    private static async Task<Ok<Envelope<ParticipantTokenDto>>> RefreshToken(ApiCaller caller, string meeting_id, string participant_id, MeetingService meetings, CancellationToken ct) =>
        Envelopes.Ok(new ParticipantTokenDto(await meetings.RefreshTokenAsync(caller.AppId, Ids.Parse(meeting_id, "meeting_id"), Ids.Parse(participant_id, "participant_id"), ct)));
}
