using System.Collections.Concurrent;
using Capstan.Server.Data;
using Capstan.Server.Domain;

namespace Capstan.Server.Recorder;

/// <summary>The claim loop of a recorder (the composite worker, the track recorder): the jobs this node held when it
/// stopped are taken back first (<see cref="JobQueue.ReclaimAsync"/>), then the oldest claimable job of its type
/// whenever it has room, woken by <see cref="RecorderSignals"/> (a new job, a command; across nodes too) or its poll.
/// A job it already runs (its lease ran out under load and it claimed it again) is not run twice. Each job runs
/// in a <see cref="RecordingJob"/> that <paramref name="run"/> starts. With a <see cref="CostMeter"/>, a job is claimed
/// only when its measured cost fits (admission; the head of the queue is never passed over for a cheaper job behind
/// it, see <see cref="JobQueue.ClaimAsync"/>), and each job counts in the meter while it runs.</summary>
public static partial class ClaimLoop
{
    /// <param name="active">The recordings this node runs now (shared with the caller's load report).</param>
    /// <param name="room">How many jobs this node has room for now, beside those running (the slots: an upper bound
    /// when there is a <paramref name="meter"/>).</param>
    /// <param name="meter">Admission by measured cost (unless <see cref="RecorderOptions.AdmitByCost"/> is off: then it
    /// only measures); null: the slots alone.</param>
    /// <param name="janusUrls">The track recorder and a native compositor's worker (<see cref="RecorderWorker.ClaimBeside"/>):
    /// the Janus instances this node runs beside, read at each claim (a local Janus that is down or restarting is not
    /// among them); only jobs whose meeting's room is on one of them are claimed (<see cref="JobQueue.ClaimAsync"/>).
    /// Null: no such filter.</param>
    public static async Task RunAsync(IServiceScopeFactory scopes, RecorderSignals signals, RecorderOptions options, string owner, string type,
        ConcurrentDictionary<Guid, bool> active, Func<int> room, Func<RecorderJobRow, CancellationToken, Task> run, ILogger logger, bool reclaim, CancellationToken ct,
        CostMeter? meter = null, Func<IReadOnlyCollection<string>>? janusUrls = null)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        ArgumentNullException.ThrowIfNull(signals);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(active);
        ArgumentNullException.ThrowIfNull(room);
        ArgumentNullException.ThrowIfNull(run);
        var running = new List<Task>();
        void Start(RecorderJobRow job)
        {
            if (active.TryAdd(job.RecordingId, true))
            {
                meter?.Begin(job.RecordingId); // counts at once, before the next claim is decided
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        await run(job, ct);
                    }
                    finally
                    {
                        meter?.End(job.RecordingId);
                        active.TryRemove(job.RecordingId, out _);
                    }
                }, CancellationToken.None));
            }
        }

        if (reclaim)
        {
            foreach (var job in await ReclaimAsync(scopes, owner, options.Lease, type, logger, ct))
            {
                LogReclaimed(logger, job.RecordingId);
                Start(job);
            }
        }
        while (!ct.IsCancellationRequested)
        {
            running.RemoveAll(t => t.IsCompleted);
            // Taken before the claim: a job announced while this turn claims ends the wait below at once.
            var wake = signals.NextWake;
            var claimed = false;
            if (room() > 0)
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    if (await scope.ServiceProvider.GetRequiredService<JobQueue>().ClaimAsync(owner, options.Lease, ct, type, meter is null || !options.AdmitByCost ? null : meter.Fits, janusUrls?.Invoke()) is { } job)
                    {
                        claimed = true;
                        Start(job);
                    }
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break; // stopping (or draining) mid-claim: the running jobs are still waited for below
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogClaimFailed(logger, e);
                }
            }
            if (claimed)
            {
                continue;
            }
            try
            {
                await Task.WhenAny(running.Append(signals.WaitAsync(wake, options.PollInterval, ct)));
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(running);
    }

    private static async Task<IReadOnlyList<RecorderJobRow>> ReclaimAsync(IServiceScopeFactory scopes, string owner, TimeSpan lease, string type, ILogger logger, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<JobQueue>().ReclaimAsync(owner, lease, type, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogClaimFailed(logger, e);
            return [];
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Took back recording {RecordingId}, which this node was running when it stopped")]
    private static partial void LogReclaimed(ILogger logger, Guid recordingId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming a recorder job failed")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);
}
