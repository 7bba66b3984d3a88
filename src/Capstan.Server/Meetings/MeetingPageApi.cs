using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Meetings;

public sealed class JoinRequest
{
    public string? AuthToken { get; set; }
}

/// <summary>The page asks for a screen share slot (<c>start</c>) or gives it back (<c>stop</c>).</summary>
public sealed class ScreenShareRequest
{
    public string? AuthToken { get; set; }

    public string? Action { get; set; }
}

/// <summary>The answer to <c>start</c>: the feed id and display the share publishes under; to <c>stop</c>: whether a
/// slot was given back (FeedId 0, Display empty, Sharing false).</summary>
public sealed record ScreenShareResponse(long FeedId, string Display, bool Sharing);

/// <summary>What the meeting page needs to join the meeting's Janus room. Only a valid participant token gets it.
/// <c>IceServers</c>: the TURN server with a time-limited credential of this participant (<c>Turn:*</c>; empty
/// without TURN, and for the recorder, which runs beside Janus). <c>CanShareScreen</c> and <c>MaxScreenshareCount</c>:
/// the preset's <c>permissions.media.screenshare.can_produce</c> and <c>config.max_screenshare_count</c>.</summary>
public sealed record JoinResponse(
    string MeetingId, string? MeetingTitle, string ParticipantId, string DisplayName, string PresetName, bool Recorder,
    long Room, string Pin, long FeedId, string JanusPath, IReadOnlyList<IceServer> IceServers,
    bool CanShareScreen, int MaxScreenshareCount);

/// <summary>The meeting page (<c>/meeting?authToken=...</c>), its join call, the Janus proxy browsers talk to,
/// the Debian janus.js and adapter.js, and the endpoint Janus posts its events to.</summary>
public static class MeetingPageApi
{
    private const string JanusJs = "/usr/share/javascript/janus-gateway/janus.js";
    private const string AdapterJs = "/usr/share/javascript/webrtc-adapter/adapter.js";

