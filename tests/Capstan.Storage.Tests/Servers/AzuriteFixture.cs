using System.Diagnostics;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

/// <summary>A real Azurite (blob service only), pinned in <c>servers/azurite/package.json</c>, on a free loopback
/// port with a fresh data folder and telemetry off; the test container is created with the SDK.</summary>
public sealed partial class AzuriteFixture : IAsyncLifetime
{
    public const string AccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known development key (public, documented by Microsoft).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly List<string> _log = [];
    private Process? _process;
    private string? _location;

    public int Port { get; private set; }

    public string Container { get; } = "capstan-" + Guid.NewGuid().ToString("N")[..12];

    public static string ConnectionString(int port, string key = AccountKey) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={key};BlobEndpoint=http://127.0.0.1:{port}/{AccountName};";

    public string ConnectionString(string key = AccountKey) => ConnectionString(Port, key);

    public async ValueTask InitializeAsync()
    {
        var dir = ServerDirectory();
        var main = Path.Combine(dir, "node_modules", "azurite", "dist", "src", "blob", "main.js");
        if (!File.Exists(main))
        {
            await RunAsync("npm", dir, TimeSpan.FromMinutes(10), "ci", "--no-audit", "--no-fund", "--loglevel=error");
        }
        _location = Directory.CreateTempSubdirectory("capstan-azurite-").FullName;
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            main, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", _location,
            "--disableTelemetry", "--skipApiVersionCheck", "--loose",
        })
        {
            start.ArgumentList.Add(arg);
        }
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            lock (_log)
            {
                if (_log.Count < 200)
                {
                    _log.Add(e.Data);
                }
            }
            var m = ListensOn().Match(e.Data);
            if (m.Success)
            {
                listening.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        };
        _process.OutputDataReceived += onLine;
        _process.ErrorDataReceived += onLine;
        _process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException("azurite exited: " + Log()));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            Port = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException("azurite did not start within 60 s: " + Log());
        }

        // It answers once the container can be created.
        var container = new BlobContainerClient(ConnectionString(), Container);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await container.CreateIfNotExistsAsync();
                break;
            }
            catch (Exception) when (attempt < 20)
            {
                await Task.Delay(250);
            }
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
                    await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException)
            {
                // Already gone.
            }
            _process.Dispose();
        }
        if (_location is not null)
        {
            try
            {
                Directory.Delete(_location, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private string Log()
    {
        lock (_log)
        {
            return string.Join('\n', _log);
        }
    }

    /// <summary>tests/Capstan.Storage.Tests/servers/azurite, found upwards from the test binaries.</summary>
    private static string ServerDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            foreach (var candidate in new[]
            {
                Path.Combine(d.FullName, "servers", "azurite"),
                Path.Combine(d.FullName, "tests", "Capstan.Storage.Tests", "servers", "azurite"),
            })
            {
                if (File.Exists(Path.Combine(candidate, "package.json")))
                {
                    return candidate;
                }
            }
        }
        throw new InvalidOperationException("servers/azurite/package.json not found above " + AppContext.BaseDirectory);
    }

    private static async Task RunAsync(string file, string dir, TimeSpan timeout, params string[] args)
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
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {await stdout}\n{await stderr}");
        }
    }

    [GeneratedRegex(@"listens on https?://[^:/\s]+:(\d+)")]
    private static partial Regex ListensOn();
}
