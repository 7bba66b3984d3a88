using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Capstan.Server.Hosting;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

/// <summary><c>capstan serve</c> and <c>capstan token create</c> as processes: bootstrap from the environment on a
/// new data folder, reuse on later starts, a clean exit on SIGTERM.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "capstan-cli-" + Guid.NewGuid().ToString("N"));
    private readonly string _account = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private readonly Guid _app = Guid.NewGuid();
    private readonly string _token = "cap_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));

    [Fact]
    public async Task Serve_BootstrapsOnNewDataFolder_ReusesItLater_AndStopsCleanlyOnSigterm()
    {
        var port = TestHttpServer.FreePort();
        var first = await ServeAsync(port, bootstrap: true);
        var path = $"/client/v4/accounts/{_account}/realtime/kit/{_app}/meetings";
        using (var c = Client(port, _token))
        {
            (await c.PostJsonAsync(path, new { title = "from the CLI test" })).Data(HttpStatusCode.Created);
        }
        Assert.Equal(0, await StopAsync(first));

        // Second start on the same folder with other bootstrap values: nothing new is created, old token works.
        var second = await ServeAsync(port, bootstrap: true, tokenOverride: "cap_some_other_token_value_123456789");
        using (var c = Client(port, _token))
        {
            Assert.Single((await c.GetJsonAsync(path)).Data().AsArray());
        }
        using (var c = Client(port, "cap_some_other_token_value_123456789"))
        {
            (await c.GetJsonAsync(path)).Error(HttpStatusCode.Unauthorized);
        }

        var created = await RunAsync(["token", "create", "--account", _account, "--data-dir", _dataDir]);
        Assert.Equal(0, created.ExitCode);
        var newToken = created.Output.Trim();
        Assert.StartsWith("cap_", newToken, StringComparison.Ordinal);
        using (var c = Client(port, newToken))
        {
            Assert.Single((await c.GetJsonAsync(path)).Data().AsArray());
        }
        var unknown = await RunAsync(["token", "create", "--account", "nope", "--data-dir", _dataDir]);
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Equal(0, await StopAsync(second));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static string ServerDll => typeof(CapstanHost).Assembly.Location;

    private async Task<Process> ServeAsync(int port, bool bootstrap, string? tokenOverride = null)
    {
        var psi = Start(["serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", _dataDir]);
        if (bootstrap)
        {
            psi.Environment["CAPSTAN_BOOTSTRAP_ACCOUNT_ID"] = _account;
            psi.Environment["CAPSTAN_BOOTSTRAP_APP_ID"] = _app.ToString();
            psi.Environment["CAPSTAN_BOOTSTRAP_TOKEN"] = tokenOverride ?? _token;
        }
        var p = Process.Start(psi)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var c = Client(port, null);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            Assert.False(p.HasExited, "the server exited during start-up");
            try
            {
                using var r = await c.GetAsync("/healthz", TestContext.Current.CancellationToken);
                if (r.IsSuccessStatusCode)
                {
                    return p;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            Assert.True(DateTime.UtcNow < deadline, "the server did not answer /healthz within 60 s");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    private static async Task<int> StopAsync(Process p)
    {
        Assert.Equal(0, Kill(p.Id, 15));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await p.WaitForExitAsync(cts.Token);
        return p.ExitCode;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string[] args)
    {
        using var p = Process.Start(Start(args))!;
        var output = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        _ = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await output);
    }

    private static ProcessStartInfo Start(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(ServerDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        return psi;
    }

    private static HttpClient Client(int port, string? token)
    {
        var c = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            c.DefaultRequestHeaders.Authorization = new("Bearer", token);
        }
        return c;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
