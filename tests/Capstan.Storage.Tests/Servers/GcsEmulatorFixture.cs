using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

/// <summary>The Cloud Storage emulator of npm <c>firebase-tools</c> (pinned in <c>servers/gcs/package.json</c>),
/// on a free loopback port, in a temp folder, for the GCS conformance tests.
/// <para>It is not started with <c>firebase emulators:start --only storage</c>: that command refuses to run
/// without Java 21 (Debian 12 has 17) and downloads a Firebase-rules runtime jar from the internet at start.
/// Both serve only the Firebase API (<c>/v0/...</c>, guarded by security rules); the GCS JSON API that the
/// .NET client uses (<c>/storage/v1/...</c>, <c>/upload/storage/v1/...</c>) bypasses rules. So a small Node
/// script starts firebase-tools' own <c>StorageEmulator</c> with the rules runtime replaced by one that loads
/// no rules (every Firebase-API request is then denied; the GCS JSON API is untouched). Nothing contacts the
/// network: no CLI (no update check, no MOTD, no telemetry: usage tracking needs <c>IS_FIREBASE_CLI</c>), no
/// UI, no hub, and HOME/TMPDIR point into the temp folder.</para></summary>
public sealed class GcsEmulatorFixture : IAsyncLifetime
{
    public const string Bucket = "capstan-conformance";

    private const string Launcher = """
        // Starts the Cloud Storage emulator of firebase-tools without its CLI (see GcsConformanceTests.cs).
        'use strict';
        const path = require('path');
        const [serverDir, portText] = process.argv.slice(2);
        const lib = path.join(serverDir, 'node_modules', 'firebase-tools', 'lib', 'emulator');
        const { StorageEmulator } = require(path.join(lib, 'storage'));
        const { StorageRulesRuntime } = require(path.join(lib, 'storage', 'rules', 'runtime'));
        const { EmulatorRegistry } = require(path.join(lib, 'registry'));
        // The rules runtime is a Java jar fetched from the internet; only the Firebase API (/v0) needs it.
        StorageRulesRuntime.prototype.start = async function () {};
        StorageRulesRuntime.prototype.stop = async function () {};
        StorageEmulator.prototype.createRulesManager = function () {
          return { start: async () => [], stop: async () => {}, getRuleset: () => undefined };
        };
        const port = Number(portText);
        const emulator = new StorageEmulator({ projectId: 'demo-capstan', host: '127.0.0.1', port, auto_download: false });
        EmulatorRegistry.start(emulator).then(
          () => console.log('capstan-gcs-emulator ready on ' + port),
          (e) => { console.error(e); process.exit(1); });
        const stop = () => emulator.stop().finally(() => process.exit(0));
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        """;

    private readonly string _home = Path.Combine(Path.GetTempPath(), "capstan-gcs-" + Guid.NewGuid().ToString("N"));
    private Process? _process;
    private readonly System.Text.StringBuilder _log = new();

    public string Endpoint { get; private set; } = string.Empty;

    /// <summary>How long the emulator took to answer (reported by the tests' output).</summary>
    public TimeSpan StartTime { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var serverDir = ServerDir();
        await EnsureInstalledAsync(serverDir);
        Directory.CreateDirectory(Path.Combine(_home, "tmp"));
        var launcher = Path.Combine(_home, "launch.cjs");
        await File.WriteAllTextAsync(launcher, Launcher);

        var port = TestHttpServer.FreePort();
        Endpoint = $"http://127.0.0.1:{port}";
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = _home,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(launcher);
        psi.ArgumentList.Add(serverDir);
        psi.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Isolate(psi);
        var clock = Stopwatch.StartNew();
        _process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the GCS emulator exited ({_process.ExitCode}):\n{LogText()}");
            }
            if (clock.Elapsed > TimeSpan.FromSeconds(90))
            {
                throw new TimeoutException($"the GCS emulator did not answer on {Endpoint}:\n{LogText()}");
            }
            try
            {
                using var answer = await http.GetAsync(new Uri(Endpoint + "/b"));
                if (answer.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        StartTime = clock.Elapsed;

        // The emulator has no bucket-create call in its GCS API: any request that names a bucket creates it.
        using var create = await http.GetAsync(new Uri($"{Endpoint}/storage/v1/b/{Bucket}/o"));
        create.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A syntactically valid service-account key with a fresh RSA key. Its <c>token_uri</c> points at
    /// a dead port: the destination signs its own JWT and must never ask for a token.</summary>
    public static string ServiceAccountJson()
    {
        using var rsa = RSA.Create(2048);
        return JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = "demo-capstan",
            ["private_key_id"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)),
            ["private_key"] = rsa.ExportPkcs8PrivateKeyPem() + "\n",
            ["client_email"] = "capstan-test@demo-capstan.iam.gserviceaccount.com",
            ["client_id"] = "100000000000000000001",
            ["auth_uri"] = "https://accounts.google.com/o/oauth2/auth",
            ["token_uri"] = $"http://127.0.0.1:{TestHttpServer.FreePort()}/token",
        });
    }

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private string LogText()
    {
        lock (_log)
        {
            return _log.ToString();
        }
    }

    /// <summary>HOME, TMPDIR and config in the temp folder; nothing that turns on the CLI's telemetry.</summary>
    private void Isolate(ProcessStartInfo psi)
    {
        psi.Environment["HOME"] = _home;
        psi.Environment["TMPDIR"] = Path.Combine(_home, "tmp");
        psi.Environment["XDG_CONFIG_HOME"] = Path.Combine(_home, ".config");
        psi.Environment["XDG_CACHE_HOME"] = Path.Combine(_home, ".cache");
        psi.Environment.Remove("IS_FIREBASE_CLI");
        psi.Environment.Remove("GOOGLE_APPLICATION_CREDENTIALS");
        psi.Environment["NO_UPDATE_NOTIFIER"] = "1";
        psi.Environment["npm_config_update_notifier"] = "false";
    }

    private static string ServerDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Capstan.Storage.Tests", "servers", "gcs");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("tests/Capstan.Storage.Tests/servers/gcs not found above " + AppContext.BaseDirectory);
    }

    /// <summary><c>npm ci</c> from the lock file when node_modules is missing. Install scripts are skipped
    /// (only protobufjs's version notice and the optional re2 build, which would try to download).</summary>
    private static async Task EnsureInstalledAsync(string serverDir)
    {
        if (File.Exists(Path.Combine(serverDir, "node_modules", "firebase-tools", "package.json")))
        {
            return;
        }
        var psi = new ProcessStartInfo("npm")
        {
            WorkingDirectory = serverDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "ci", "--ignore-scripts", "--omit=optional", "--no-audit", "--no-fund" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["npm_config_update_notifier"] = "false";
        using var npm = Process.Start(psi) ?? throw new InvalidOperationException("npm did not start");
        var stdout = npm.StandardOutput.ReadToEndAsync();
        var stderr = npm.StandardError.ReadToEndAsync();
        await npm.WaitForExitAsync();
        if (npm.ExitCode != 0)
        {
            throw new InvalidOperationException($"npm ci in {serverDir} failed ({npm.ExitCode}):\n{await stdout}\n{await stderr}");
        }
    }
}
