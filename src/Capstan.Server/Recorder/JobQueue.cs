using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>Recorder jobs in the database. A claim is one guarded update (the row must still be QUEUED, or
/// CLAIMED with an expired lease), so two workers never hold the same job; on PostgreSQL the claimable row is picked
/// with <c>FOR UPDATE SKIP LOCKED</c>, so workers claiming at once each take a different job without waiting on each
/// other. A lease is renewed by heartbeats.</summary>
public sealed class JobQueue(CapstanDbContext db, TimeProvider time, DatabaseInfo? database = null)
{
    /// <summary>Claims the oldest claimable job of recordings of <paramref name="type"/>: COMPOSITE jobs go to the
    /// recorder worker (browser + ffmpeg), TRACK jobs to the track recorder beside Janus.</summary>
    /// <param name="admit">Admission (<see cref="CostMeter.Fits(RecordingRow)"/>): whether this worker has room for the
    /// recording of the job at the head of the queue. When it has not, nothing is claimed: first come, first served,
    /// a worker never passes over the head to take a cheaper job behind it; the head waits (INVOKED, with its
    /// <c>queue_position</c>) until a worker has room for it.</param>
    /// <param name="janusUrls">The Janus instances this node records beside (the track recorder: Janus writes a room's
    /// <c>.mjr</c> files to its own disk; a native compositor's worker: Janus forwards to this machine's loopback):
    /// only jobs whose meeting's room is on one of them (<c>MeetingRooms.JanusUrl</c>, compared with or without a
    /// trailing slash) are claimed, or whose meeting has no room now (a track recording records nothing until one
    /// exists, wherever it is placed; a native composite creates it beside its worker). A job whose room is on no live
    /// node's Janus stays QUEUED (its <c>queue_position</c> unchanged) until a node beside that Janus claims it. Null:
    /// any job of the type.</param>
    public async Task<RecorderJobRow?> ClaimAsync(string owner, TimeSpan lease, CancellationToken ct, string type = RecordingTypes.Composite,
        Func<RecordingRow, bool>? admit = null, IReadOnlyCollection<string>? janusUrls = null)
    {
        var urls = UrlForms(janusUrls);
        if (admit is not null)
        {
            return await ClaimAdmittedAsync(owner, lease, type, admit, urls, ct);
        }
        var now = time.GetUtcNow().UtcDateTime;
        if (database?.Provider == DatabaseProvider.Postgres)
        {
            var expires = now + lease;
            var queued = JobStates.Queued;
            var claimedState = JobStates.Claimed;
            var anyRoom = urls is null;
            var roomUrls = urls ?? [];
            var rows = await db.RecorderJobs.FromSqlInterpolated($"""
                UPDATE "RecorderJobs" SET "State" = {claimedState}, "LeaseOwner" = {owner}, "LeaseExpiresAt" = {expires}, "Attempts" = "Attempts" + 1, "UpdatedAt" = {now}
                WHERE "Id" = (
                  SELECT j."Id" FROM "RecorderJobs" j JOIN "Recordings" r ON r."Id" = j."RecordingId"
                  WHERE r."Type" = {type} AND (j."State" = {queued} OR (j."State" = {claimedState} AND j."LeaseExpiresAt" < {now}))
                    AND ({anyRoom} OR NOT EXISTS (SELECT 1 FROM "MeetingRooms" m WHERE m."MeetingId" = r."MeetingId")
                      OR EXISTS (SELECT 1 FROM "MeetingRooms" m WHERE m."MeetingId" = r."MeetingId" AND m."JanusUrl" = ANY({roomUrls})))
                  ORDER BY j."CreatedAt" LIMIT 1
                  FOR UPDATE OF j SKIP LOCKED)
                RETURNING *
                """).AsNoTracking().ToListAsync(ct);
            return rows.FirstOrDefault();
        }
        var claimable = db.RecorderJobs.AsNoTracking()
            .Where(j => j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now))
            .Where(j => db.Recordings.Any(r => r.Id == j.RecordingId && r.Type == type));
        if (urls is not null)
        {
            claimable = claimable.Where(BesideJanus(urls));
        }
        var candidates = await claimable.OrderBy(j => j.CreatedAt).Select(j => j.Id).Take(5).ToListAsync(ct);
        foreach (var id in candidates)
        {
            var claimed = await db.RecorderJobs
                .Where(j => j.Id == id && (j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now)))
                .ExecuteUpdateAsync(u => u
                    .SetProperty(j => j.State, JobStates.Claimed)
                    .SetProperty(j => j.LeaseOwner, owner)
                    .SetProperty(j => j.LeaseExpiresAt, now + lease)
                    .SetProperty(j => j.Attempts, j => j.Attempts + 1)
                    .SetProperty(j => j.UpdatedAt, now), ct);
            if (claimed == 1)
            {
                return await db.RecorderJobs.AsNoTracking().FirstAsync(j => j.Id == id, ct);
            }
        }
        return null;
    }

    /// <summary>The claim filter of <see cref="ClaimAsync"/>'s <c>janusUrls</c> (SQLite; the PostgreSQL claim says the
    /// same in its SQL): the job's meeting has no room, or its room is on one of <paramref name="urls"/>.</summary>
    private System.Linq.Expressions.Expression<Func<RecorderJobRow, bool>> BesideJanus(string[] urls) =>
        j => db.Recordings.Any(r => r.Id == j.RecordingId
            && (!db.MeetingRooms.Any(m => m.MeetingId == r.MeetingId) || db.MeetingRooms.Any(m => m.MeetingId == r.MeetingId && urls.Contains(m.JanusUrl))));

    /// <summary>Each URL with and without its trailing slash (rooms keep the URL as the placing node wrote it).</summary>
    private static string[]? UrlForms(IReadOnlyCollection<string>? urls) =>
        urls is null ? null : [.. urls.SelectMany(u => new[] { u.TrimEnd('/'), u.TrimEnd('/') + "/" }).Distinct(StringComparer.Ordinal)];

    /// <summary>A claim behind admission: the head of the queue is read and held (PostgreSQL: locked <c>FOR UPDATE
    /// SKIP LOCKED</c> in a transaction while <paramref name="admit"/> decides; SQLite: claimed by the guarded update
    /// only once admitted), and claimed only if it is admitted. On PostgreSQL a worker that finds an older claimable
    /// job locked (another worker is deciding about it) does not take the one behind it: it asks again a moment
    /// later, when that decision is made, so the order holds across workers too. With <paramref name="urls"/> (the
    /// track recorder beside its Janus) the head is the oldest job this node may take at all: jobs of rooms on other
    /// Janus instances are not its queue.</summary>
    private async Task<RecorderJobRow?> ClaimAdmittedAsync(string owner, TimeSpan lease, string type, Func<RecordingRow, bool> admit, string[]? urls, CancellationToken ct)
    {
        if (database?.Provider != DatabaseProvider.Postgres)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var claimable = db.RecorderJobs.AsNoTracking()
                .Where(j => j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now))
                .Where(j => db.Recordings.Any(r => r.Id == j.RecordingId && r.Type == type));
            if (urls is not null)
            {
                claimable = claimable.Where(BesideJanus(urls));
            }
            var candidates = await claimable.OrderBy(j => j.CreatedAt).Select(j => j.Id).Take(5).ToListAsync(ct);
            foreach (var id in candidates)
            {
                // The head of the queue (the candidates before it were taken by others meanwhile).
                var recording = await db.Recordings.AsNoTracking().FirstOrDefaultAsync(r => db.RecorderJobs.Any(j => j.Id == id && j.RecordingId == r.Id), ct);
                if (recording is null || !admit(recording))
                {
                    return null;
                }
                if (await ClaimIfClaimableAsync(id, owner, lease, ct) is { } claimed)
                {
                    return claimed;
                }
            }
            return null;
        }
        for (var attempt = 0; attempt < 25; attempt++)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var queued = JobStates.Queued;
            var claimedState = JobStates.Claimed;
            var anyRoom = urls is null;
            var roomUrls = urls ?? [];
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var head = (await db.RecorderJobs.FromSqlInterpolated($"""
                SELECT j.* FROM "RecorderJobs" j JOIN "Recordings" r ON r."Id" = j."RecordingId"
                WHERE r."Type" = {type} AND (j."State" = {queued} OR (j."State" = {claimedState} AND j."LeaseExpiresAt" < {now}))
                  AND ({anyRoom} OR NOT EXISTS (SELECT 1 FROM "MeetingRooms" m WHERE m."MeetingId" = r."MeetingId")
                    OR EXISTS (SELECT 1 FROM "MeetingRooms" m WHERE m."MeetingId" = r."MeetingId" AND m."JanusUrl" = ANY({roomUrls})))
                ORDER BY j."CreatedAt" LIMIT 1
                FOR UPDATE OF j SKIP LOCKED
                """).AsNoTracking().ToListAsync(ct)).FirstOrDefault();
            if (head is null)
            {
                return null;
            }
            var olderJobs = db.RecorderJobs.AsNoTracking()
                .Where(j => j.CreatedAt < head.CreatedAt && (j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now)));
            if (urls is not null)
            {
                olderJobs = olderJobs.Where(BesideJanus(urls));
            }
            var older = await olderJobs.AnyAsync(j => db.Recordings.Any(r => r.Id == j.RecordingId && r.Type == type), ct);
            if (older)
            {
                await tx.RollbackAsync(ct);
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, ct);
                continue;
            }
            var recording = await db.Recordings.AsNoTracking().FirstAsync(r => r.Id == head.RecordingId, ct);
            if (!admit(recording))
            {
                await tx.RollbackAsync(ct);
                return null;
            }
            var claimed = await ClaimIfClaimableAsync(head.Id, owner, lease, ct);
            await tx.CommitAsync(ct);
            return claimed;
        }
        return null;
    }

    private async Task<RecorderJobRow?> ClaimIfClaimableAsync(Guid id, string owner, TimeSpan lease, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var claimed = await db.RecorderJobs
            .Where(j => j.Id == id && (j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now)))
            .ExecuteUpdateAsync(u => u
                .SetProperty(j => j.State, JobStates.Claimed)
                .SetProperty(j => j.LeaseOwner, owner)
                .SetProperty(j => j.LeaseExpiresAt, now + lease)
                .SetProperty(j => j.Attempts, j => j.Attempts + 1)
                .SetProperty(j => j.UpdatedAt, now), ct);
        return claimed == 1 ? await db.RecorderJobs.AsNoTracking().FirstAsync(j => j.Id == id, ct) : null;
    }

    /// <summary>The jobs of recordings of <paramref name="type"/> that <paramref name="owner"/> held when it stopped
    /// (a worker killed and started again on the same work folder, see <see cref="NodeIdentity"/>): taken back at once
    /// with a new lease, whatever the old lease's expiry.</summary>
    public async Task<IReadOnlyList<RecorderJobRow>> ReclaimAsync(string owner, TimeSpan lease, string type, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var mine = db.RecorderJobs.Where(j => j.State == JobStates.Claimed && j.LeaseOwner == owner && db.Recordings.Any(r => r.Id == j.RecordingId && r.Type == type));
        await mine.ExecuteUpdateAsync(u => u
            .SetProperty(j => j.LeaseExpiresAt, now + lease)
            .SetProperty(j => j.Attempts, j => j.Attempts + 1)
            .SetProperty(j => j.UpdatedAt, now), ct);
        return await mine.AsNoTracking().OrderBy(j => j.CreatedAt).ToListAsync(ct);
    }

    /// <summary>Extends the lease; false when the job is no longer this worker's (cancelled or taken over).</summary>
    public async Task<bool> RenewAsync(Guid jobId, string owner, TimeSpan lease, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return await db.RecorderJobs.Where(j => j.Id == jobId && j.LeaseOwner == owner && j.State == JobStates.Claimed)
            .ExecuteUpdateAsync(u => u.SetProperty(j => j.LeaseExpiresAt, now + lease).SetProperty(j => j.UpdatedAt, now), ct) == 1;
    }

    /// <summary>Hands a job over (a draining worker, <see cref="RecorderDrain"/>): back to QUEUED with no owner and no
    /// lease, so any worker claims it now rather than when the lease would have run out; the recording's status is not
    /// touched. Guarded by the owner: false when the job is no longer this owner's (taken over, finished, cancelled).</summary>
    public async Task<bool> ReleaseAsync(Guid jobId, string owner, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return await db.RecorderJobs.Where(j => j.Id == jobId && j.LeaseOwner == owner && j.State == JobStates.Claimed)
            .ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Queued).SetProperty(j => j.LeaseOwner, (string?)null)
                .SetProperty(j => j.LeaseExpiresAt, (DateTime?)null).SetProperty(j => j.UpdatedAt, now), ct) == 1;
    }

    public Task FinishAsync(Guid jobId, string state, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return db.RecorderJobs.Where(j => j.Id == jobId)
            .ExecuteUpdateAsync(u => u.SetProperty(j => j.State, state).SetProperty(j => j.LeaseExpiresAt, (DateTime?)null).SetProperty(j => j.UpdatedAt, now), ct);
    }

    /// <summary>What the API currently wants: the job's desired state, the recording's status and the instant that
    /// status was set (the recording's <c>updated_at</c>, which only a status change moves: <see cref="RecordingLifecycle.TransitionAsync"/>).</summary>
    public async Task<RecordingCommandState> ReadAsync(Guid jobId, Guid recordingId, CancellationToken ct)
    {
        var job = await db.RecorderJobs.AsNoTracking().Where(j => j.Id == jobId).Select(j => new { j.DesiredState, j.StopReasonJson }).FirstAsync(ct);
        var rec = await db.Recordings.AsNoTracking().Where(r => r.Id == recordingId).Select(r => new { r.Status, r.UpdatedAt }).FirstAsync(ct);
        return new RecordingCommandState(job.DesiredState, rec.Status, job.StopReasonJson, rec.UpdatedAt);
    }
}

/// <summary>What the API wants of a running recording (<see cref="JobQueue.ReadAsync"/>).</summary>
/// <param name="StatusSince">When the API set <paramref name="Status"/>: for <c>PAUSED</c>, the instant the pause was
/// asked for, where the file ends (not the later instant the worker saw it).</param>
public readonly record struct RecordingCommandState(string Desired, string Status, string? StopReasonJson, DateTime StatusSince);
