using System.Diagnostics;
using Capstan.Server.Hosting;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

/// <summary>The units <c>./capstan install</c> writes: accepted by <c>systemd-analyze verify</c> (against the real
/// built executable) without a warning, with the settings that keep a crash from leaving capture processes behind.</summary>
public sealed class SystemdUnitTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-units-" + Guid.NewGuid().ToString("N"));

    private InstallLayout Layout()
    {
        // {prefix}/lib is the build of this test run, where the Capstan.Server executable (apphost) is.
        var build = new[] { Path.GetDirectoryName(typeof(CapstanHost).Assembly.Location)!, Path.Combine(ThrowawayPostgres.RepoRoot(), "src", "Capstan.Server", "bin", "Release", "net10.0") }
            .First(d => File.Exists(Path.Combine(d, "Capstan.Server")));
        var prefix = Path.Combine(_dir, "opt");
        Directory.CreateDirectory(prefix);
        File.CreateSymbolicLink(Path.Combine(prefix, "lib"), build);
        return new InstallLayout(prefix, "capstan", Path.Combine(_dir, "units"), Path.Combine(_dir, "etc", "capstan.env"));
    }

    [Fact]
    public async Task GeneratedUnits_PassSystemdAnalyzeVerify_WithoutWarnings()
    {
        var layout = Layout();
        var written = SystemdUnits.Write(layout);
        Assert.Equal(3, written.Count);
        Assert.True(File.Exists("/usr/bin/systemd-analyze"), "systemd-analyze is missing: scripts/deps.sh test installs the systemd package");
        var psi = new ProcessStartInfo("/usr/bin/systemd-analyze") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("verify");
        psi.ArgumentList.Add(Path.Combine(layout.UnitsDir, SystemdUnits.ServeUnit));
        psi.ArgumentList.Add(Path.Combine(layout.UnitsDir, SystemdUnits.WorkerUnit));
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        Assert.True(p.ExitCode == 0, $"systemd-analyze verify exited {p.ExitCode}: {await stderr}{await stdout}");
        // Unknown or malformed directives are only warnings (exit 0): there must be none.
        Assert.Equal(string.Empty, (await stderr).Trim());
    }

    [Fact]
    public void Units_LetTheRecorderDrain_KillWhatIsLeft_RestartOnFailure_AndReadTheSettingsFile()
    {
        var layout = new InstallLayout("/opt/capstan", "capstan", "/etc/systemd/system", "/etc/capstan/capstan.env");
        foreach (var (unit, command) in new[] { (SystemdUnits.Serve(layout), "serve"), (SystemdUnits.Worker(layout), "worker") })
        {
            var lines = unit.Split('\n');
            // SIGTERM to Capstan alone (it drains its recorder), SIGKILL to what is left once it exits; room for the default drain.
            Assert.Contains("KillMode=mixed", lines);
            Assert.Contains("TimeoutStopSec=12min", lines);
            Assert.True(new Recorder.RecorderOptions().DrainTimeout + Recorder.RecorderOptions.DrainMargin < TimeSpan.FromMinutes(12));
            Assert.Contains("Restart=on-failure", lines);
            Assert.Contains("EnvironmentFile=/etc/capstan/capstan.env", lines);
            Assert.Contains("User=capstan", lines);
            Assert.Contains($"ExecStart=/opt/capstan/lib/Capstan.Server {command}", lines);
            Assert.Contains("Environment=Capstan__DataDir=/opt/capstan/data", lines);
            Assert.Contains("WantedBy=multi-user.target", lines);
        }
    }

    [Fact]
    public void SettingsFile_IsPrivate_HasFreshSecrets_AndIsKeptOnReinstall()
    {
        var layout = Layout();
        SystemdUnits.Write(layout);
        var first = File.ReadAllText(layout.EnvironmentFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(layout.EnvironmentFile));
        var settings = first.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        Assert.Equal(32, Convert.FromBase64String(settings["Capstan__EncryptionKey"]).Length);
        Assert.True(settings["Metrics__Token"].Length >= 16);
        Assert.Equal("json", settings["Logging__Format"]);

        var again = SystemdUnits.Write(layout);
        Assert.Equal(2, again.Count);
        Assert.Equal(first, File.ReadAllText(layout.EnvironmentFile));
    }

    [Theory]
    [InlineData("--user", "root", "--user root is refused")]
    [InlineData("--user", "Bad User", "--user must be a system user name")]
    [InlineData("--prefix", "relative/capstan", "--prefix must be an absolute path")]
    [InlineData("--env-file", "/etc/capstan/with space.env", "--env-file must be an absolute path without spaces")]
    [InlineData("--bogus", "x", "unknown flag '--bogus'")]
    public async Task InstallUnits_WithBadInput_Exits2_NamingTheFlag(string flag, string value, string message)
    {
        var error = new StringWriter();
        var old = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            // The flag under test comes first: it wins over the defaults the test adds after it.
            code = await CapstanCommands.RunAsync(["install-units", flag, value, "--units-dir", Path.Combine(_dir, "units"), "--env-file", Path.Combine(_dir, "capstan.env")]);
        }
        finally
        {
            Console.SetError(old);
        }
        Assert.Equal(2, code);
        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "units", SystemdUnits.ServeUnit)));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
