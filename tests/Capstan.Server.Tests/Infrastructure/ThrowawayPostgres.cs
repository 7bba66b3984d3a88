using System.Diagnostics;
using System.Net;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>A PostgreSQL cluster of the test's own (<c>scripts/pg.sh</c>), which the test can halt and resume to
/// play an outage; removed on dispose, also when the test fails.</summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-pg-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly int _port;

    private ThrowawayPostgres(int port) => _port = port;

    public string ConnectionString { get; private set; } = string.Empty;

    public static async Task<ThrowawayPostgres> StartAsync()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var pg = new ThrowawayPostgres(port);
        try
        {
            pg.ConnectionString = (await pg.RunAsync("start")).Trim();
        }
        catch
        {
            await pg.DisposeAsync();
            throw;
        }
        return pg;
    }

    public Task HaltAsync() => RunAsync("halt");

    public Task ResumeAsync() => RunAsync("resume");

    public async ValueTask DisposeAsync() => await RunAsync("stop");

    private async Task<string> RunAsync(string command)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(RepoRoot(), "scripts", "pg.sh"), command, _dir, _port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg.sh {command} exited {p.ExitCode}: {await error}");
        }
        return await output;
    }

    /// <summary>The repository's root: the nearest folder above the test binaries with <c>Capstan.slnx</c>.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Capstan.slnx")))
            {
                return d.FullName;
            }
        }
        throw new InvalidOperationException("Capstan.slnx not found above " + AppContext.BaseDirectory);
    }
}
