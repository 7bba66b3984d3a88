using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>The recorder worker: claims recorder jobs (lease + heartbeat) and runs one
/// <see cref="RecordingJob"/> with a <see cref="CompositeCapture"/> per job, up to <see cref="RecorderOptions.Slots"/> at once. Hosted inside
/// <c>capstan serve</c> by default; <c>capstan worker</c> runs it alone.</summary>
public sealed partial class RecorderWorker(
    IOptions<RecorderOptions> recorderOptions, CapstanOptions options, IServiceScopeFactory scopes, DefaultBucket bucket,
    RecorderSignals signals, TimeProvider time, IHttpClientFactory httpClients, IHostApplicationLifetime lifetime,
    Storage.UploadSpool spool, Security.SecretProtector protector, Security.OutboundPolicy outbound,
    ILogger<RecorderWorker> logger, ILoggerFactory loggers, IServer? server = null,
    CapstanMetrics? metrics = null, CostMeter? costs = null) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = recorderOptions.Value;
        if (!o.Enabled)
        {
            return;
        }
        var serverUrl = o.ServerUrl;
        if (serverUrl is null)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await Task.WhenAny(started.Task, Task.Delay(Timeout.Infinite, stoppingToken));
            }
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            serverUrl = (server ?? throw new InvalidOperationException("Recorder:ServerUrl is required without a local server")).Features.Get<IServerAddressesFeature>()!.Addresses.First()
                .Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        }
        // The browser's filtering proxy, one per worker: the Capstan server is its one trusted endpoint.
        await using var proxy = new OutboundProxy(outbound, [new Uri(serverUrl)], logger);
        if (o.BrowserProxy)
        {
            proxy.Start();
            o.BrowserProxyServer = proxy.ProxyServer;
        }
        var workDir = WorkDirFor(o, options.DataDir, logger);
        Directory.CreateDirectory(workDir);
        using var identity = NodeIdentity.Acquire(workDir, "composite");
        var owner = identity.Owner;
        // This node's own recordings, left by a run of it that was killed, are taken back at once, not after their
        // leases (ClaimLoop, once the sound server is up).
        // What a killed worker on this folder left running goes first: its displays, browsers, encoders and sound
        // server would hold memory and CPU, and its PulseAudio the runtime folder.
        var ledger = new Processes.ProcessLedger(Path.Combine(workDir, "processes"), time);
        if (identity.Stable)
        {
            var reaped = await ledger.ReapLeftoversAsync(stoppingToken);
            if (reaped.Count > 0)
            {
                LogReaped(logger, string.Join(", ", reaped));
            }
            foreach (var warm in Directory.GetDirectories(workDir, "warm-*"))
            {
                Directory.Delete(warm, recursive: true);
            }
        }
        // The unprivileged user the display, sound, browser and capture run as: without it, no recording here (the
        // jobs stay queued for another worker).
        Processes.ProcessUser user;
        try
        {
            user = await RecorderUser.ResolveAsync(o, workDir, logger, stoppingToken);
        }
        catch (Exception e) when (e is InvalidOperationException or Processes.ChildProcessException or IOException or UnauthorizedAccessException or TimeoutException)
        {
            LogUserFailed(logger, e.Message);
            return;
        }
        await using var pulse = new PulseServer(o, Path.Combine(workDir, "pulse"), ledger, user, logger, time);
        var http = httpClients.CreateClient("recorder");
        await using var pool = new WarmPool(o, pulse, http, workDir, ledger, user, logger, time);
        var ctx = new RecorderContext(o, scopes, pulse, bucket, http, signals, time, loggers.CreateLogger<RecordingJob>(), owner, serverUrl, workDir, pool, spool, protector, ledger, user, metrics, stoppingToken);
        LogStarted(logger, o.Slots, workDir);
        try
        {
            await pulse.EnsureStartedAsync(stoppingToken);
        }
        catch (Exception e) when (e is Processes.ChildProcessException or IOException)
        {
            LogPulseFailed(logger, e.Message);
        }

        // Warm surfaces for the slots, launched now: a recording taken back below takes the first one that lands.
        pool.Replenish(o.WarmSurfaces, stoppingToken);
        var recordings = new System.Collections.Concurrent.ConcurrentDictionary<Guid, bool>();
        // Admission by measured cost (CostMeter): the recordings' processes sampled every few seconds, PulseAudio shared.
        costs?.Share(() => pulse.ProcessId is { } p ? [p] : []);
        var sampling = costs?.RunAsync(stoppingToken) ?? Task.CompletedTask;
        RecorderLoad Load() => new(o.Slots, recordings.Count, pool.ReadyCount, costs?.Snapshot());
        metrics?.AttachRecorder(Load, owner); // slots/busy gauges, readiness, the System page's "this server"
        // The nodes table (the dashboard's System page): this node's slots and load every few seconds.
        var report = RecorderNodes.ReportAsync(scopes, time, owner, metrics?.Node ?? Environment.MachineName, Load, logger, stoppingToken);
        await ClaimLoop.RunAsync(scopes, signals, o, owner, RecordingTypes.Composite, recordings, () => o.Slots - recordings.Count,
            (job, ct) => RunAsync(job, ctx, costs, ct), logger, reclaim: identity.Stable, stoppingToken, costs);
        await report;
        await sampling;
    }

    private static async Task RunAsync(Data.RecorderJobRow job, RecorderContext ctx, CostMeter? costs, CancellationToken ct)
    {
        using var observed = RecordingTelemetry.Begin(job, ctx.Logger, ctx.Owner, await RecordingTelemetry.LookupAsync(job, ctx.Scopes, ct)); // span + log scope
        CompositeCapture? capture = null;
        var run = new RecordingJob(job, ctx.Job, record => capture = new CompositeCapture(record, ctx));
        if (costs is not null)
        {
            await costs.AttachAsync(job, ctx.Scopes, () => capture?.ProcessIds ?? [], ct, () => capture?.Grabbing == true);
        }
        await run.RunAsync(ct);
    }

    /// <summary>The recorder's work folder: <c>Recorder:WorkDir</c>, else <c>{DataDir}/recorder</c>. Choice: when
    /// Capstan runs as root and switches to an unprivileged user, that user must be able to pass every folder above
    /// the work folder; a data folder under one it cannot pass (a clone in <c>/root</c>, mode 0700) gets its work
    /// folder under <c>/var/tmp</c> instead, one per data folder (the same across restarts, so a restarted worker
    /// finds its segments and its node identity there), and a warning says so.</summary>
    internal static string WorkDirFor(RecorderOptions o, string dataDir, ILogger logger)
    {
        if (o.WorkDir is { } set)
        {
            return Path.GetFullPath(set);
        }
        var preferred = Path.GetFullPath(Path.Combine(dataDir, "recorder"));
        if (Processes.ProcessUser.EffectiveUid != 0 || RecorderUser.NameFor(o) is null || PassableByOthers(preferred))
        {
            return preferred;
        }
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(preferred)))[..12];
        var fallback = Path.Combine("/var/tmp", "capstan-recorder-" + hash);
        LogWorkDirMoved(logger, preferred, fallback);
        return fallback;
    }

    /// <summary>Whether every existing folder above <paramref name="path"/> lets any user pass (o+x).</summary>
    internal static bool PassableByOthers(string path)
    {
        for (var dir = Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(dir) && !File.GetUnixFileMode(dir).HasFlag(UnixFileMode.OtherExecute))
            {
                return false;
            }
        }
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder: the recorder's user cannot pass a folder above {Preferred}; its work folder is {WorkDir} (set Recorder:WorkDir to choose)")]
    private static partial void LogWorkDirMoved(ILogger logger, string preferred, string workDir);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder worker started: {Slots} slots, work folder {WorkDir}")]
    private static partial void LogStarted(ILogger logger, int slots, string workDir);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reaped capture processes a killed worker left running: {Processes}")]
    private static partial void LogReaped(ILogger logger, string processes);


    [LoggerMessage(Level = LogLevel.Critical, Message = "The recorder does not run: no unprivileged user for its browser and capture: {Reason}")]
    private static partial void LogUserFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PulseAudio did not start: {Reason}")]
    private static partial void LogPulseFailed(ILogger logger, string reason);

}
