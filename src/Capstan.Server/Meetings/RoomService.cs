using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Meetings;

/// <summary>One Janus VideoRoom per meeting: created when the first participant joins, destroyed when the
/// session ends. Rooms are private, need a random pin to join, and are managed with a random secret. With several
/// Janus instances a new room goes to the least loaded one (<see cref="JanusPlacement"/>, counted from the database all
/// nodes share), skipping one that does not answer; the placement is kept in <c>MeetingRooms.JanusUrl</c>, which is
/// also where the track recorder beside that Janus finds the meeting (<see cref="Recorder.JobQueue.ClaimAsync"/>).</summary>
public sealed partial class RoomService(CapstanDbContext db, JanusInstances instances, TimeProvider time, IOptions<JanusOptions> janusOptions, CapstanOptions options, ScreenShares shares, ActiveSpeakers speakers, ILogger<RoomService> logger)
{
    private static readonly TimeSpan WaitForJanus = TimeSpan.FromSeconds(15);

    // Joins of one meeting arriving together would each create a room; on one node they take turns here (the
    // unique index on MeetingRooms still settles races between nodes).
    private static readonly SemaphoreSlim CreateGate = new(1, 1);

    /// <summary>The meeting's room, created (or re-created after a Janus restart) as needed. With
    /// <paramref name="among"/> (Janus URLs), a room created here goes on one of those instances only (the native
    /// compositor's, beside its node); none of them up is <c>media_unavailable</c>. A room that exists stays where it is.</summary>
    public async Task<(MeetingRoomRow Room, JanusInstance Janus)> EnsureAsync(MeetingRow meeting, CancellationToken ct, IReadOnlyCollection<string>? among = null)
    {
        ArgumentNullException.ThrowIfNull(meeting);
        if (!janusOptions.Value.Enabled)
        {
            throw new CapstanException(ErrorCategory.Unavailable, "media_disabled", "media is disabled on this server (Janus:Enabled is false)");
        }
        var all = await instances.WaitAsync(WaitForJanus, ct);
        if (among is not null)
        {
            var keys = among.Select(JanusPlacement.Key).ToHashSet(StringComparer.Ordinal);
            all = [.. all.Where(i => keys.Contains(JanusPlacement.Key(i.Client.BaseUrl.ToString())))];
        }
        if (all.Count == 0)
        {
            throw new CapstanException(ErrorCategory.Unavailable, "media_unavailable", "the media server (Janus) is not available; try again shortly");
        }
        await CreateGate.WaitAsync(ct);
        try
        {
            return await EnsureLockedAsync(meeting, all, ct);
        }
        finally
        {
            CreateGate.Release();
        }
    }

