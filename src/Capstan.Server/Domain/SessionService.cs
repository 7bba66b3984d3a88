using Capstan.Contracts;
using Capstan.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Domain;

/// <summary>Sessions (live instances of a meeting), their peers, presence and kicks. Presence (join, leave,
/// idle end) is driven by the media layer; the queries serve the sessions and active-session routes.</summary>
/// <summary>The outcome of a join: the live session and the peer (null for a hidden peer when no session is
/// live), and whether this join started the session.</summary>
public sealed record JoinResult(SessionRow? Session, SessionPeerRow? Peer, bool Started);

public sealed class SessionService(CapstanDbContext db, TimeProvider time, RecordingLifecycle lifecycle, RecorderSignals? signals = null)
{
    public const string Live = "LIVE";
    public const string Ended = "ENDED";
    public static readonly IReadOnlyList<string> Statuses = [Live, Ended];

    /// <summary>A peer joins the meeting's room: the first visible join starts a LIVE session. Hidden peers (the
    /// recorder) are recorded in a live session but do not count for presence, raise no participant events and
    /// never start a session (then <see cref="JoinResult.Session"/> is null).</summary>
    public async Task<JoinResult> JoinAsync(MeetingRow meeting, ParticipantRow participant, bool hidden, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(meeting);
        ArgumentNullException.ThrowIfNull(participant);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var now = Now;
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.MeetingId == meeting.Id && s.Status == Live, ct);
        var started = false;
        if (session is null && hidden)
        {
            return new JoinResult(null, null, false);
        }
        if (session is null)
        {
            session = new SessionRow
            {
                Id = Guid.NewGuid(), AppId = meeting.AppId, MeetingId = meeting.Id, MeetingTitle = meeting.Title,
                Status = Live, CreatedAt = now, UpdatedAt = now, StartedAt = now,
            };
            db.Sessions.Add(session);
            started = true;
        }
        var peer = new SessionPeerRow
        {
            Id = Guid.NewGuid(), SessionId = session.Id, AppId = meeting.AppId, ParticipantId = participant.Id,
            CustomParticipantId = participant.CustomParticipantId, DisplayName = participant.Name,
            PresetName = participant.PresetName, Hidden = hidden, JoinedAt = now,
        };
        db.SessionPeers.Add(peer);
        if (!hidden)
        {
            session.EmptySince = null;
            var live = 1 + await db.SessionPeers.CountAsync(p => p.SessionId == session.Id && p.LeftAt == null && !p.Hidden, ct);
            session.MaxConcurrentParticipants = Math.Max(session.MaxConcurrentParticipants, live);
        }
        session.UpdatedAt = now;
        if (started)
        {
            WebhookEvents.Enqueue(db, meeting.AppId, WebhookEvents.MeetingStarted, new Dictionary<string, object?> { ["event"] = WebhookEvents.MeetingStarted, ["meeting"] = WebhookEvents.MeetingPayload(meeting, session) }, now);
        }
        if (!hidden)
        {
            WebhookEvents.Enqueue(db, meeting.AppId, WebhookEvents.ParticipantJoined, ParticipantEvent(WebhookEvents.ParticipantJoined, meeting, session, peer), now);
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new JoinResult(session, peer, started);
    }

