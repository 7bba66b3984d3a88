using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Capstan.Bench.Recorder;

/// <summary>Capstan.Server as a process of its own (<c>dotnet Capstan.Server.dll serve</c>) with a fresh data folder,
/// a bootstrap account, app and token, and the recorder settings of a scenario; its recorder worker's children
/// (PulseAudio, the warm Xvfb + Chromium surfaces, the gst-launch-1.0 capture of each recording) are read from /proc.</summary>
public sealed class Server : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private Server(Process process, StreamWriter log, string name, string dataDir, int port, string account, Guid app, string token, string logPath, int slots, int frameRate, bool native)
    {
        Native = native;
        _process = process;
        _log = log;
        Name = name;
        DataDir = dataDir;
        Port = port;
        AccountId = account;
        AppId = app;
        Token = token;
        LogPath = logPath;
        Slots = slots;
        FrameRate = frameRate;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public string DataDir { get; }

    /// <summary>The worker's folder: one sub-folder per recording (segments, <c>capture.log</c>), the warm surfaces.</summary>
    public string RecorderDir => Path.Combine(DataDir, "recorder");

    public int Port { get; }

    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");

    public string AccountId { get; }

    public Guid AppId { get; }

    public string Token { get; }

    public string LogPath { get; }

    public int Slots { get; }

    public int FrameRate { get; }

    /// <summary>Started with <c>Recorder__Compositor=native</c>: the built-in layout is composited without a browser
    /// (a <c>capstan-compositor-host</c> child per segment, fed by Janus RTP forwarders).</summary>
    public bool Native { get; }

    /// <summary>The environment a native server gets on top of the others: the native compositor, and no warm capture
    /// hosts in its (idle) browser surfaces, which the native path never uses.</summary>
    public static IReadOnlyDictionary<string, string> NativeEnvironment { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Recorder__Compositor"] = "native",
        ["Recorder__WarmCapture"] = "false",
    };

    /// <param name="environment">Further settings (<see cref="NativeEnvironment"/>), set last.</param>
    public static Server Start(string serverDll, string workDir, string name, string netnsInterface, int slots, int frameRate, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dir = Path.Combine(workDir, name);
        var dataDir = Path.Combine(dir, "data");
        Directory.CreateDirectory(dataDir);
        var port = TestHttpServer.FreePort();
        var account = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var app = Guid.NewGuid();
        var token = "cap_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).Replace('+', '-').Replace('/', '_').TrimEnd('=');
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { serverDll, "serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--data-dir", dataDir })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["CAPSTAN_BOOTSTRAP_ACCOUNT_ID"] = account;
        psi.Environment["CAPSTAN_BOOTSTRAP_APP_ID"] = app.ToString("D");
        psi.Environment["CAPSTAN_BOOTSTRAP_TOKEN"] = token;
        psi.Environment["Janus__Interface"] = netnsInterface;
        psi.Environment["Recorder__FrameRate"] = frameRate.ToString(CultureInfo.InvariantCulture);
        psi.Environment["Recorder__Slots"] = slots.ToString(CultureInfo.InvariantCulture);
        // The concurrency levels load the node past its measured capacity on purpose: the slots alone admit.
        psi.Environment["Recorder__AdmitByCost"] = "false";
        // JSON log lines carry the recording's id (its scope): the start breakdown and the frames grabbed per segment
        // are read from them (CaptureLog).
        psi.Environment["Logging__Format"] = "json";
        // The long scenario records a page this benchmark serves on 127.0.0.1 (custom url).
        psi.Environment["Outbound__AllowedNetworks__0"] = "127.0.0.0/8";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // The browser scenarios measure the browser composite: the server's own default is native where GStreamer
        // is installed. An operator's Recorder__Compositor in the bench's environment is kept.
        if (!psi.Environment.ContainsKey("Recorder__Compositor"))
        {
            psi.Environment["Recorder__Compositor"] = "browser";
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        var native = psi.Environment.TryGetValue("Recorder__Compositor", out var compositor) && compositor == "native";
        var logPath = Path.Combine(dir, "server.log");
        var log = new StreamWriter(new FileStream(logPath, FileMode.Create, FileAccess.Write, FileShare.ReadWrite), Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = psi };
        DataReceivedEventHandler write = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (log)
                {
                    try
                    {
                        log.WriteLine(e.Data);
                    }
                    catch (ObjectDisposedException)
                    {
                        // a last line after the server stopped
                    }
                }
            }
        };
        process.OutputDataReceived += write;
        process.ErrorDataReceived += write;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // run.sh stops a server left behind by a crash of this program.
        File.WriteAllText(Path.Combine(workDir, "server.pid"), process.Id.ToString(CultureInfo.InvariantCulture));
        return new Server(process, log, name, dataDir, port, account, app, token, logPath, slots, frameRate, native);
    }

    /// <summary>Waits for <c>/healthz</c>, Janus (<c>/janus/info</c> through the server's proxy), PulseAudio and the
    /// warm capture surfaces of every slot (an Xvfb and a Chromium each), then lets the launches settle.</summary>
    public async Task WaitReadyAsync(HttpClient http, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var deadline = DateTime.UtcNow + timeout;
        await PollAsync(async () => await OkAsync(http, new Uri(BaseUrl, "/healthz"), ct), "/healthz to answer 200", deadline, ct);
        await PollAsync(async () => await OkAsync(http, new Uri(BaseUrl, "/janus/info"), ct), "Janus to answer /janus/info", deadline, ct);
        await WaitSurfacesAsync(0, deadline, ct);
    }

    /// <summary>Waits until the warm pool is full again: <paramref name="active"/> recordings hold a surface each and
    /// every slot has a warm one (Xvfb and Chromium children of the server), plus PulseAudio; then 2 s to settle
    /// (a Chromium that has just started still loads for a moment).</summary>
    public async Task WaitSurfacesAsync(int active, DateTime deadline, CancellationToken ct)
    {
        // A native server keeps one warm surface (for custom url recordings: RecorderOptions.WarmSurfaces), and its
        // recordings hold none.
        var want = Native ? Math.Min(1, Slots) : active + Slots;
        await PollAsync(() =>
        {
            var (xvfb, chromium, pulse) = Surfaces();
            return Task.FromResult(xvfb >= want && chromium >= want && pulse);
        }, $"{want} capture surfaces (Xvfb + Chromium) and PulseAudio", deadline, ct);
        await Task.Delay(2000, ct);
    }

    /// <summary>The recorder's children now: Xvfb and Chromium (browser processes, one per surface) and whether
    /// PulseAudio runs.</summary>
    public (int Xvfb, int Chromium, bool Pulse) Surfaces()
    {
        var children = Proc.Descendants(Pid).Where(p => p.ParentPid == Pid).ToList();
        return (children.Count(p => p.Comm == "Xvfb"), children.Count(p => p.Comm.StartsWith("chrom", StringComparison.Ordinal)), children.Any(p => p.Comm == "pulseaudio"));
    }

    private async Task PollAsync(Func<Task<bool>> condition, string what, DateTime deadline, CancellationToken ct)
    {
        while (!await condition())
        {
            if (_process.HasExited)
            {
                throw new BenchException($"the server exited ({_process.ExitCode}) while waiting for {what}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException($"timed out waiting for {what}");
            }
            await Task.Delay(200, ct);
        }
    }

    private static async Task<bool> OkAsync(HttpClient http, Uri url, CancellationToken ct)
    {
        try
        {
            using var r = await http.GetAsync(url, ct);
            return r.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>SIGTERM (the server stops Janus, PulseAudio and the recorder's processes itself), up to
    /// <paramref name="timeout"/>, then SIGKILL of the whole tree. Returns the exit code, or null when it was killed.</summary>
    public async Task<int?> StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return _process.ExitCode;
        }
        var children = Proc.Descendants(Pid);
        Proc.Signal(Pid, 15);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
            return null;
        }
        // Anything of the server's tree still there 5 s after it exited (it should not be): named, and killed.
        List<ProcStat> Left() => children.Where(c => Proc.Stat(c.Pid) is { } s && s.StartTime == c.StartTime).ToList();
        var left = Left();
        for (var i = 0; i < 50 && left.Count > 0; i++)
        {
            await Task.Delay(100, CancellationToken.None);
            left = Left();
        }
        foreach (var c in left)
        {
            Proc.Signal(c.Pid, 9);
        }
        if (left.Count > 0)
        {
            Console.WriteLine($"   note: {left.Count} process(es) of the server's tree were still running 5 s after it exited, killed: " +
                string.Join(", ", left.GroupBy(c => c.Comm).Select(g => $"{g.Count()} {g.Key}")));
        }
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    public static string Tail(string path, int lines)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(s);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no " + path + ")";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(20));
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}

public sealed class BenchException(string message) : Exception(message);