    private async Task<(MeetingRoomRow Room, JanusInstance Janus)> EnsureLockedAsync(MeetingRow meeting, IReadOnlyList<JanusInstance> all, CancellationToken ct)
    {
        var row = await db.MeetingRooms.FirstOrDefaultAsync(r => r.MeetingId == meeting.Id, ct);
        if (row is not null)
        {
            if (instances.Find(row.JanusUrl) is { } existing && await ExistsAsync(existing, row.RoomId, ct))
            {
                return (row, existing);
            }
            db.MeetingRooms.Remove(row);
            await db.SaveChangesAsync(ct);
        }

        // Placement by load (JanusPlacement): the least loaded instance first; one that does not answer is skipped.
        var loads = await LoadsAsync(ct);
        JanusInstance? janus = null;
        row = null;
        foreach (var candidate in JanusPlacement.Order(all, loads))
        {
            var attempt = NewRow(meeting, candidate);
            try
            {
                await CreateRoomAsync(candidate, attempt, meeting, ct);
                (janus, row) = (candidate, attempt);
                break;
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
            {
                LogInstanceSkipped(logger, candidate.Client.BaseUrl, meeting.Id, e.Message);
            }
        }
        if (janus is null || row is null)
        {
            throw new CapstanException(ErrorCategory.Unavailable, "media_unavailable", "no media server (Janus) is answering; try again shortly");
        }
        db.MeetingRooms.Add(row);
        try
        {
            await db.SaveChangesAsync(ct);
            LogRoomCreated(logger, row.RoomId, meeting.Id);
            return (row, janus);
        }
        catch (DbUpdateException)
        {
            // Another join created the meeting's room first: drop ours and use theirs.
            db.ChangeTracker.Clear();
            await TryDestroyAsync(janus, row, ct);
            var winner = await db.MeetingRooms.FirstAsync(r => r.MeetingId == meeting.Id, ct);
            return (winner, instances.Find(winner.JanusUrl) ?? janus);
        }
    }

    /// <summary>Destroys the meeting's room (everyone in it is disconnected) and forgets its feeds.</summary>
    public async Task DestroyAsync(Guid meetingId, CancellationToken ct)
    {
        var row = await db.MeetingRooms.FirstOrDefaultAsync(r => r.MeetingId == meetingId, ct);
        if (row is null)
        {
            return;
        }
        if (instances.Find(row.JanusUrl) is { } janus)
        {
            await TryDestroyAsync(janus, row, ct);
        }
        db.MeetingRooms.Remove(row);
        await db.JanusFeeds.Where(f => f.MeetingId == meetingId).ExecuteDeleteAsync(ct);
        await db.SaveChangesAsync(ct);
        shares.Forget(meetingId);
        speakers.Forget(meetingId);
        LogRoomDestroyed(logger, row.RoomId, meetingId);
    }

    /// <summary>Removes the given peers from the meeting's room at once.</summary>
    public async Task KickAsync(Guid meetingId, IReadOnlyCollection<Guid> peerIds, CancellationToken ct)
    {
        var row = await db.MeetingRooms.AsNoTracking().FirstOrDefaultAsync(r => r.MeetingId == meetingId, ct);
        if (row is null || peerIds.Count == 0 || instances.Find(row.JanusUrl) is not { } janus)
        {
            return;
        }
        var feeds = await db.JanusFeeds.AsNoTracking().Where(f => f.MeetingId == meetingId && f.PeerId != null && peerIds.Contains(f.PeerId.Value)).Select(f => f.FeedId).ToListAsync(ct);
        // Their screen shares go with them (a share is a feed of its own, unknown to the feed table).
        var participants = await db.SessionPeers.AsNoTracking().Where(p => peerIds.Contains(p.Id) && p.ParticipantId != null).Select(p => p.ParticipantId!.Value).ToListAsync(ct);
        feeds.AddRange(shares.ReleaseAll(meetingId, participants));
        foreach (var feed in feeds)
        {
            try
            {
                await janus.Client.VideoRoomAsync(new JsonObject { ["request"] = "kick", ["room"] = row.RoomId, ["secret"] = row.Secret, ["id"] = feed }, ct);
            }
            catch (JanusException e)
            {
                LogJanusRequestFailed(logger, "kick", e.Message);
            }
        }
    }

    /// <summary>Destroys rooms whose meeting has no live session and that are older than <paramref name="grace"/>
    /// (a join that never reached Janus, a session ended while Janus was away).</summary>
    public async Task<int> CollectOrphansAsync(TimeSpan grace, CancellationToken ct)
    {
        var before = time.GetUtcNow().UtcDateTime - grace;
        var orphans = await db.MeetingRooms.AsNoTracking()
            .Where(r => r.CreatedAt < before && !db.Sessions.Any(s => s.MeetingId == r.MeetingId && s.Status == SessionService.Live))
            .Select(r => r.MeetingId).ToListAsync(ct);
        foreach (var meeting in orphans)
        {
            await DestroyAsync(meeting, ct);
        }
        return orphans.Count;
    }

    /// <summary>Each instance's load from the shared database (keyed by <see cref="JanusPlacement.Key"/>): its rooms,
    /// and the participants connected now (peers not left, in live sessions, of meetings whose room is on it; the
    /// recorder's hidden peer too, as Janus serves it like anyone).</summary>
    public async Task<IReadOnlyDictionary<string, JanusLoad>> LoadsAsync(CancellationToken ct)
    {
        var rooms = await db.MeetingRooms.AsNoTracking().GroupBy(r => r.JanusUrl).Select(g => new { Url = g.Key, Count = g.Count() }).ToListAsync(ct);
        var peers = await (
            from p in db.SessionPeers.AsNoTracking()
            join s in db.Sessions.AsNoTracking() on p.SessionId equals s.Id
            join r in db.MeetingRooms.AsNoTracking() on s.MeetingId equals r.MeetingId
            where p.LeftAt == null && s.Status == SessionService.Live
            group p by r.JanusUrl into g
            select new { Url = g.Key, Count = g.Count() }).ToListAsync(ct);
        var loads = new Dictionary<string, JanusLoad>(StringComparer.Ordinal);
        foreach (var r in rooms)
        {
            var key = JanusPlacement.Key(r.Url);
            var l = loads.GetValueOrDefault(key);
            loads[key] = l with { Rooms = l.Rooms + r.Count };
        }
        foreach (var p in peers)
        {
            var key = JanusPlacement.Key(p.Url);
            var l = loads.GetValueOrDefault(key);
            loads[key] = l with { Participants = l.Participants + p.Count };
        }
        return loads;
    }

    private MeetingRoomRow NewRow(MeetingRow meeting, JanusInstance janus) => new()
    {
        MeetingId = meeting.Id,
        RoomId = RandomNumberGenerator.GetInt32(1, int.MaxValue) * 1024L + RandomNumberGenerator.GetInt32(0, 1024),
        JanusUrl = janus.Client.BaseUrl.ToString(),
        Pin = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
        Secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
        CreatedAt = time.GetUtcNow().UtcDateTime,
    };

    private async Task CreateRoomAsync(JanusInstance janus, MeetingRoomRow row, MeetingRow meeting, CancellationToken ct)
    {
        var recordings = janusOptions.Value.RecordingsDir ?? Path.Combine(options.DataDir, "janus", "recordings");
        await janus.Client.VideoRoomAsync(new JsonObject
        {
            ["request"] = "create",
            ["room"] = row.RoomId,
            ["admin_key"] = janus.Client.AdminKey,
            ["description"] = meeting.Id.ToString("D"),
            ["pin"] = row.Pin,
            ["secret"] = row.Secret,
            ["is_private"] = true,
            ["publishers"] = 25,
            ["audiocodec"] = "opus",
            ["videocodec"] = "vp8,h264",
            ["bitrate"] = 1_000_000,
            ["fir_freq"] = 5,
            ["notify_joining"] = false,
            ["record"] = false,
            ["rec_dir"] = recordings,
            ["permanent"] = false,
            // talking / stopped-talking events for the active speaker (ActiveSpeaker: why these thresholds).
            ["audiolevel_ext"] = true,
            ["audiolevel_event"] = true,
            ["audio_active_packets"] = ActiveSpeaker.AudioActivePackets,
            ["audio_level_average"] = ActiveSpeaker.AudioLevelAverage,
        }, ct);
    }

    private async Task<bool> ExistsAsync(JanusInstance janus, long room, CancellationToken ct)
    {
        try
        {
            var r = await janus.Client.VideoRoomAsync(new JsonObject { ["request"] = "exists", ["room"] = room }, ct);
            return r["exists"]?.GetValue<bool>() == true;
        }
        catch (Exception e) when (e is JanusException or HttpRequestException)
        {
            return false;
        }
    }

    private async Task TryDestroyAsync(JanusInstance janus, MeetingRoomRow row, CancellationToken ct)
    {
        try
        {
            await janus.Client.VideoRoomAsync(new JsonObject { ["request"] = "destroy", ["room"] = row.RoomId, ["secret"] = row.Secret }, ct);
        }
        catch (Exception e) when (e is JanusException or HttpRequestException)
        {
            LogJanusRequestFailed(logger, "destroy", e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {Room} created for meeting {Meeting}")]
    private static partial void LogRoomCreated(ILogger logger, long room, Guid meeting);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Janus {Url} did not answer; the room of meeting {Meeting} goes to the next instance by load: {Reason}")]
    private static partial void LogInstanceSkipped(ILogger logger, Uri url, Guid meeting, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Room {Room} of meeting {Meeting} destroyed")]
    private static partial void LogRoomDestroyed(ILogger logger, long room, Guid meeting);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Janus {Request} failed: {Reason}")]
    private static partial void LogJanusRequestFailed(ILogger logger, string request, string reason);
}
