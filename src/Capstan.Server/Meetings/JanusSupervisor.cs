using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Capstan.Server.Hosting;
using Capstan.Server.Processes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Meetings;

/// <summary>Runs the local Janus as a child of the server: a generated config in <c>{DataDir}/janus/conf</c>
/// (random admin secret and VideoRoom admin key, transports on loopback), started once the server listens (the
/// event handler posts back to it), restarted with backoff when it dies, stopped with the server. With
/// <c>Janus:Urls</c> set it starts nothing and registers the external instances instead.</summary>
public sealed partial class JanusSupervisor(
    IOptions<JanusOptions> janusOptions, IOptions<TurnOptions> turnOptions, CapstanOptions options, JanusInstances instances, IHttpClientFactory httpClients,
    IServer server, IHostApplicationLifetime lifetime, ILogger<JanusSupervisor> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = janusOptions.Value;
        if (!o.Enabled)
        {
            return;
        }
        if (o.Urls.Count > 0)
        {
            var key = o.AdminKey ?? throw new InvalidOperationException("Janus:AdminKey is required with Janus:Urls");
            var pwd = o.EventsPassword ?? throw new InvalidOperationException("Janus:EventsPassword is required with Janus:Urls");
            instances.Set(o.Urls.Select(u => new JanusInstance(new JanusClient(httpClients.CreateClient("janus"), new Uri(u.TrimEnd('/')), key), pwd, u, 1)));
            await KeepAliveLoopAsync(stoppingToken);
            return;
        }

        // The event handler needs the server's own address: wait until Kestrel listens.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await Task.WhenAny(started.Task, Task.Delay(Timeout.Infinite, stoppingToken));
        }
        if (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        var serverUrl = server.Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal);
        var keepAlive = KeepAliveLoopAsync(stoppingToken);
        var backoff = TimeSpan.FromSeconds(1);
        var generation = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            generation++;
            var startedAt = DateTime.UtcNow;
            try
            {
                await RunOnceAsync(o, serverUrl, generation, stoppingToken);
            }
            catch (Exception e) when (e is ChildProcessException or JanusException or HttpRequestException or IOException or TimeoutException)
            {
                LogJanusFailed(logger, e.Message);
            }
            instances.Set([]);
            if (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            backoff = DateTime.UtcNow - startedAt > TimeSpan.FromMinutes(1) ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
            LogRestarting(logger, backoff.TotalSeconds);
            try
            {
                await Task.Delay(backoff, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await keepAlive;
    }

    private async Task RunOnceAsync(JanusOptions o, string serverUrl, int generation, CancellationToken stoppingToken)
    {
        var root = Path.Combine(options.DataDir, "janus");
        var conf = Path.Combine(root, "conf");
        Directory.CreateDirectory(conf);
        Directory.CreateDirectory(o.RecordingsDir ?? Path.Combine(root, "recordings"));
        var httpPort = o.HttpPort > 0 ? o.HttpPort : FreePort();
        var turn = turnOptions.Value;
        var eventsPassword = Secret();
        var spec = new JanusConfigSpec(conf, JanusConfig.FindLibFolder(), httpPort, FreePort(), Secret(), Secret(),
            serverUrl.TrimEnd('/') + "/internal/janus-events", eventsPassword, o.Interface, o.PublicIp, o.RtpPortRange,
            turn.Janus && turn.TurnUrls.Count > 0 ? serverUrl.TrimEnd('/') + "/internal/turn-credentials" : null, eventsPassword);
        foreach (var (name, text) in JanusConfig.Files(spec))
        {
            var path = Path.Combine(conf, name);
            await File.WriteAllTextAsync(path, text, stoppingToken);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        await using var janus = ChildProcess.Start("janus", o.Binary, ["-F", conf, "-C", Path.Combine(conf, "janus.jcfg"), "-o", "-D"], Path.Combine(root, "janus.log"));
        var client = new JanusClient(httpClients.CreateClient("janus"), new Uri($"http://127.0.0.1:{httpPort}/janus"), spec.VideoRoomAdminKey);
        var deadline = DateTime.UtcNow + o.StartTimeout;
        while (true)
        {
            if (janus.HasExited)
            {
                throw new ChildProcessException("janus", await janus.Exited, janus.Tail());
            }
            try
            {
                await client.InfoAsync(stoppingToken);
                break;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, stoppingToken);
            }
        }
        LogJanusReady(logger, janus.Id, httpPort);
        instances.Set([new JanusInstance(client, spec.EventsPassword, "/janus", generation)]);
        try
        {
            var code = await janus.Exited.WaitAsync(stoppingToken);
            throw new ChildProcessException("janus", code, janus.Tail());
        }
        catch (OperationCanceledException)
        {
            instances.Set([]);
            await janus.StopAsync(o.StopTimeout, p => Task.FromResult(p.Signal(2)));
        }
    }

    private async Task KeepAliveLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(20));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                foreach (var i in instances.All)
                {
                    try
                    {
                        await i.Client.KeepAliveAsync(ct);
                    }
                    catch (HttpRequestException e)
                    {
                        LogKeepAliveFailed(logger, i.Client.BaseUrl, e.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private static string Secret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Janus ready (pid {Pid}, HTTP API on 127.0.0.1:{Port})")]
    private static partial void LogJanusReady(ILogger logger, int pid, int port);

    [LoggerMessage(Level = LogLevel.Error, Message = "Janus failed: {Reason}")]
    private static partial void LogJanusFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Restarting Janus in {Seconds} s")]
    private static partial void LogRestarting(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Janus keepalive to {Url} failed: {Reason}")]
    private static partial void LogKeepAliveFailed(ILogger logger, Uri url, string reason);
}
