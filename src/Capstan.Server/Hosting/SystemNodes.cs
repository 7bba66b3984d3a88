using Capstan.Contracts;
using Capstan.Server.Api;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Recorder;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Hosting;

/// <summary>A recorder node as the operator sees it: <c>State</c> <c>active</c>, <c>draining</c> or <c>lost</c>
/// (<see cref="SystemStatus.NodeState"/>), its slots and load as last reported, and the recordings whose jobs it
/// holds now (<c>Recordings</c>, oldest first); <c>Capacity</c>: its measured capacity (<see cref="CostMeter"/>), null
/// from a node that does not measure.</summary>
public sealed record OperatorNode(
    string Node, string Owner, string Role, string State, int Slots, int Busy, int Warm, DateTime? StartedAt, DateTime? SeenAt, DateTime? DrainingSince,
    IReadOnlyList<Guid> Recordings, NodeCapacity? Capacity = null);

/// <summary>A recording waiting for a worker: <c>QueuePosition</c> is its place in the order workers claim the jobs of
/// its <c>Type</c> (1 is next; oldest first); <c>Status</c> is INVOKED for one not started yet, RECORDING, PAUSED or
/// UPLOADING for one handed over by a draining worker or left by a lost one; <c>QueuedAt</c> is when it was started.</summary>
public sealed record QueuedRecording(Guid RecordingId, string Type, string Status, int QueuePosition, DateTime QueuedAt);

/// <summary>The nodes and the queue of the whole deployment, every account's.</summary>
public sealed record SystemNodesDto(IReadOnlyList<OperatorNode> Nodes, IReadOnlyList<QueuedRecording> Queue, long QueueDepth, DateTime Now);

/// <summary><c>GET /client/v4/system/nodes</c> (a Capstan extension, for the operator: <c>Capstan:OperatorToken</c>,
/// <see cref="Security.OperatorToken"/>): the recorder nodes with their state, slots and running recordings (ids), and
/// the queue with each recording's place. Unlike <c>/accounts/{id}/system</c> (any account's token, counts only) it
/// names recordings of every account, hence the operator's credential.</summary>
public static class SystemNodes
{
    /// <summary>At most this many queued recordings are listed (<c>queue_depth</c> counts them all).</summary>
    public const int QueueListed = 1000;

    public static RouteGroupBuilder MapSystemNodesApi(this RouteGroupBuilder system)
    {
        ArgumentNullException.ThrowIfNull(system);
        system.MapGet("/nodes", GetAsync).WithTags("System").WithName("system.nodes")
            .WithSummary("Capstan extension (operator): recorder nodes with their state, slots and running recordings, and the queue")
            .WithDescription(OpenApiDocs.OperatorNodesDescription);
        return system;
    }

    private static async Task<Ok<Envelope<SystemNodesDto>>> GetAsync(CapstanDbContext db, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var reported = await db.RecorderNodes.AsNoTracking().OrderBy(n => n.Node).ThenBy(n => n.StartedAt).ToListAsync(ct);
        var held = await db.RecorderJobs.AsNoTracking()
            .Where(j => j.State == JobStates.Claimed && j.LeaseOwner != null && j.LeaseExpiresAt >= now)
            .OrderBy(j => j.CreatedAt).Select(j => new { Owner = j.LeaseOwner!, j.RecordingId }).ToListAsync(ct);
        var running = held.GroupBy(j => j.Owner).ToDictionary(g => g.Key, g => (IReadOnlyList<Guid>)g.Select(j => j.RecordingId).ToList(), StringComparer.Ordinal);
        var nodes = reported.Select(n => new OperatorNode(n.Node, n.Owner, "composite", SystemStatus.NodeState(n, now), n.Slots, n.Busy, n.Warm, n.StartedAt, n.SeenAt,
            n.DrainingSince, running.GetValueOrDefault(n.Owner) ?? [], n.Capacity())).ToList();
        // Lease holders that do not report (the track recorder beside Janus, a worker of an older build).
        foreach (var (owner, recordings) in running.Where(r => reported.All(n => n.Owner != r.Key)).OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var parts = owner.Split(':');
            nodes.Add(new OperatorNode(parts[0], owner, parts.Length > 1 ? parts[1] : "unknown", NodeStates.Active, 0, recordings.Count, 0, null, null, null, recordings));
        }

        // What a worker would claim, in the order it claims (JobQueue.ClaimAsync): QUEUED jobs, and jobs whose lease
        // ran out (a lost node's), oldest first, per type.
        var waiting = from j in db.RecorderJobs.AsNoTracking()
                      join r in db.Recordings.AsNoTracking() on j.RecordingId equals r.Id
                      where (j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < now))
                            && r.Status != RecordingStatus.Uploaded && r.Status != RecordingStatus.Errored
                      select new { j.RecordingId, r.Type, r.Status, j.CreatedAt };
        var depth = await waiting.LongCountAsync(ct);
        var listed = await waiting.OrderBy(w => w.CreatedAt).Take(QueueListed).ToListAsync(ct);
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        var queue = listed.Select(w =>
        {
            var position = positions[w.Type] = positions.GetValueOrDefault(w.Type) + 1;
            return new QueuedRecording(w.RecordingId, w.Type, w.Status, position, w.CreatedAt);
        }).ToList();
        return Envelopes.Ok(new SystemNodesDto(nodes, queue, depth, now));
    }
}
