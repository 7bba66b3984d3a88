using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Capstan.Bench.Meeting;

/// <summary>Capstan.Server as a process of its own (<c>dotnet Capstan.Server.dll serve</c>) with a fresh data folder
/// and a bootstrap account, app and token, so its CPU and memory can be read apart from the browsers'; and the
/// Janus it starts as its child.</summary>
public sealed class Server : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private Server(Process process, StreamWriter log, string dataDir, int port, string account, Guid app, string token, string logPath)
    {
        _process = process;
        _log = log;
        DataDir = dataDir;
        Port = port;
        AccountId = account;
        AppId = app;
        Token = token;
        LogPath = logPath;
    }

    public int Pid => _process.Id;

    public int? JanusPid { get; private set; }

    public string DataDir { get; }

    public int Port { get; }

    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");

    public string AccountId { get; }

    public Guid AppId { get; }

    public string Token { get; }

    public string LogPath { get; }

    public string JanusLogPath => Path.Combine(DataDir, "janus", "janus.log");

    public bool HasExited => _process.HasExited;

    public static Server Start(string serverDll, string workDir, string netnsInterface)
    {
        var dataDir = Path.Combine(workDir, "data");
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
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var logPath = Path.Combine(workDir, "server.log");
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
        return new Server(process, log, dataDir, port, account, app, token, logPath);
    }

    /// <summary>Waits for <c>/healthz</c>, then for the Janus child process and its HTTP API (through the server's
    /// <c>/janus/info</c> proxy, which answers 503 until the server has registered a ready Janus).</summary>
    public async Task WaitReadyAsync(HttpClient http, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        var deadline = DateTime.UtcNow + timeout;
        await PollAsync(async () => await OkAsync(http, new Uri(BaseUrl, "/healthz"), ct), "/healthz to answer 200", deadline, ct);
        await PollAsync(() =>
        {
            JanusPid = Proc.Descendants(Pid).FirstOrDefault(p => p.ParentPid == Pid && p.Comm == "janus").Pid is var j and > 0 ? j : null;
            return Task.FromResult(JanusPid is not null);
        }, "the Janus child process", deadline, ct);
        await PollAsync(async () => await OkAsync(http, new Uri(BaseUrl, "/janus/info"), ct), "Janus to answer /janus/info", deadline, ct);
    }

    /// <summary>The Janus pid again (the server restarts Janus if it dies; a benchmark whose Janus changed says so).</summary>
    public int? CurrentJanusPid() =>
        Proc.Descendants(Pid).FirstOrDefault(p => p.ParentPid == Pid && p.Comm == "janus").Pid is var j and > 0 ? j : null;

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

    /// <summary>SIGTERM (the server stops Janus itself), up to <paramref name="timeout"/>, then SIGKILL of the server and Janus.</summary>
    public async Task<int?> StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return _process.ExitCode;
        }
        var janus = CurrentJanusPid();
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
        if (janus is { } j && Proc.Stat(j) is { Comm: "janus" })
        {
            Proc.Signal(j, 9);
        }
        return _process.ExitCode;
    }

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
        await StopAsync(TimeSpan.FromSeconds(15));
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}

public sealed class BenchException(string message) : Exception(message);
