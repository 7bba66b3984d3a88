using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>The recorder worker: claims recorder jobs (lease + heartbeat) and runs one
/// <see cref="RecordingJob"/> with a <see cref="CompositeCapture"/> per job, up to <see cref="RecorderOptions.Slots"/> at once. Hosted inside
/// <c>capstan serve</c> by default; <c>capstan worker</c> runs it alone.
/// <para>Told to stop, it drains (<see cref="RecorderDrain"/>) in <see cref="StoppingAsync"/>, which the host calls
/// for every service before it stops any: so the web server, Janus and the signal bridge of <c>serve</c> keep running
/// while its recordings finish or are handed over.</para></summary>
public sealed partial class RecorderWorker(
    IOptions<RecorderOptions> recorderOptions, CapstanOptions options, IServiceScopeFactory scopes, DefaultBucket bucket,
    RecorderSignals signals, TimeProvider time, IHttpClientFactory httpClients, IHostApplicationLifetime lifetime,
    Storage.UploadSpool spool, Security.SecretProtector protector, Security.OutboundPolicy outbound,
    ILogger<RecorderWorker> logger, ILoggerFactory loggers, IServer? server = null,
    CapstanMetrics? metrics = null, CostMeter? costs = null, Meetings.JanusInstances? janus = null,
    IOptions<Meetings.JanusOptions>? janusOptions = null) : BackgroundService, IHostedLifecycleService
{
    // Completed once no recording runs here any more (the claim loop ended, or never began).
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RecorderDrain? _drain;
    private Func<Task>? _announce;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = recorderOptions.Value;
        if (!o.Enabled)
        {
            _idle.TrySetResult();
            return;
        }
        _drain = new RecorderDrain(o.DrainTimeout, time, logger);
        try
        {
            await RunWorkerAsync(o, stoppingToken);
        }
        finally
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>The drain: no new claims at once; the running recordings go on for at most
    /// <see cref="RecorderOptions.DrainTimeout"/>, then are handed over. <paramref name="cancellationToken"/> is the
    /// host's shutdown deadline (raised to cover the drain: <see cref="CapstanHost.AddRecorder"/>).</summary>
    public Task StoppingAsync(CancellationToken cancellationToken) =>
        _drain is { } drain ? drain.RunAsync(_idle.Task, () => _announce?.Invoke() ?? Task.CompletedTask, cancellationToken) : Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Dispose()
    {
        _drain?.Dispose();
        base.Dispose();
    }

    private async Task RunWorkerAsync(RecorderOptions o, CancellationToken stoppingToken)
    {
        // Claims stop when the drain begins; the recordings when it runs out (or when the host stops outright).
        using var claiming = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _drain!.Claims);
        using var recording = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _drain.Recordings);
        var serverUrl = o.ServerUrl;
        if (serverUrl is null)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await Task.WhenAny(started.Task, Task.Delay(Timeout.Infinite, claiming.Token));
            }
            if (claiming.IsCancellationRequested)
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
            CaptureSurface.RemoveSingletonFolders(workDir);
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
        var ctx = new RecorderContext(o, scopes, pulse, bucket, http, signals, time, loggers.CreateLogger<RecordingJob>(), owner, serverUrl, workDir, pool, spool, protector, ledger, user, metrics, claiming.Token);
        LogStarted(logger, o.Slots, workDir, o.Compositor ?? RecorderOptions.BrowserCompositor);
        try
        {
            await pulse.EnsureStartedAsync(stoppingToken);
        }
        catch (Exception e) when (e is Processes.ChildProcessException or IOException)
        {
            LogPulseFailed(logger, e.Message);
        }

        // Warm surfaces for the slots, launched now: a recording taken back below takes the first one that lands.
        pool.Replenish(o.WarmSurfaces, claiming.Token);
        var recordings = new System.Collections.Concurrent.ConcurrentDictionary<Guid, bool>();
        // Admission by measured cost (CostMeter): the recordings' processes sampled every few seconds, PulseAudio shared.
        costs?.Share(() => pulse.ProcessId is { } p ? [p] : []);
        var sampling = costs?.RunAsync(stoppingToken) ?? Task.CompletedTask;
        RecorderLoad Load() => new(o.Slots, recordings.Count, pool.ReadyCount, costs?.Snapshot()) { DrainingSince = _drain.Since };
        metrics?.AttachRecorder(Load, owner); // slots/busy gauges, readiness, the System page's "this server"
        // The nodes table (the dashboard's System page): this node's slots and load every few seconds, until the
        // host stops it (after the drain); the drain's start is written at once.
        var node = metrics?.Node ?? Environment.MachineName;
        var since = time.GetUtcNow().UtcDateTime;
        _announce = async () =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await RecorderNodes.WriteAsync(scopes, time, owner, node, since, Load(), cts.Token);
        };
        var report = RecorderNodes.ReportAsync(scopes, time, owner, node, Load, logger, stoppingToken);
        // The loop claims until the drain begins, then waits for its recordings; these run on their own token, which
        // the drain cancels when it runs out (a hand-over), not when claims stop.
        var beside = janus is null || janusOptions is null ? null : ClaimBeside(o, janusOptions.Value, () => janus.All);
        await ClaimLoop.RunAsync(scopes, signals, o, owner, RecordingTypes.Composite, recordings, () => o.Slots - recordings.Count,
            (job, _) => RunAsync(job, ctx, costs, recording.Token), logger, reclaim: identity.Stable, claiming.Token, costs, janusUrls: beside);
        _idle.TrySetResult();
        await report;
        await sampling;
    }

    /// <summary>The Janus instances whose rooms this worker's composite recordings may be of (the claim's filter,
    /// <see cref="JobQueue.ClaimAsync"/>), or null for any. The native compositor asks the room's Janus to forward
    /// its RTP to this machine's loopback: like the track recorder, a native worker claims only recordings of
    /// meetings whose room is on a Janus beside it (<see cref="Meetings.JanusOptionsValidator.BesideUrls"/>), or
    /// that have no room yet (<see cref="NativeComposite"/> places it beside). Choice: the filter is the worker's, so
    /// on a native worker a custom <c>url</c>'s recording (the browser's) is held to it too. The browser compositor
    /// records any room (its page joins as a participant would).</summary>
    internal static Func<IReadOnlyCollection<string>>? ClaimBeside(RecorderOptions o, Meetings.JanusOptions janusOptions, Func<IReadOnlyList<Meetings.JanusInstance>> instances) =>
        o.Compositor == RecorderOptions.NativeCompositor ? () => Meetings.JanusOptionsValidator.BesideUrls(janusOptions, instances()) : null;

    private static async Task RunAsync(Data.RecorderJobRow job, RecorderContext ctx, CostMeter? costs, CancellationToken ct)
    {
        using var observed = RecordingTelemetry.Begin(job, ctx.Logger, ctx.Owner, await RecordingTelemetry.LookupAsync(job, ctx.Scopes, ct)); // span + log scope
        CompositeCapture? capture = null;
        var run = new RecordingJob(job, ctx.Job, record => capture = new CompositeCapture(record, ctx));
        if (costs is not null)
        {
            await costs.AttachAsync(job, ctx.Scopes, () => capture?.ProcessIds ?? [], ct, () => capture is { Grabbing: true } c && c.KeepingUp());
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder worker started: {Slots} slots, work folder {WorkDir}, built-in layout composited by the {Compositor} compositor (Recorder:Compositor)")]
    private static partial void LogStarted(ILogger logger, int slots, string workDir, string compositor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reaped capture processes a killed worker left running: {Processes}")]
    private static partial void LogReaped(ILogger logger, string processes);


    [LoggerMessage(Level = LogLevel.Critical, Message = "The recorder does not run: no unprivileged user for its browser and capture: {Reason}")]
    private static partial void LogUserFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PulseAudio did not start: {Reason}")]
    private static partial void LogPulseFailed(ILogger logger, string reason);

}
