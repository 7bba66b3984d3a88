using System.Globalization;
using Capstan.Server.Processes;

namespace Capstan.Server.Recorder;

/// <summary>One PulseAudio server per worker process (foreground child, no system bus, no default.pa), with a
/// null sink per recording: Chromium plays into <c>PULSE_SINK</c>, the capture records that sink's monitor.
/// <para>Each sink is kept running at a low latency from the moment it is made: a loopback from a silent source
/// plays into it (20 ms). An idle null sink renders in 2-second blocks, so a capture that opened its monitor while
/// nothing played got its first sound up to 2 s late, and its clock (the capture's clock is the audio clock) stood
/// still meanwhile.</para>
/// <para>It runs as the recorder's user (<see cref="RecorderUser"/>), as do the <c>pactl</c> calls, Chromium and the
/// capture: its runtime folder (socket, pid file) is that user's, <c>rwx------</c>, and only that user (and root)
/// reaches the socket; a client of the same user is let in by its credentials, no cookie needed.</para></summary>
public sealed partial class PulseServer(RecorderOptions options, string runtimeDir, Processes.ProcessLedger ledger, ProcessUser user, ILogger logger, TimeProvider time) : IAsyncDisposable
{
    private const string SilenceSource = "capstan_silence";
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, int> _keepalive = new();
    private ChildProcess? _process;
    private bool _priorityWarned;

    public string RuntimeDir { get; } = runtimeDir;

    /// <summary>The sound server's pid while it runs (its cost is shared by the recordings: <see cref="CostMeter.Share"/>).</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public string ServerAddress => "unix:" + Path.Combine(RuntimeDir, "pulse", "native");

    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["XDG_RUNTIME_DIR"] = RuntimeDir,
        ["PULSE_SERVER"] = ServerAddress,
    };

    public async Task EnsureStartedAsync(CancellationToken ct)
    {
        if (_process is { HasExited: false })
        {
            return;
        }
        await _gate.WaitAsync(ct);
        try
        {
            if (_process is { HasExited: false })
            {
                return;
            }
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }
            user.CreateOwnedDirectory(RuntimeDir);
            // What a server that was killed left (this worker reaped it, see ProcessLedger): its pid file names a
            // pid that may still be a zombie no one waits for, which PulseAudio would take for a running daemon;
            // and a folder made by an earlier run as another user would not be this user's. PulseAudio makes it again.
            var stale = Path.Combine(RuntimeDir, "pulse");
            if (Directory.Exists(stale))
            {
                Directory.Delete(stale, recursive: true);
            }
            _process = ledger.Track(ChildProcess.Start("pulseaudio", options.PulseAudio,
                ["--daemonize=no", "--system=false", "--exit-idle-time=-1", "-n", "--load=module-native-protocol-unix", "--load=module-always-sink", "--log-target=stderr", "--log-level=error"],
                // The log is Capstan's, beside the runtime folder (which is the user's).
                Path.Combine(Path.GetDirectoryName(RuntimeDir)!, "pulseaudio.log"), Environment, runAs: user));
            var deadline = time.GetUtcNow().AddSeconds(10);
            while ((await PactlAsync(["info"], ct)).ExitCode != 0)
            {
                if (_process.HasExited || time.GetUtcNow() > deadline)
                {
                    throw new ChildProcessException("pulseaudio", _process.HasExited ? await _process.Exited : -1, _process.Tail());
                }
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, ct);
            }
            var silence = await PactlAsync(["load-module", "module-null-source", $"source_name={SilenceSource}", "rate=48000", "channels=2"], ct);
            if (silence.ExitCode != 0)
            {
                throw new ChildProcessException("pactl", silence.ExitCode, silence.Output);
            }
            RaisePriority();
            LogStarted(logger, _process.Id);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Creates a null sink and returns its module index (for <see cref="UnloadSinkAsync"/>).</summary>
    public async Task<int> LoadSinkAsync(string name, CancellationToken ct)
    {
        await EnsureStartedAsync(ct);
        var r = await PactlAsync(["load-module", "module-null-sink", $"sink_name={name}", $"sink_properties=device.description={name}"], ct);
        if (r.ExitCode != 0 || !int.TryParse(r.Output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var module))
        {
            throw new ChildProcessException("pactl", r.ExitCode, r.Output);
        }
        var loop = await PactlAsync(["load-module", "module-loopback", $"source={SilenceSource}", $"sink={name}", "latency_msec=20",
            "source_dont_move=true", "sink_dont_move=true"], ct);
        if (loop.ExitCode != 0 || !int.TryParse(loop.Output.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var loopModule))
        {
            await UnloadSinkAsync(module, ct);
            throw new ChildProcessException("pactl", loop.ExitCode, loop.Output);
        }
        _keepalive[module] = loopModule;
        // The new sink's thread (and the loopback's) start at the main thread's priority.
        RaisePriority();
        return module;
    }

    /// <summary>As another user PulseAudio cannot raise its own priority (<see cref="Scheduling"/>): Capstan gives it
    /// what it takes as root. Nothing to do when it runs as Capstan's own user (as root it raises itself).</summary>
    private void RaisePriority()
    {
        if (!user.Switches || _process is not { HasExited: false } p)
        {
            return;
        }
        var failed = Scheduling.RaiseLikePulseAudio(p.Id);
        if (failed.Count > 0 && !_priorityWarned)
        {
            _priorityWarned = true;
            LogPriority(logger, string.Join(", ", failed));
        }
    }

    public async Task UnloadSinkAsync(int module, CancellationToken ct)
    {
        if (_process is { HasExited: false })
        {
            if (_keepalive.TryRemove(module, out var loop))
            {
                await PactlAsync(["unload-module", loop.ToString(CultureInfo.InvariantCulture)], ct);
            }
            await PactlAsync(["unload-module", module.ToString(CultureInfo.InvariantCulture)], ct);
        }
    }

    private async Task<(int ExitCode, string Output)> PactlAsync(IEnumerable<string> args, CancellationToken ct)
    {
        var output = new System.Text.StringBuilder();
        await using var p = ChildProcess.Start("pactl", options.Pactl, args, environment: Environment, onLine: l => output.AppendLine(l), runAs: user);
        var code = await p.Exited.WaitAsync(TimeSpan.FromSeconds(10), ct);
        return (code, output.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(2));
            await _process.DisposeAsync();
        }
        _gate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PulseAudio runs without its priority (recordings may lose A/V sync on busy cores): {Failures}")]
    private static partial void LogPriority(ILogger logger, string failures);

    [LoggerMessage(Level = LogLevel.Information, Message = "PulseAudio started (pid {Pid})")]
    private static partial void LogStarted(ILogger logger, int pid);
}