    public static WebApplication MapMeetingPages(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var web = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        app.MapGet("/meeting", () => Results.File(Path.Combine(web, "meeting.html"), "text/html; charset=utf-8")).ExcludeFromDescription();
        app.MapGet("/meeting/{file:regex(^[a-z-]+\\.(js|css)$)}", (string file) =>
            Results.File(Path.Combine(web, "meeting", file), file.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8"))
            .ExcludeFromDescription();
        app.MapGet("/lib/janus.js", () => Results.File(JanusJs, "text/javascript; charset=utf-8")).ExcludeFromDescription();
        app.MapGet("/lib/adapter.js", () => Results.File(AdapterJs, "text/javascript; charset=utf-8")).ExcludeFromDescription();
        app.MapPost("/meeting-api/join", JoinAsync).ExcludeFromDescription();
        app.MapPost("/meeting-api/screenshare", ScreenShareAsync).ExcludeFromDescription();
        app.MapPost("/meeting-api/broadcast", BroadcastAsync).ExcludeFromDescription();
        app.MapGet("/meeting-api/broadcasts", ListenAsync).ExcludeFromDescription();
        app.MapMethods("/janus/{**rest}", ["GET", "POST"], ProxyAsync).ExcludeFromDescription();
        app.MapMethods("/janus", ["GET", "POST"], ProxyAsync).ExcludeFromDescription();
        app.MapPost("/internal/janus-events", EventsAsync).ExcludeFromDescription();
        app.MapMethods("/internal/turn-credentials", ["GET", "POST"], TurnCredentialsAsync).ExcludeFromDescription();
        return app;
    }

    /// <summary>Checks the participant token and hands out the room pin and a feed id the server will recognise
    /// in Janus's events. 401: missing, invalid or expired token, or a deleted participant; 403: meeting INACTIVE.</summary>
    private static async Task<Ok<Envelope<JoinResponse>>> JoinAsync(
        JoinRequest? body, ParticipantTokens tokens, CapstanDbContext db, RoomService rooms, TurnService turn, TimeProvider time, CancellationToken ct)
    {
        var (meeting, participant) = await ParticipantOfAsync(body?.AuthToken, tokens, db, ct);
        var (room, janus) = await rooms.EnsureAsync(meeting, ct);
        var recorder = Presets.IsRecorder(participant.PresetName);
        var feed = new JanusFeedRow
        {
            FeedId = RandomNumberGenerator.GetInt32(1, int.MaxValue) * 1024L + RandomNumberGenerator.GetInt32(0, 1024),
            MeetingId = meeting.Id,
            RoomId = room.RoomId,
            ParticipantId = participant.Id,
            Hidden = recorder,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        };
        db.JanusFeeds.Add(feed);
        await db.SaveChangesAsync(ct);
        return TypedResults.Ok(new Envelope<JoinResponse>(true, new JoinResponse(
            Ids.Format(meeting.Id), meeting.Title, Ids.Format(participant.Id), participant.Name ?? participant.CustomParticipantId,
            participant.PresetName, recorder, room.RoomId, room.Pin, feed.FeedId, janus.BrowserPath,
            recorder ? [] : turn.IceServersFor(Ids.Format(participant.Id)),
            Presets.CanShareScreen(participant.PresetName), Presets.MaxScreenshareCount(participant.PresetName))));
    }

    /// <summary>The meeting and participant of a page's token, as the join checks them (401, or 403 when INACTIVE).</summary>
    private static async Task<(MeetingRow Meeting, ParticipantRow Participant)> ParticipantOfAsync(string? authToken, ParticipantTokens tokens, CapstanDbContext db, CancellationToken ct)
    {
        var claims = await tokens.VerifyAsync(authToken, ct)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "invalid_token", "This meeting link is not valid or has expired. Ask the organiser for a new one.");
        var meeting = await db.Meetings.AsNoTracking().FirstOrDefaultAsync(m => m.Id == claims.MeetingId && m.AppId == claims.AppId, ct)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "invalid_token", "This meeting no longer exists.");
        var participant = await db.Participants.AsNoTracking().FirstOrDefaultAsync(p => p.Id == claims.ParticipantId && p.MeetingId == meeting.Id, ct)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "invalid_token", "You are no longer a participant of this meeting.");
        if (meeting.Status != MeetingService.Active)
        {
            throw new CapstanException(ErrorCategory.Forbidden, "meeting_inactive", "This meeting is INACTIVE: it cannot be joined.");
        }
        return (meeting, participant);
    }

    /// <summary>Screen share slots (<see cref="ScreenShares"/>): <c>start</c> grants one (403 when the preset may not
    /// share, 409 when the meeting has as many shares as allowed, with a message that says who shares), <c>stop</c>
    /// gives it back. The room's live publishers are read from Janus, so slots of pages that went away are not counted.</summary>
    private static async Task<Ok<Envelope<ScreenShareResponse>>> ScreenShareAsync(
        ScreenShareRequest? body, ParticipantTokens tokens, CapstanDbContext db, JanusInstances instances, ScreenShares shares, CancellationToken ct)
    {
        var (meeting, participant) = await ParticipantOfAsync(body?.AuthToken, tokens, db, ct);
        switch (body?.Action)
        {
            case "stop":
                shares.Release(meeting.Id, participant.Id);
                return TypedResults.Ok(new Envelope<ScreenShareResponse>(true, new ScreenShareResponse(0, string.Empty, false)));
            case "start":
                var live = await LivePublishersAsync(meeting.Id, db, instances, ct);
                var grant = shares.Grant(meeting.Id, participant.Id, participant.PresetName, participant.Name ?? participant.CustomParticipantId, live);
                return TypedResults.Ok(new Envelope<ScreenShareResponse>(true, new ScreenShareResponse(grant.FeedId, grant.Display, true)));
            default:
                throw new CapstanException(ErrorCategory.Validation, "invalid_action", "action must be 'start' or 'stop'");
        }
    }

    /// <summary>The page's <c>broadcastMessage(type, payload)</c>: kept with the live session and delivered to every
    /// other page of the meeting (<see cref="BroadcastService.SendAsync"/>: 400, 413, 404 without a live session).
    /// <c>client_id</c> is the id the page listens under, so that its own message is not echoed back to it.</summary>
    private static async Task<Ok<Envelope<BroadcastDto>>> BroadcastAsync(
        PageBroadcastRequest? body, ParticipantTokens tokens, CapstanDbContext db, BroadcastService broadcasts, CancellationToken ct)
    {
        var (meeting, participant) = await ParticipantOfAsync(body?.AuthToken, tokens, db, ct);
        return TypedResults.Ok(new Envelope<BroadcastDto>(true,
            await broadcasts.SendAsync(meeting.AppId, meeting.Id, body?.Type, body?.Payload, participant.Id, body?.ClientId, ct)));
    }

    /// <summary>The meeting's broadcast messages as they arrive, as server-sent events (<c>event: broadcast</c>, the
    /// message as JSON in <c>data</c>; <c>event: ready</c> once listening; a comment every 15 s keeps proxies from
    /// closing an idle stream). Why server-sent events rather than Janus data channels: a message is stored with the
    /// server's time of receipt anyway (an interactive recording places it by that time), REST senders have no
    /// peer connection, and one HTTP stream on the page's own origin needs no extra negotiation with Janus; the
    /// browser's <c>EventSource</c> reconnects by itself. <c>?auth_token=</c> (the page's token; 401/403 as the
    /// join) and <c>client_id</c> (the page's own id, whose messages are not sent back to it).</summary>
    private static async Task ListenAsync(HttpContext context, ParticipantTokens tokens, CapstanDbContext db, BroadcastHub hub, IHostApplicationLifetime lifetime, CancellationToken aborted)
    {
        // The stream ends when the page goes or the server stops (a shutdown does not wait for open pages).
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, lifetime.ApplicationStopping);
        var ct = linked.Token;
        var (meeting, _) = await ParticipantOfAsync(context.Request.Query["auth_token"].FirstOrDefault(), tokens, db, ct);
        using var subscription = hub.Subscribe(meeting.Id, context.Request.Query["client_id"].FirstOrDefault());
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.WriteAsync("event: ready\ndata: {}\n\n", ct);
        await response.Body.FlushAsync(ct);
        using var heartbeat = new PeriodicTimer(TimeSpan.FromSeconds(15));
        var tick = heartbeat.WaitForNextTickAsync(ct).AsTask();
        try
        {
            var next = subscription.Reader.WaitToReadAsync(ct).AsTask();
            while (true)
            {
                if (await Task.WhenAny(next, tick) == tick)
                {
                    await tick;
                    await response.WriteAsync(": keep-alive\n\n", ct);
                    await response.Body.FlushAsync(ct);
                    tick = heartbeat.WaitForNextTickAsync(ct).AsTask();
                    continue;
                }
                if (!await next)
                {
                    return;
                }
                while (subscription.Reader.TryRead(out var ev))
                {
                    await response.WriteAsync("event: broadcast\nid: " + ev.Message.Id + "\ndata: " + JsonSerializer.Serialize(ev.Message, CapstanJson.Options) + "\n\n", ct);
                }
                await response.Body.FlushAsync(ct);
                next = subscription.Reader.WaitToReadAsync(ct).AsTask();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the page went away
        }
    }

    /// <summary>The feed ids publishing in the meeting's room (VideoRoom <c>listparticipants</c>), or null when there is
    /// no room or Janus cannot be asked.</summary>
    private static async Task<IReadOnlySet<long>?> LivePublishersAsync(Guid meetingId, CapstanDbContext db, JanusInstances instances, CancellationToken ct)
    {
        var room = await db.MeetingRooms.AsNoTracking().FirstOrDefaultAsync(r => r.MeetingId == meetingId, ct);
        if (room is null || instances.Find(room.JanusUrl) is not { } janus)
        {
            return null;
        }
        try
        {
            var data = await janus.Client.VideoRoomAsync(new System.Text.Json.Nodes.JsonObject { ["request"] = "listparticipants", ["room"] = room.RoomId }, ct);
            return (data["participants"] as System.Text.Json.Nodes.JsonArray ?? [])
                .Where(p => p?["publisher"]?.GetValue<bool>() == true && p["id"] is not null)
                .Select(p => p!["id"]!.GetValue<long>()).ToHashSet();
        }
        catch (Exception e) when (e is JanusException or HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Forwards the Janus HTTP API (sessions, handles, long polls) to the local Janus, so browsers reach
    /// media signalling on the server's own origin.</summary>
    private static async Task ProxyAsync(HttpContext context, JanusInstances instances, IHttpClientFactory clients, string? rest = null)
    {
        var janus = instances.All.FirstOrDefault(i => i.BrowserPath == "/janus");
        if (janus is null)
        {
            throw new CapstanException(ErrorCategory.Unavailable, "media_unavailable", "the media server (Janus) is not available");
        }
        var target = new Uri(janus.Client.BaseUrl + (rest is null ? string.Empty : "/" + rest) + context.Request.QueryString);
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), target);
        if (HttpMethods.IsPost(context.Request.Method))
        {
            request.Content = new StreamContent(context.Request.Body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }
        using var response = await clients.CreateClient("janus-proxy").SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    /// <summary>Janus's TURN REST API client (<c>turn_rest_api</c>, draft-uberti-behave-turn-rest-00) asks here for
    /// the credential of each connection it sets up: <c>?service=turn&amp;username=...&amp;key=...</c>, where the key is
    /// the instance's event-handler password (for external instances, <c>Janus:EventsPassword</c>). 404 without TURN.</summary>
    private static async Task<IResult> TurnCredentialsAsync(HttpContext context, JanusInstances instances, TurnService turn)
    {
        var query = context.Request.Query;
        string? key = query["key"].FirstOrDefault() ?? query["api"].FirstOrDefault(), user = query["username"].FirstOrDefault(), service = query["service"].FirstOrDefault();
        if (context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            key ??= form["key"].FirstOrDefault() ?? form["api"].FirstOrDefault();
            user ??= form["username"].FirstOrDefault();
            service ??= form["service"].FirstOrDefault();
        }
        var ok = key is not null && instances.All.Any(i => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(i.EventsPassword)));
        if (!ok)
        {
            throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "a Janus instance's key is required");
        }
        if (!turn.Options.Enabled || turn.Options.TurnUrls.Count == 0)
        {
            throw CapstanException.NotFound("no TURN server is configured (Turn:Urls)");
        }
        if (service is not null && service != "turn")
        {
            throw new CapstanException(ErrorCategory.Validation, "invalid_service", "service must be 'turn'");
        }
        context.Response.Headers.CacheControl = "no-store";
        return Results.Json(turn.ForJanus(user), CapstanJson.Options);
    }

    /// <summary>Janus's HTTP event handler posts here, with basic auth (user <c>janus</c>, a per-instance password).</summary>
    private static async Task<IResult> EventsAsync(HttpContext context, JanusInstances instances, JanusEventSink sink, CancellationToken ct)
    {
        var auth = context.Request.Headers.Authorization.ToString();
        var ok = false;
        if (auth.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..].Trim()));
                ok = instances.All.Any(i => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(pair), Encoding.UTF8.GetBytes("janus:" + i.EventsPassword)));
            }
            catch (FormatException)
            {
                ok = false;
            }
        }
        if (!ok)
        {
            throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "event handler credentials required");
        }
        using var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: ct);
        await sink.HandleAsync(doc.RootElement, ct);
        return Results.Ok();
    }
}
