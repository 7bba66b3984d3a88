using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Capstan.Server.Processes;

namespace Capstan.Server.Recorder;

/// <summary>What a recording is captured from: an X display of its own (<c>Xvfb -displayfd</c>), a PulseAudio
/// null sink of its own, and a Chromium app window at the top-left of the display, driven over DevTools.
/// Launched ahead of time (warm) so that a recording only resizes the window and navigates.
/// <para>Xvfb and Chromium run as the recorder's user (<see cref="RecorderUser"/>), Chromium with its sandbox on.
/// The surface's folder is Capstan's (the logs are written there); the browser profile inside it is the user's.</para></summary>
public sealed class CaptureSurface : IAsyncDisposable
{
    private CaptureSurface(string dir, string sink, int sinkModule, int display, ChildProcess xvfb, ChildProcess chromium, Cdp cdp, PulseServer pulse, WarmCapture? capture)
    {
        _capture = capture;
        Dir = dir;
        Sink = sink;
        SinkModule = sinkModule;
        Display = display;
        Xvfb = xvfb;
        Chromium = chromium;
        Cdp = cdp;
        _pulse = pulse;
    }

    private readonly PulseServer _pulse;
    private WarmCapture? _capture;

    public string Dir { get; }

    public string Sink { get; }

    public int SinkModule { get; }

    public int Display { get; }

    public ChildProcess Xvfb { get; }

    public ChildProcess Chromium { get; }

    public Cdp Cdp { get; }

    public bool Healthy => !Xvfb.HasExited && !Chromium.HasExited;

    public static async Task<CaptureSurface> LaunchAsync(RecorderOptions o, PulseServer pulse, HttpClient http, string dir, Processes.ProcessLedger ledger, ProcessUser user, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(user);
        Directory.CreateDirectory(dir);
        user.ShareDirectory(dir);
        var displayReady = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var xvfb = ledger.Track(ChildProcess.Start("Xvfb", o.Xvfb, MediaArgs.Xvfb(o.MaxWidth, o.MaxHeight), Path.Combine(dir, "xvfb.log"), runAs: user, onLine: line =>
        {
            if (int.TryParse(line.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var d))
            {
                displayReady.TrySetResult(d);
            }
        }));
        ChildProcess? chromium = null;
        var sinkModule = -1;
        var profile = Path.Combine(dir, ProfileFolder);
        try
        {
            var first = await Task.WhenAny(displayReady.Task, xvfb.Exited, Task.Delay(TimeSpan.FromSeconds(10), time, ct));
            if (first != displayReady.Task)
            {
                throw new ChildProcessException("Xvfb", xvfb.HasExited ? await xvfb.Exited : -1, xvfb.Tail());
            }
            var display = await displayReady.Task;
            var sink = "rec_" + Guid.NewGuid().ToString("N")[..12];
            sinkModule = await pulse.LoadSinkAsync(sink, ct);
            user.CreateOwnedDirectory(profile);
            var env = new Dictionary<string, string>(pulse.Environment)
            {
                ["DISPLAY"] = ":" + display.ToString(CultureInfo.InvariantCulture),
                ["PULSE_SINK"] = sink,
            };
            chromium = ledger.Track(ChildProcess.Start("chromium", o.Chromium, MediaArgs.Chromium(profile, 640, 360, MediaArgs.BlankApp, o.BrowserProxyServer, sandbox: user.Uid != 0), Path.Combine(dir, "chromium.log"), env, runAs: user));
            // A browser that exits at once (no usable sandbox: unprivileged user namespaces turned off on the host)
            // says why in its output: that, not a DevTools timeout.
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var connect = Cdp.ConnectAsync(profile, http, TimeSpan.FromSeconds(20), time, connecting.Token);
            if (await Task.WhenAny(connect, chromium.Exited) != connect)
            {
                await connecting.CancelAsync();
                try
                {
                    await connect;
                }
                catch (OperationCanceledException)
                {
                    // given up: the browser is gone
                }
                throw new ChildProcessException("chromium", await chromium.Exited, chromium.Tail());
            }
            var cdp = await connect;
            // Its capture, held ready (Recorder:WarmCapture): it warms while the surface waits for a recording.
            // A recorder's user that cannot reach the server's own files (a build under /root) cannot run it: then none.
            var hostPath = Media.Capture.CaptureHost.DefaultHostPath();
            var capture = o.WarmCapture && (!user.Switches || RecorderWorker.PassableByOthers(hostPath))
                ? WarmCapture.Start(hostPath, Path.Combine(dir, "capture-host.log"), env, ledger, user)
                : null;
            return new CaptureSurface(dir, sink, sinkModule, display, xvfb, chromium, cdp, pulse, capture);
        }
        catch
        {
            if (chromium is not null)
            {
                // A launch given up (the server stopping while a surface warms, a DevTools timeout) leaves the
                // browser's singleton folder too (a CI run: one in /tmp after a media fixture's server stopped).
                await StopBrowserAsync(profile, () => chromium.DisposeAsync().AsTask());
            }
            if (sinkModule >= 0)
            {
                await pulse.UnloadSinkAsync(sinkModule, CancellationToken.None);
            }
            await xvfb.DisposeAsync();
            throw;
        }
    }

