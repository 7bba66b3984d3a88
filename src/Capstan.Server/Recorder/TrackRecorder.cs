using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Meetings;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>Runs track recordings (<c>TRACK</c> jobs) beside Janus: hosted in <c>serve</c> whenever media is on
/// (<c>Janus:Enabled</c>), since it drives the room's recording and reads the files Janus writes into
/// <c>Janus:RecordingsDir</c>. With external Janus instances that folder must be the one they write to (a shared
/// folder); a node only runs a recording whose room is on a Janus it manages. It needs no browser, no display and
/// almost no CPU while recording, so it has no slot limit.</summary>
public sealed partial class TrackRecorder(
    IOptions<JanusOptions> janusOptions, IOptions<RecorderOptions> recorderOptions, CapstanOptions options, JanusInstances janus,
    IServiceScopeFactory scopes, DefaultBucket bucket, Storage.UploadSpool spool, Security.SecretProtector protector, RecorderSignals signals,
    TimeProvider time, ILogger<TrackRecorder> logger, ILoggerFactory loggers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!janusOptions.Value.Enabled)
        {
            return;
        }
        var o = recorderOptions.Value;
        var workDir = Path.GetFullPath(o.WorkDir ?? Path.Combine(options.DataDir, "recorder"));
        var recordings = Path.GetFullPath(janusOptions.Value.RecordingsDir ?? Path.Combine(options.DataDir, "janus", "recordings"));
        Directory.CreateDirectory(workDir);
        // A stable owner (NodeIdentity): a node killed and started again takes its track recordings back at once.
        using var identity = NodeIdentity.Acquire(workDir, "track");
        var owner = identity.Owner;
        var ctx = new TrackRecorderContext(o, scopes, janus, bucket, spool, protector, signals, time, loggers.CreateLogger<RecordingJob>(), owner, workDir, recordings);
        var running = new List<Task>();
        var active = new System.Collections.Concurrent.ConcurrentDictionary<Guid, bool>();
        var reclaimed = new Queue<Data.RecorderJobRow>();
        if (identity.Stable)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                foreach (var j in await scope.ServiceProvider.GetRequiredService<JobQueue>().ReclaimAsync(owner, o.Lease, RecordingTypes.Track, stoppingToken))
                {
                    reclaimed.Enqueue(j);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogClaimFailed(logger, e);
            }
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            running.RemoveAll(t => t.IsCompleted);
            Data.RecorderJobRow? job = null;
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                job = reclaimed.TryDequeue(out var mine) ? mine : await scope.ServiceProvider.GetRequiredService<JobQueue>().ClaimAsync(owner, o.Lease, stoppingToken, RecordingTypes.Track);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogClaimFailed(logger, e);
            }
            if (job is not null)
            {
                if (active.TryAdd(job.RecordingId, true))
                {
                    var claimed = job;
                    running.Add(Task.Run(async () =>
                    {
                        using var observed = RecordingTelemetry.Begin(claimed, logger, owner, await RecordingTelemetry.LookupAsync(claimed, scopes, stoppingToken)); // span + log scope
                        try
                        {
                            await new RecordingJob(claimed, ctx.Job, record => new TrackCapture(record, ctx)).RunAsync(stoppingToken);
                        }
                        finally
                        {
                            active.TryRemove(claimed.RecordingId, out _);
                        }
                    }, CancellationToken.None));
                }
                continue;
            }
            try
            {
                await signals.WaitAsync(o.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(running);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming a track recording job failed")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);
}
