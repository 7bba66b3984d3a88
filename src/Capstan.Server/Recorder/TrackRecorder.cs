using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Meetings;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>Runs track recordings (<c>TRACK</c> jobs) beside Janus: hosted in <c>serve</c> whenever media is on
/// (<c>Janus:Enabled</c>), since it drives the room's recording and reads the files Janus writes into
/// <c>Janus:RecordingsDir</c>. With external Janus instances that folder must be the one they write to (a shared
/// folder, or the local disk of the instances named in <c>Janus:LocalUrls</c>); a node only claims a recording whose
/// meeting's room is on a Janus it manages (the claim filters on <c>MeetingRooms.JanusUrl</c>, see
/// <see cref="JobQueue.ClaimAsync"/>), so every track recording runs on the node beside its room's Janus. It needs no
/// browser, no display and almost no CPU while recording, so it has no slot limit; it claims a job when the job's
/// estimate fits the node's measured capacity (<see cref="CostMeter"/>, shared with the composite worker of the same
/// process; a track recording is taken at its class's prior, its cost being Janus's).</summary>
public sealed partial class TrackRecorder(
    IOptions<JanusOptions> janusOptions, IOptions<RecorderOptions> recorderOptions, CapstanOptions options, JanusInstances janus,
    IServiceScopeFactory scopes, DefaultBucket bucket, Storage.UploadSpool spool, Security.SecretProtector protector, RecorderSignals signals,
    TimeProvider time, ILogger<TrackRecorder> logger, ILoggerFactory loggers, CostMeter? costs = null) : BackgroundService
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
        // No slot limit: Janus records, the node only switches rooms and makes the files.
        await ClaimLoop.RunAsync(scopes, signals, o, owner, RecordingTypes.Track, new System.Collections.Concurrent.ConcurrentDictionary<Guid, bool>(), () => int.MaxValue,
            async (job, ct) =>
            {
                using var observed = RecordingTelemetry.Begin(job, logger, owner, await RecordingTelemetry.LookupAsync(job, scopes, ct)); // span + log scope
                if (costs is not null)
                {
                    await costs.AttachAsync(job, scopes, () => [], ct); // nothing of its own to measure: Janus records
                }
                await new RecordingJob(job, ctx.Job, record => new TrackCapture(record, ctx)).RunAsync(ct);
            }, logger, reclaim: identity.Stable, stoppingToken, costs,
            // Beside its Janus: Janus writes a room's track files to its own disk, so only this node can make them.
            janusUrls: () => JanusOptionsValidator.BesideUrls(janusOptions.Value, janus.All));
    }
}
