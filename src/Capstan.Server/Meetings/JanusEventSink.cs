using System.Text.Json;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Meetings;

/// <summary>Turns VideoRoom events from Janus's HTTP event handler into presence: <c>joined</c> of a feed the
/// server handed out is a peer joining (the first starts the session, and <c>record_on_start</c> starts a
/// recording); <c>leaving</c> and <c>kicked</c> are the peer leaving. The same events of a screen share's feed
/// (<see cref="ScreenShares"/>: not in the feed table) start and end the sharer's share span
/// (<see cref="SessionService.ShareStartedAsync"/>). <c>talking</c> and <c>stopped-talking</c> (which Janus names in
/// the data's <c>videoroom</c> rather than its <c>event</c>) of a camera feed move the meeting's active speaker
/// (<see cref="ActiveSpeakers"/>). Batches are handled one at a time.</summary>
public sealed partial class JanusEventSink(IServiceScopeFactory scopes, ScreenShares shares, ActiveSpeakers speakers, ILogger<JanusEventSink> logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task HandleAsync(JsonElement batch, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var events = batch.ValueKind == JsonValueKind.Array ? batch.EnumerateArray().ToList() : [batch];
            foreach (var e in events)
            {
                if (Talk(e) is { } talk)
                {
                    await TalkingAsync(talk.Room, talk.Feed, talk.Talking, ct);
                    continue;
                }
                if (!e.TryGetProperty("type", out var type) || type.GetInt32() != 64
                    || !e.TryGetProperty("event", out var ev) || ev.GetProperty("plugin").GetString() != "janus.plugin.videoroom"
                    || !ev.TryGetProperty("data", out var data) || !data.TryGetProperty("event", out var name)
                    || !data.TryGetProperty("room", out var roomElement) || !data.TryGetProperty("id", out var idElement)
                    || roomElement.ValueKind != JsonValueKind.Number || idElement.ValueKind != JsonValueKind.Number)
                {
                    continue;
                }
                var (room, feed) = (roomElement.GetInt64(), idElement.GetInt64());
                switch (name.GetString())
                {
                    case "joined":
                        await JoinedAsync(room, feed, ct);
                        break;
                    case "leaving" or "kicked":
                        await LeftAsync(room, feed, name.GetString() == "kicked" ? "KICKED" : "LEFT", ct);
                        break;
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A VideoRoom <c>talking</c> or <c>stopped-talking</c> event: its room, feed and which.</summary>
    private static (long Room, long Feed, bool Talking)? Talk(JsonElement e) =>
        e.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.Number && type.GetInt32() == 64
        && e.TryGetProperty("event", out var ev) && ev.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
        && data.TryGetProperty("videoroom", out var what) && what.GetString() is "talking" or "stopped-talking"
        && data.TryGetProperty("room", out var room) && room.ValueKind == JsonValueKind.Number
        && data.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number
            ? (room.GetInt64(), id.GetInt64(), what.GetString() == "talking")
            : null;

    private async Task TalkingAsync(long room, long feedId, bool talking, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        // Camera feeds only: a screen share's feed is not in the table, and its sound is not a speaker.
        var feed = await db.JanusFeeds.AsNoTracking().FirstOrDefaultAsync(f => f.FeedId == feedId && f.RoomId == room, ct);
        if (feed?.PeerId is { } peer)
        {
            speakers.Talking(feed.MeetingId, feedId, peer, talking);
            LogTalking(logger, peer, talking);
        }
    }

    private async Task JoinedAsync(long room, long feedId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var feed = await db.JanusFeeds.FirstOrDefaultAsync(f => f.FeedId == feedId && f.RoomId == room, ct);
        if (feed is null && shares.GrantOf(feedId) is { } share)
        {
            await scope.ServiceProvider.GetRequiredService<SessionService>().ShareStartedAsync(share.MeetingId, share.ParticipantId, feedId, ct);
            return;
        }
        if (feed is null || feed.PeerId is not null)
        {
            return;
        }
        var meeting = await db.Meetings.AsNoTracking().FirstOrDefaultAsync(m => m.Id == feed.MeetingId, ct);
        var participant = await db.Participants.AsNoTracking().FirstOrDefaultAsync(p => p.Id == feed.ParticipantId, ct);
        if (meeting is null || participant is null)
        {
            return;
        }
        var joined = await scope.ServiceProvider.GetRequiredService<SessionService>().JoinAsync(meeting, participant, feed.Hidden, ct);
        if (joined.Peer is null)
        {
            return;
        }
        feed.PeerId = joined.Peer.Id;
        await db.SaveChangesAsync(ct);
        LogJoined(logger, participant.Id, meeting.Id, joined.Peer.Id, feed.Hidden);
        if (joined.Started && meeting.RecordOnStart)
        {
            var recording = await scope.ServiceProvider.GetRequiredService<RecordingService>().StartOnSessionStartAsync(meeting, ct);
            if (recording is not null)
            {
                LogRecordOnStart(logger, recording.Id, meeting.Id);
            }
        }
    }

    private async Task LeftAsync(long room, long feedId, string reason, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var feed = await db.JanusFeeds.AsNoTracking().FirstOrDefaultAsync(f => f.FeedId == feedId && f.RoomId == room, ct);
        if (feed?.PeerId is { } peerId)
        {
            speakers.Left(feed.MeetingId, feedId);
            await scope.ServiceProvider.GetRequiredService<SessionService>().LeaveAsync(peerId, reason, ct);
            LogLeft(logger, peerId, reason);
        }
        else if (shares.GrantOf(feedId) is { } share)
        {
            await scope.ServiceProvider.GetRequiredService<SessionService>().ShareEndedAsync(share.MeetingId, feedId, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Participant {Participant} joined meeting {Meeting} as peer {Peer} (hidden: {Hidden})")]
    private static partial void LogJoined(ILogger logger, Guid participant, Guid meeting, Guid peer, bool hidden);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Peer {Peer} talking: {Talking}")]
    private static partial void LogTalking(ILogger logger, Guid peer, bool talking);

    [LoggerMessage(Level = LogLevel.Information, Message = "Peer {Peer} left ({Reason})")]
    private static partial void LogLeft(ILogger logger, Guid peer, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording {Recording} started on session start of meeting {Meeting}")]
    private static partial void LogRecordOnStart(ILogger logger, Guid recording, Guid meeting);
}
