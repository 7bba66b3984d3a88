using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>The recorder worker: claims recorder jobs (lease + heartbeat) and runs one
/// <see cref="RecordingSession"/> per job, up to <see cref="RecorderOptions.Slots"/> at once. Hosted inside
/// <c>capstan serve</c> by default; <c>capstan worker</c> runs it alone.</summary>
public sealed partial class RecorderWorker(
    IOptions<RecorderOptions> recorderOptions, CapstanOptions options, IServiceScopeFactory scopes, DefaultBucket bucket,
    RecorderSignals signals, TimeProvider time, IHttpClientFactory httpClients, IHostApplicationLifetime lifetime,
    Storage.UploadSpool spool, Security.SecretProtector protector, Security.OutboundPolicy outbound,
    ILogger<RecorderWorker> logger, ILoggerFactory loggers, IServer? server = null,
    CapstanMetrics? metrics = null) : BackgroundService
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
        var workDir = Path.GetFullPath(o.WorkDir ?? Path.Combine(options.DataDir, "recorder"));
        Directory.CreateDirectory(workDir);
        using var identity = NodeIdentity.Acquire(workDir, "composite");
        var owner = identity.Owner;
        // This node's own recordings, left by a run of it that was killed, are taken back at once (not after their
        // leases): looked up while the leftovers are reaped and the sound server starts.
        var reclaim = identity.Stable ? ReclaimAsync(owner, o.Lease, stoppingToken) : Task.FromResult<IReadOnlyList<Data.RecorderJobRow>>([]);
        // What a killed worker on this folder left running goes first: its displays, browsers, encoders and sound
        // server would hold memory and CPU, and its PulseAudio the runtime folder.
        var ledger = new Processes.ProcessLedger(Path.Combine(workDir, "processes"));
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
        await using var pulse = new PulseServer(o, Path.Combine(workDir, "pulse"), ledger, logger);
        var http = httpClients.CreateClient("recorder");
        await using var pool = new WarmPool(o, pulse, http, workDir, ledger, logger);
        var ctx = new RecorderContext(o, scopes, pulse, bucket, http, signals, time, loggers.CreateLogger<RecordingSession>(), owner, serverUrl, workDir, pool, spool, protector, ledger, metrics, stoppingToken);
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
        pool.Replenish(o.Slots, stoppingToken);
        var running = new List<Task>();
        var recordings = new System.Collections.Concurrent.ConcurrentDictionary<Guid, bool>();
        RecorderLoad Load() => new(o.Slots, recordings.Count, pool.ReadyCount);
        metrics?.AttachRecorder(Load, owner); // slots/busy gauges, readiness, the System page's "this server"
        // The nodes table (the dashboard's System page): this node's slots and load every few seconds.
        var report = RecorderNodes.ReportAsync(scopes, time, owner, metrics?.Node ?? Environment.MachineName, Load, logger, stoppingToken);
        foreach (var job in await reclaim)
        {
            if (recordings.TryAdd(job.RecordingId, true))
            {
                LogReclaimed(logger, job.RecordingId);
                running.Add(RunAsync(job, ctx, () => recordings.TryRemove(job.RecordingId, out _), stoppingToken));
            }
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            running.RemoveAll(t => t.IsCompleted);
            var claimedAny = false;
            if (running.Count < o.Slots)
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var job = await scope.ServiceProvider.GetRequiredService<JobQueue>().ClaimAsync(owner, o.Lease, stoppingToken);
                    // A job this worker already runs (its lease ran out under load and it claimed it again) is not run twice.
                    if (job is not null && recordings.TryAdd(job.RecordingId, true))
                    {
                        claimedAny = true;
                        running.Add(RunAsync(job, ctx, () => recordings.TryRemove(job.RecordingId, out _), stoppingToken));
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogClaimFailed(logger, e);
                }
            }
            if (claimedAny)
            {
                continue;
            }
            try
            {
                await Task.WhenAny(running.Append(signals.WaitAsync(o.PollInterval, stoppingToken)));
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(running);
        await report;
    }

    private async Task<IReadOnlyList<Data.RecorderJobRow>> ReclaimAsync(string owner, TimeSpan lease, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<JobQueue>().ReclaimAsync(owner, lease, RecordingTypes.Composite, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogClaimFailed(logger, e);
            return [];
        }
    }

    private static async Task RunAsync(Data.RecorderJobRow job, RecorderContext ctx, Action done, CancellationToken ct)
    {
        await Task.Yield();
        using var observed = RecordingTelemetry.Begin(job, ctx.Logger, ctx.Owner, await RecordingTelemetry.LookupAsync(job, ctx.Scopes, ct)); // span + log scope
        try
        {
            await using var session = new RecordingSession(job, ctx);
            await session.RunAsync(ct);
        }
        finally
        {
            done();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder worker started: {Slots} slots, work folder {WorkDir}")]
    private static partial void LogStarted(ILogger logger, int slots, string workDir);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reaped capture processes a killed worker left running: {Processes}")]
    private static partial void LogReaped(ILogger logger, string processes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Took back recording {RecordingId}, which this node was running when it stopped")]
    private static partial void LogReclaimed(ILogger logger, Guid recordingId);

    [LoggerMessage(Level = LogLevel.Error, Message = "PulseAudio did not start: {Reason}")]
    private static partial void LogPulseFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming a recorder job failed")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);
}