    /// <summary>The surface's capture host if it is warm (the caller owns it from then on), else null: the caller
    /// starts a <c>gst-launch-1.0</c> instead. Taken once; later segments of the recording start their own.</summary>
    public WarmCapture? TakeCapture()
    {
        if (_capture is not { Ready: true } ready)
        {
            return null;
        }
        _capture = null;
        return ready;
    }

    /// <summary>Sizes the window to the recording and loads <paramref name="url"/>.</summary>
    public async Task ShowAsync(string url, int width, int height, CancellationToken ct)
    {
        var window = await Cdp.SendAsync("Browser.getWindowForTarget", null, ct);
        await Cdp.SendAsync("Browser.setWindowBounds", new JsonObject
        {
            ["windowId"] = window!["windowId"]!.GetValue<int>(),
            ["bounds"] = new JsonObject { ["left"] = 0, ["top"] = 0, ["width"] = width, ["height"] = height, ["windowState"] = "normal" },
        }, ct);
        await Cdp.NavigateAsync(url, ct);
    }

    /// <summary>The browser profile's folder in a surface's folder (the recorder user's).</summary>
    private const string ProfileFolder = "chromium-profile";

    /// <summary>Removes the folder Chromium keeps its profile's singleton socket in: not the profile (a socket's path
    /// must be short) but a folder of its own in the temporary directory (<c>/tmp/org.chromium.Chromium.XXXXXX</c>),
    /// which the profile's <c>SingletonSocket</c> links to. A browser that is stopped (as a surface's always is) leaves
    /// it behind: one folder a surface, 510 of them in this machine's <c>/tmp</c> after a day of media tests.</summary>
    public static void RemoveSingletonFolder(string profile) => RemoveFolder(SingletonFolder(profile));

