using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

/// <summary>A real s3rver (npm <c>s3rver</c>, pinned in <c>servers/s3rver/package.json</c>) on a free loopback
/// port, with a fresh data folder and the bucket <c>recordings</c>; stopped (process tree) at the end.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string Bucket = "recordings";

    /// <summary>s3rver's built-in account.</summary>
    public const string AccessKey = "S3RVER";
    public const string Secret = "S3RVER";

    private static readonly SemaphoreSlim NpmLock = new(1, 1);

    private readonly StringBuilder _log = new();
    private Process? _process;
    private string? _dataDir;

    public string Url { get; private set; } = string.Empty;

    public async ValueTask InitializeAsync()
    {
        var dir = ServerDirectory();
        var bin = Path.Combine(dir, "node_modules", ".bin", "s3rver");
        // Both test classes start their own server, in parallel: one npm ci at a time.
        await NpmLock.WaitAsync();
        try
        {
            if (!File.Exists(bin))
            {
                await RunAsync("npm", dir, "ci", "--no-audit", "--no-fund");
            }
        }
        finally
        {
            NpmLock.Release();
        }

        _dataDir = Directory.CreateTempSubdirectory("capstan-s3rver-").FullName;
        _port = TestHttpServer.FreePort();
        Url = $"http://127.0.0.1:{_port}";
        await LaunchAsync();
    }

    private int _port;

    /// <summary>Stops the server (fault tests); <see cref="RestartAsync"/> brings it back on the same port and data.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        _process?.Dispose();
        await LaunchAsync();
    }

    private async Task LaunchAsync()
    {
        var dir = ServerDirectory();
        var bin = Path.Combine(dir, "node_modules", ".bin", "s3rver");
        var port = _port;
        var start = new ProcessStartInfo(bin)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--directory", _dataDir!, "--address", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--configure-bucket", Bucket })
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("s3rver did not start");
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"s3rver exited with {_process.ExitCode}: {LogText()}");
            }
            try
            {
                // Any answer (s3rver lists the buckets) means it is up.
                using var response = await http.GetAsync(new Uri(Url + "/"));
                return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            catch (TaskCanceledException) when (DateTime.UtcNow < deadline)
            {
            }
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (InvalidOperationException)
            {
            }
            catch (TimeoutException)
            {
            }
            _process.Dispose();
        }
        if (_dataDir is not null)
        {
            try
            {
                Directory.Delete(_dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            if (_log.Length < 64 * 1024)
            {
                _log.AppendLine(line);
            }
        }
    }

    private string LogText()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }

    /// <summary><c>tests/Capstan.Storage.Tests/servers/s3rver</c>, found upwards from the test binaries.</summary>
    private static string ServerDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Capstan.Storage.Tests.csproj")))
            {
                return Path.Combine(dir.FullName, "servers", "s3rver");
            }
            var nested = Path.Combine(dir.FullName, "tests", "Capstan.Storage.Tests");
            if (File.Exists(Path.Combine(nested, "Capstan.Storage.Tests.csproj")))
            {
                return Path.Combine(nested, "servers", "s3rver");
            }
        }
        throw new InvalidOperationException("tests/Capstan.Storage.Tests/servers/s3rver not found above " + AppContext.BaseDirectory);
    }

    private static async Task RunAsync(string file, string dir, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed in {dir} ({p.ExitCode}): {await stdout}{await stderr}");
        }
    }
}