    /// <summary>A peer leaves. When the last visible peer is gone the session starts its keep-alive countdown.</summary>
    public async Task LeaveAsync(Guid peerId, string reason, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var peer = await db.SessionPeers.FirstOrDefaultAsync(p => p.Id == peerId, ct);
        if (peer is null || peer.LeftAt is not null)
        {
            return;
        }
        var session = await db.Sessions.FirstAsync(s => s.Id == peer.SessionId, ct);
        var meeting = await db.Meetings.AsNoTracking().FirstAsync(m => m.Id == session.MeetingId, ct);
        MarkLeft(meeting, session, peer, reason);
        if (!peer.Hidden && !await db.SessionPeers.AnyAsync(p => p.SessionId == session.Id && p.Id != peer.Id && p.LeftAt == null && !p.Hidden, ct))
        {
            session.EmptySince = Now;
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>A screen share's feed began publishing: a span opens on the sharer's current peer in the meeting's
    /// live session (a share seen twice opens one span).</summary>
    public async Task ShareStartedAsync(Guid meetingId, Guid participantId, long feedId, CancellationToken ct)
    {
        var peer = await db.SessionPeers.Where(p => p.ParticipantId == participantId && p.LeftAt == null
                && db.Sessions.Any(s => s.Id == p.SessionId && s.MeetingId == meetingId && s.Status == Live))
            .OrderByDescending(p => p.JoinedAt).FirstOrDefaultAsync(ct);
        if (peer is null)
        {
            return;
        }
        var spans = SharesOf(peer);
        if (spans.Any(x => x.FeedId == feedId))
        {
            return;
        }
        spans.Add(new ScreenShareSpan { FeedId = feedId, StartedAt = Now });
        peer.ScreenSharesJson = Mapping.Write(spans);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>A screen share's feed left the room: its span closes.</summary>
    public async Task ShareEndedAsync(Guid meetingId, long feedId, CancellationToken ct)
    {
        var needle = feedId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var candidates = await db.SessionPeers.Where(p => p.ScreenSharesJson != null && p.ScreenSharesJson.Contains(needle)
                && db.Sessions.Any(s => s.Id == p.SessionId && s.MeetingId == meetingId)).ToListAsync(ct);
        foreach (var peer in candidates)
        {
            var spans = SharesOf(peer);
            if (spans.FirstOrDefault(x => x.FeedId == feedId && x.EndedAt is null) is { } open)
            {
                open.EndedAt = Now;
                peer.ScreenSharesJson = Mapping.Write(spans);
            }
        }
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The peer's screen share spans (empty: never shared).</summary>
    public static List<ScreenShareSpan> SharesOf(SessionPeerRow peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return peer.ScreenSharesJson is { } json ? Mapping.Read<List<ScreenShareSpan>>(json) : [];
    }

    /// <summary>Ends LIVE sessions that have been empty for their meeting's keep-alive; their recordings stop
    /// with ALL_PEERS_LEFT. Returns the meetings whose session ended.</summary>
    public async Task<List<Guid>> EndIdleSessionsAsync(CancellationToken ct)
    {
        var now = Now;
        var candidates = await db.Sessions.AsNoTracking()
            .Where(s => s.Status == Live && s.EmptySince != null)
            .Join(db.Meetings, s => s.MeetingId, m => m.Id, (s, m) => new { s.Id, s.EmptySince, m.SessionKeepAliveTimeInSecs })
            .ToListAsync(ct);
        var ended = new List<Guid>();
        foreach (var c in candidates.Where(c => c.EmptySince!.Value.AddSeconds(c.SessionKeepAliveTimeInSecs) <= now))
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var session = await db.Sessions.FirstAsync(s => s.Id == c.Id, ct);
            if (session.Status != Live || session.EmptySince is null)
            {
                continue;
            }
            await EndAsync(session, "ALL_PARTICIPANTS_LEFT", new ReasonDto { Reason = StopReasons.AllPeersLeft, Caller = new CallerDto { Type = "INTERNAL" } }, ct);
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            ended.Add(session.MeetingId);
            signals?.Notify();
        }
        return ended;
    }

    public async Task<SessionRow> ActiveSessionAsync(Guid appId, Guid meetingId, bool tracking, CancellationToken ct)
    {
        var q = tracking ? db.Sessions : db.Sessions.AsNoTracking();
        return await q.FirstOrDefaultAsync(s => s.AppId == appId && s.MeetingId == meetingId && s.Status == Live, ct)
            ?? throw CapstanException.NotFound($"No active session found for meeting_id {meetingId}");
    }

    /// <summary>Kicks the given participants (by participant id or custom participant id) out of the live session.</summary>
    public async Task<List<SessionPeerRow>> KickAsync(Guid appId, Guid meetingId, KickRequest? body, CancellationToken ct)
    {
        var participantIds = (body?.ParticipantIds ?? []).Select(p => Ids.Parse(p, "participant_ids[]")).ToList();
        var customIds = (body?.CustomParticipantIds ?? []).ToList();
        if (participantIds.Count == 0 && customIds.Count == 0)
        {
            throw CapstanException.Invalid("participant_ids or custom_participant_ids is required");
        }
        if (participantIds.Count + customIds.Count > 1000)
        {
            throw CapstanException.Invalid("at most 1000 participant_ids and custom_participant_ids together");
        }
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var session = await ActiveSessionAsync(appId, meetingId, tracking: true, ct);
        var meeting = await db.Meetings.AsNoTracking().FirstAsync(m => m.Id == meetingId, ct);
        var peers = await db.SessionPeers
            .Where(p => p.SessionId == session.Id && p.LeftAt == null && !p.Hidden
                && ((p.ParticipantId != null && participantIds.Contains(p.ParticipantId.Value)) || (p.CustomParticipantId != null && customIds.Contains(p.CustomParticipantId))))
            .ToListAsync(ct);
        foreach (var p in peers)
        {
            MarkLeft(meeting, session, p, "KICKED");
        }
        if (peers.Count > 0 && !await db.SessionPeers.AnyAsync(p => p.SessionId == session.Id && p.LeftAt == null && !p.Hidden && !peers.Select(k => k.Id).Contains(p.Id), ct))
        {
            session.EmptySince = Now;
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return peers;
    }

    /// <summary>Kick-all: everyone out, the session ends and its recordings stop at once.</summary>
    public async Task<List<SessionPeerRow>> KickAllAsync(Guid appId, Guid meetingId, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var session = await ActiveSessionAsync(appId, meetingId, tracking: true, ct);
        var kicked = await EndAsync(session, "HOST_ENDED_MEETING", new ReasonDto { Reason = StopReasons.AllPeersLeft, Caller = new CallerDto { Type = "ORGANIZATION" } }, ct);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        signals?.Notify();
        return kicked;
    }

    public async Task<(List<(SessionRow Session, int Live, double Minutes)> Items, long Total)> ListAsync(
        Guid appId, Guid? meetingId, string? status, string? search, DateTime? start, DateTime? end, string? participants,
        string sortBy, bool ascending, PageRequest page, CancellationToken ct)
    {
        var q = db.Sessions.AsNoTracking().Where(s => s.AppId == appId);
        if (meetingId is { } mid)
        {
            q = q.Where(s => s.MeetingId == mid);
        }
        if (status is not null)
        {
            q = q.Where(s => s.Status == status);
        }
        if (!string.IsNullOrEmpty(search))
        {
            var pattern = $"%{AccountService.EscapeLike(search.ToLowerInvariant())}%";
            q = Guid.TryParse(search, out var id)
                ? q.Where(s => s.Id == id || s.MeetingId == id)
                : q.Where(s => EF.Functions.Like(s.MeetingTitle!.ToLower(), pattern, "\\"));
        }
        if (start is { } st)
        {
            q = q.Where(s => s.StartedAt >= st);
        }
        if (end is { } en)
        {
            q = q.Where(s => s.StartedAt <= en);
        }
        if (!string.IsNullOrEmpty(participants))
        {
            q = q.Where(s => db.SessionPeers.Any(p => p.SessionId == s.Id && (p.CustomParticipantId == participants || p.DisplayName == participants)));
        }
        var total = await q.LongCountAsync(ct);
        // minutesConsumed is derived from the peers; sorting by it sorts by the session's span as a close proxy.
        q = (sortBy, ascending) switch
        {
            ("minutesConsumed", true) => q.OrderBy(s => s.MaxConcurrentParticipants).ThenBy(s => s.StartedAt),
            ("minutesConsumed", false) => q.OrderByDescending(s => s.MaxConcurrentParticipants).ThenByDescending(s => s.StartedAt),
            (_, true) => q.OrderBy(s => s.CreatedAt).ThenBy(s => s.Id),
            _ => q.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id),
        };
        var sessions = await q.Skip(page.Skip).Take(page.PerPage).ToListAsync(ct);
        var result = new List<(SessionRow, int, double)>();
        foreach (var s in sessions)
        {
            var (live, minutes) = await StatsAsync(s.Id, ct);
            result.Add((s, live, minutes));
        }
        return (result, total);
    }

    public async Task<(SessionRow Session, int Live, double Minutes)> GetAsync(Guid appId, Guid sessionId, CancellationToken ct)
    {
        var s = await db.Sessions.AsNoTracking().FirstOrDefaultAsync(x => x.Id == sessionId && x.AppId == appId, ct)
            ?? throw CapstanException.NotFound($"No session found with id {sessionId}");
        var (live, minutes) = await StatsAsync(s.Id, ct);
        return (s, live, minutes);
    }

    public async Task<(int Live, double Minutes)> StatsAsync(Guid sessionId, CancellationToken ct)
    {
        var now = Now;
        var peers = await db.SessionPeers.AsNoTracking().Where(p => p.SessionId == sessionId && !p.Hidden)
            .Select(p => new { p.JoinedAt, p.LeftAt }).ToListAsync(ct);
        return (peers.Count(p => p.LeftAt is null), peers.Sum(p => ((p.LeftAt ?? now) - p.JoinedAt).TotalMinutes));
    }

    public async Task<List<SessionPeerRow>> PeersAsync(Guid appId, Guid sessionId, string? search, string sortBy, bool ascending, PageRequest page, CancellationToken ct)
    {
        if (!await db.Sessions.AnyAsync(s => s.Id == sessionId && s.AppId == appId, ct))
        {
            throw CapstanException.NotFound($"No session found with id {sessionId}");
        }
        var q = db.SessionPeers.AsNoTracking().Where(p => p.SessionId == sessionId && !p.Hidden);
        if (!string.IsNullOrEmpty(search))
        {
            var pattern = $"%{AccountService.EscapeLike(search.ToLowerInvariant())}%";
            q = q.Where(p => EF.Functions.Like(p.DisplayName!.ToLower(), pattern, "\\") || EF.Functions.Like(p.CustomParticipantId!.ToLower(), pattern, "\\"));
        }
        var peers = await q.ToListAsync(ct);
        var now = Now;
        IEnumerable<SessionPeerRow> ordered = sortBy == "duration"
            ? peers.OrderBy(p => (p.LeftAt ?? now) - p.JoinedAt).ThenBy(p => p.Id)
            : peers.OrderBy(p => p.JoinedAt).ThenBy(p => p.Id);
        if (!ascending)
        {
            ordered = ordered.Reverse();
        }
        return ordered.Skip(page.Skip).Take(page.PerPage).ToList();
    }

    public async Task<SessionPeerRow> PeerAsync(Guid appId, Guid sessionId, Guid peerId, CancellationToken ct) =>
        await db.SessionPeers.AsNoTracking().FirstOrDefaultAsync(p => p.SessionId == sessionId && p.AppId == appId && p.Id == peerId && !p.Hidden, ct)
        ?? throw CapstanException.NotFound($"No participant found with id {peerId} in session {sessionId}");

    /// <summary>Peer events derived from the peer's joins and leaves.</summary>
    public static IReadOnlyList<PeerEventDto> EventsOf(SessionPeerRow p)
    {
        var peer = Ids.Format(p.Id);
        var participant = p.ParticipantId is { } u ? Ids.Format(u) : null;
        var session = Ids.Format(p.SessionId);
        var events = new List<PeerEventDto>
        {
            new(Ids.Format(DerivedId(p.Id, 1)), "PEER_CREATED", peer, participant, session, p.JoinedAt),
            new(Ids.Format(DerivedId(p.Id, 2)), "PEER_JOINING", peer, participant, session, p.JoinedAt),
        };
        if (p.LeftAt is { } left)
        {
            events.Add(new(Ids.Format(DerivedId(p.Id, 3)), "PEER_LEAVING", peer, participant, session, left));
        }
        return events;
    }

    private async Task<List<SessionPeerRow>> EndAsync(SessionRow session, string endReason, ReasonDto recordingStopReason, CancellationToken ct)
    {
        var meeting = await db.Meetings.AsNoTracking().FirstAsync(m => m.Id == session.MeetingId, ct);
        var peers = await db.SessionPeers.Where(p => p.SessionId == session.Id && p.LeftAt == null).ToListAsync(ct);
        foreach (var p in peers)
        {
            MarkLeft(meeting, session, p, endReason == "HOST_ENDED_MEETING" ? "KICKED" : "LEFT");
        }
        var now = Now;
        session.Status = Ended;
        session.EndedAt = now;
        session.UpdatedAt = now;
        await lifecycle.StopAllAsync(session.MeetingId, recordingStopReason, ct);
        var payload = new Dictionary<string, object?> { ["event"] = WebhookEvents.MeetingEnded, ["meeting"] = WebhookEvents.MeetingPayload(meeting, session), ["reason"] = endReason };
        WebhookEvents.Enqueue(db, session.AppId, WebhookEvents.MeetingEnded, payload, now);
        return peers.Where(p => !p.Hidden).ToList();
    }

    private void MarkLeft(MeetingRow meeting, SessionRow session, SessionPeerRow peer, string reason)
    {
        var now = Now;
        peer.LeftAt = now;
        peer.LeaveReason = reason;
        // A share still open when its sharer leaves ends with them.
        if (peer.ScreenSharesJson is not null && SharesOf(peer) is { } spans && spans.Any(x => x.EndedAt is null))
        {
            spans.ForEach(x => x.EndedAt ??= now);
            peer.ScreenSharesJson = Mapping.Write(spans);
        }
        session.UpdatedAt = now;
        if (!peer.Hidden)
        {
            WebhookEvents.Enqueue(db, session.AppId, WebhookEvents.ParticipantLeft, ParticipantEvent(WebhookEvents.ParticipantLeft, meeting, session, peer), now);
        }
    }

    private static Dictionary<string, object?> ParticipantEvent(string name, MeetingRow meeting, SessionRow session, SessionPeerRow peer)
    {
        var participant = new Dictionary<string, object?>
        {
            ["peerId"] = Ids.Format(peer.Id),
            ["userDisplayName"] = peer.DisplayName,
            ["customParticipantId"] = peer.CustomParticipantId,
            ["clientSpecificId"] = peer.CustomParticipantId,
            ["joinedAt"] = WebhookEvents.Iso(peer.JoinedAt),
            ["leftAt"] = peer.LeftAt is { } l ? WebhookEvents.Iso(l) : null,
        };
        if (peer.ScreenSharesJson is not null)
        {
            // A Capstan extension, present once the participant has shared a screen: when each share began and ended.
            participant["screenShares"] = SharesOf(peer).Select(x => new Dictionary<string, object?>
            {
                ["startedAt"] = WebhookEvents.Iso(x.StartedAt),
                ["endedAt"] = x.EndedAt is { } e ? WebhookEvents.Iso(e) : null,
            }).ToList();
        }
        return new()
        {
            ["event"] = name,
            ["meeting"] = WebhookEvents.MeetingPayload(meeting, session),
            ["participant"] = participant,
        };
    }

    private static Guid DerivedId(Guid id, byte n)
    {
        var b = id.ToByteArray();
        b[15] ^= n;
        return new Guid(b);
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
