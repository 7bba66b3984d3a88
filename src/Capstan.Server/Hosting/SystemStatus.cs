using Capstan.Contracts;
using Capstan.Server.Api;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Recorder;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Capstan.Server.Hosting;

/// <summary>One recorder node: its reported slots, busy and warm counts, and the jobs the database shows it holding.
/// <c>State</c>: <c>active</c>, <c>draining</c> (told to stop: it claims nothing new, <see cref="RecorderDrain"/>) or
/// <c>lost</c> (no report for <see cref="RecorderNodes.Stale"/>; <c>Lost</c> says the same, kept for older readers).
/// <c>Role</c>: <c>composite</c> (a recorder worker, which reports itself) or what a
/// lease owner's name says (<c>track</c>: the track recorder beside Janus, which has no slots).
/// <c>Capacity</c>: its measured capacity (cores and memory its recordings may use, what they use, the estimate per cost
/// class; <see cref="CostMeter"/>), null from a node that does not measure.</summary>
public sealed record SystemNode(
    string Node, string Owner, string Role, int Slots, int Busy, int Warm, int Jobs, DateTime? StartedAt, DateTime? SeenAt, bool Lost, bool ThisProcess,
    string State, DateTime? DrainingSince, NodeCapacity? Capacity = null);

public sealed record SystemQueue(long Depth, DateTime? OldestSince);

public sealed record SystemJanus(int Instances, long Rooms, long Participants);

public sealed record SystemCheck(string Status, string? Description);

/// <summary>The deployment as the dashboard's System page shows it.</summary>
public sealed record SystemDto(
    string Status, IReadOnlyDictionary<string, SystemCheck> Checks, IReadOnlyList<SystemNode> Nodes, SystemQueue Queue,
    SystemJanus Janus, IReadOnlyDictionary<string, long> ActiveRecordings, DateTime Now);

/// <summary><c>GET /accounts/{account_id}/system</c> (a Capstan extension, for the dashboard's System page): the
/// recorder nodes (each worker reports its slots and load every few seconds to the shared database; a node not heard
/// from for 20 s is <c>lost</c>; nodes holding leases without a report, from older builds, are listed from the leases),
/// the queue (jobs waiting for a worker), Janus (instances this process uses, rooms and peers of live sessions) and
/// the readiness checks of this process (those of <c>/readyz</c>). Any account's API token may read it: it carries
/// counts of the whole deployment and no other account's ids.</summary>
public static class SystemStatus
{
    public static RouteGroupBuilder MapSystemApi(this RouteGroupBuilder account)
    {
        ArgumentNullException.ThrowIfNull(account);
        account.MapGet("/system", GetAsync).WithTags("System").WithName("system.get")
            .WithSummary("Capstan extension: recorder nodes, queue, Janus and readiness of the deployment");
        return account;
    }

    /// <summary>A reported node's state: <c>lost</c> once silent for <see cref="RecorderNodes.Stale"/> (whatever it said
    /// last), else <c>draining</c> once it began draining, else <c>active</c>.</summary>
    public static string NodeState(RecorderNodeRow n, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(n);
        return now - n.SeenAt > RecorderNodes.Stale ? NodeStates.Lost : n.DrainingSince is not null ? NodeStates.Draining : NodeStates.Active;
    }

    private static async Task<Ok<Envelope<SystemDto>>> GetAsync(
        CapstanDbContext db, HealthCheckService health, JanusInstances janus, CapstanMetrics metrics, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var report = await health.CheckHealthAsync(r => r.Tags.Contains(CapstanHealth.ReadyTag), ct);
        var checks = report.Entries.ToDictionary(e => e.Key, e => new SystemCheck(e.Value.Status == HealthStatus.Unhealthy ? "failing" : "ok", e.Value.Description));

        var reported = await db.RecorderNodes.AsNoTracking().OrderBy(n => n.Node).ThenBy(n => n.StartedAt).ToListAsync(ct);
        var leases = await db.RecorderJobs.AsNoTracking()
            .Where(j => j.State == JobStates.Claimed && j.LeaseOwner != null && j.LeaseExpiresAt >= now)
            .GroupBy(j => j.LeaseOwner!).Select(g => new { Owner = g.Key, Count = g.Count() }).ToListAsync(ct);
        var jobs = leases.ToDictionary(l => l.Owner, l => l.Count);
        var mine = metrics.RecorderOwner;
        var nodes = reported.Select(n => new SystemNode(n.Node, n.Owner, "composite", n.Slots, n.Busy, n.Warm, jobs.GetValueOrDefault(n.Owner), n.StartedAt, n.SeenAt,
            now - n.SeenAt > RecorderNodes.Stale, n.Owner == mine, NodeState(n, now), n.DrainingSince, n.Capacity())).ToList();
        // The track recorder beside Janus, and workers of builds that do not report, hold leases too.
        foreach (var (owner, count) in jobs.Where(j => reported.All(n => n.Owner != j.Key)).OrderBy(j => j.Key, StringComparer.Ordinal))
        {
            var parts = owner.Split(':');
            nodes.Add(new SystemNode(parts[0], owner, parts.Length > 1 ? parts[1] : "unknown", 0, count, 0, count, null, null, false, false, NodeStates.Active, null));
        }

        var waiting = db.RecorderJobs.AsNoTracking()
            .Where(j => j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now))
            .Where(j => db.Recordings.Any(r => r.Id == j.RecordingId && r.Status != RecordingStatus.Uploaded && r.Status != RecordingStatus.Errored));
        var depth = await waiting.LongCountAsync(ct);
        var oldest = depth == 0 ? null : await waiting.OrderBy(j => j.CreatedAt).Select(j => (DateTime?)j.CreatedAt).FirstOrDefaultAsync(ct);

        var rooms = await db.MeetingRooms.AsNoTracking().LongCountAsync(ct);
        var peers = await db.SessionPeers.AsNoTracking().LongCountAsync(p => p.LeftAt == null, ct);
        var active = new[] { RecordingStatus.Invoked, RecordingStatus.Recording, RecordingStatus.Paused, RecordingStatus.Uploading };
        var counts = (await db.Recordings.AsNoTracking().Where(r => active.Contains(r.Status)).GroupBy(r => r.Status)
            .Select(g => new { Status = g.Key, Count = g.LongCount() }).ToListAsync(ct)).ToDictionary(c => c.Status, c => c.Count);

        return Envelopes.Ok(new SystemDto(
            report.Status == HealthStatus.Unhealthy ? "not_ready" : "ready", checks, nodes, new SystemQueue(depth, oldest),
            new SystemJanus(janus.All.Count, rooms, peers), active.ToDictionary(s => s, s => counts.GetValueOrDefault(s)), now));
    }
}

/// <summary>What a recorder node is doing, as the operator sees it.</summary>
public static class NodeStates
{
    public const string Active = "active";
    public const string Draining = "draining";
    public const string Lost = "lost";
}