    /// <summary>The singleton folder the profile's <c>SingletonSocket</c> links to (<see cref="RemoveSingletonFolder"/>),
    /// or null: none yet, or not Chromium's. Read before the browser is stopped, as a browser that shuts down in
    /// time may take the link away but not the folder.</summary>
    private static string? SingletonFolder(string profile)
    {
        try
        {
            return new FileInfo(Path.Combine(profile, "SingletonSocket")).LinkTarget is { } target
                && Path.GetDirectoryName(target) is { } folder && Path.IsPathRooted(folder)
                && Path.GetFileName(folder).StartsWith("org.chromium.Chromium.", StringComparison.Ordinal) ? folder : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Stops a surface's browser by <paramref name="stop"/> and removes its singleton folder: found before the
    /// stop (<see cref="SingletonFolder"/>), or after it when the browser had not linked it yet.</summary>
    private static async Task StopBrowserAsync(string profile, Func<Task> stop)
    {
        var singleton = SingletonFolder(profile);
        await stop();
        RemoveFolder(singleton ?? SingletonFolder(profile));
    }

    private static void RemoveFolder(string? folder)
    {
        if (folder is null)
        {
            return;
        }
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone already, or not ours to remove
        }
    }

    /// <summary><see cref="RemoveSingletonFolder"/> for every surface's folder (<c>warm-*</c>) in a worker's
    /// <paramref name="workDir"/>: what a killed worker's browsers left.</summary>
    public static void RemoveSingletonFolders(string workDir)
    {
        if (!Directory.Exists(workDir))
        {
            return;
        }
        foreach (var surface in Directory.GetDirectories(workDir, "warm-*"))
        {
            RemoveSingletonFolder(Path.Combine(surface, ProfileFolder));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_capture is not null)
        {
            await _capture.DisposeAsync();
        }
        await Cdp.DisposeAsync();
        await StopBrowserAsync(Path.Combine(Dir, ProfileFolder), async () =>
        {
            await Chromium.StopAsync(TimeSpan.FromSeconds(3));
            await Chromium.DisposeAsync();
        });
        await Xvfb.StopAsync(TimeSpan.FromSeconds(2));
        await Xvfb.DisposeAsync();
        await _pulse.UnloadSinkAsync(SinkModule, CancellationToken.None);
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // a file still held by an exiting process; the next sweep of the work folder removes it
        }
    }
}

/// <summary>Warm capture surfaces, one per worker slot, launched ahead of the recordings that will use them.</summary>
public sealed partial class WarmPool(RecorderOptions options, PulseServer pulse, HttpClient http, string workDir, Processes.ProcessLedger ledger, ProcessUser user, ILogger logger, TimeProvider time) : IAsyncDisposable
{
    private readonly ConcurrentQueue<CaptureSurface> _ready = new();
    private readonly SemaphoreSlim _landed = new(0);
    private int _launching;

    /// <summary>Warm surfaces that are still healthy (readiness, metrics).</summary>
    public int ReadyCount => _ready.Count(s => s.Healthy);

    /// <summary>A healthy warm surface; if none is ready but one is being launched, that one (launching a second
    /// would only slow both down); null when none is coming (the caller launches one itself).</summary>
    public async Task<CaptureSurface?> TakeAsync(CancellationToken ct = default)
    {
        var deadline = time.GetUtcNow().AddSeconds(20);
        while (true)
        {
            while (_ready.TryDequeue(out var s))
            {
                if (s.Healthy)
                {
                    return s;
                }
                await s.DisposeAsync();
            }
            if (Volatile.Read(ref _launching) == 0 || time.GetUtcNow() > deadline)
            {
                return null;
            }
            await _landed.WaitAsync(TimeSpan.FromMilliseconds(200), ct);
        }
    }

    /// <summary>Launches surfaces in the background until <paramref name="wanted"/> are warm or launching.</summary>
    public void Replenish(int wanted, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            return; // the worker is draining or stopping: no new surfaces
        }
        while (_ready.Count + Volatile.Read(ref _launching) < wanted)
        {
            Interlocked.Increment(ref _launching);
            _ = Task.Run(async () =>
            {
                try
                {
                    var s = await CaptureSurface.LaunchAsync(options, pulse, http, Path.Combine(workDir, "warm-" + Guid.NewGuid().ToString("N")[..8]), ledger, user, time, ct);
                    _ready.Enqueue(s);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    LogWarmFailed(logger, e.Message);
                }
                finally
                {
                    Interlocked.Decrement(ref _launching);
                    _landed.Release();
                }
            }, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        while (_ready.TryDequeue(out var s))
        {
            await s.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Launching a warm capture surface failed: {Reason}")]
    private static partial void LogWarmFailed(ILogger logger, string reason);
}
