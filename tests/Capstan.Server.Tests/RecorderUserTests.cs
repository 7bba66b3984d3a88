using System.Globalization;
using Capstan.Server.Processes;
using Capstan.Server.Recorder;

namespace Capstan.Server.Tests;

/// <summary>The recorder's processes run as an unprivileged user (<see cref="ProcessUser"/>, <see cref="RecorderUser"/>):
/// the launcher's arguments, the clean environment, the settings refused, and a real process of another user that
/// the ledger still reaps.</summary>
public sealed class RecorderUserTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-user-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void WorkFolder_UnderAFolderTheUserCannotPass_MovesUnderVarTmp_TheSameForTheSameDataFolder()
    {
        var closed = Path.Combine(_dir, "closed");
        var open = Path.Combine(_dir, "open");
        Directory.CreateDirectory(Path.Combine(closed, "data"));
        Directory.CreateDirectory(Path.Combine(open, "data"));
        File.SetUnixFileMode(_dir, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(closed, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(open, (UnixFileMode)Convert.ToInt32("755", 8));
        var log = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        var options = new RecorderOptions { RunAsUser = RecorderUser.DefaultName };

        Assert.False(RecorderWorker.PassableByOthers(Path.Combine(closed, "data", "recorder")));
        Assert.True(RecorderWorker.PassableByOthers(Path.Combine(open, "data", "recorder")));
        Assert.Equal(Path.Combine(open, "data", "recorder"), RecorderWorker.WorkDirFor(options, Path.Combine(open, "data"), log));
        var moved = RecorderWorker.WorkDirFor(options, Path.Combine(closed, "data"), log);
        if (ProcessUser.EffectiveUid == 0)
        {
            Assert.StartsWith("/var/tmp/capstan-recorder-", moved, StringComparison.Ordinal);
            Assert.Equal(moved, RecorderWorker.WorkDirFor(options, Path.Combine(closed, "data"), log));
            Assert.NotEqual(moved, RecorderWorker.WorkDirFor(options, Path.Combine(closed, "other"), log));
        }
        else
        {
            Assert.Equal(Path.Combine(closed, "data", "recorder"), moved);
        }
        Assert.Equal("/x/y", RecorderWorker.WorkDirFor(new RecorderOptions { WorkDir = "/x/y" }, Path.Combine(closed, "data"), log));
    }

    [Fact]
    public void TheDefaultUser_IsCapstanRecorder_AsRoot_AndCapstansOwnOtherwise()
    {
        var root = ProcessUser.EffectiveUid == 0;
        Assert.Equal(root ? RecorderUser.DefaultName : null, RecorderUser.NameFor(new RecorderOptions()));
        Assert.Equal("someone", RecorderUser.NameFor(new RecorderOptions { RunAsUser = "someone" }));
        if (!root)
        {
            // Naming Capstan's own user is no switch.
            Assert.Null(RecorderUser.NameFor(new RecorderOptions { RunAsUser = Environment.UserName }));
        }
    }

    [Fact]
    public void Wrap_StartsTheToolThroughSetpriv_AsTheUser_OrAsItIsForCapstansOwnUser()
    {
        var other = new ProcessUser("capstan-recorder", 999, 995, "/w/home", "/usr/bin/setpriv");
        var (file, args) = other.Wrap("/usr/bin/Xvfb", ["-displayfd", "1"]);
        Assert.Equal("/usr/bin/setpriv", file);
        Assert.Equal(["--reuid=999", "--regid=995", "--init-groups", "--inh-caps=-all,+sys_nice", "--ambient-caps=+sys_nice", "--bounding-set=-all,+sys_nice",
            "--no-new-privs", "--", "/usr/bin/Xvfb", "-displayfd", "1"], args);
        Assert.True(other.Switches);

        var self = new ProcessUser("capstan", 1000, 1000, "/w/home", setpriv: null);
        var (selfFile, selfArgs) = self.Wrap("/usr/bin/Xvfb", ["-displayfd", "1"]);
        Assert.Equal("/usr/bin/Xvfb", selfFile);
        Assert.Equal(["-displayfd", "1"], selfArgs);
        Assert.False(self.Switches);
    }

    [Fact]
    public void Apply_LeavesNoneOfCapstansEnvironment_ButTheLocale()
    {
        var env = new Dictionary<string, string?>
        {
            ["Capstan__Database"] = "Host=db;Password=secret",
            ["Storage__DefaultBucket__S3__Secret"] = "s3cret",
            ["HOME"] = "/root",
            ["PATH"] = "/root/.dotnet/tools:/usr/sbin:/usr/bin",
            ["LANG"] = "C.UTF-8",
            ["TZ"] = "UTC",
        };
        new ProcessUser("capstan-recorder", 999, 995, "/w/home", "/usr/bin/setpriv").Apply(env);
        Assert.Equal(new Dictionary<string, string?>
        {
            ["LANG"] = "C.UTF-8",
            ["TZ"] = "UTC",
            ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = "/w/home",
            ["USER"] = "capstan-recorder",
            ["LOGNAME"] = "capstan-recorder",
        }, env);
    }

    [Theory]
    [InlineData("root", "root is refused")]
    [InlineData("0", "root is refused")]
    [InlineData("--help", "is not a user name")]
    [InlineData("a b", "is not a user name")]
    public void Validator_RefusesRootAndWhatIsNotAUserName(string user, string message)
    {
        var r = new RecorderOptionsValidator().Validate(null, new RecorderOptions { RunAsUser = user });
        Assert.True(r.Failed);
        Assert.Contains("Recorder:RunAsUser", r.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(message, r.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validator_TakesTheDefault_AndAnotherUserOnlyWhenCapstanIsRoot()
    {
        var validator = new RecorderOptionsValidator();
        Assert.True(validator.Validate(null, new RecorderOptions()).Succeeded);
        Assert.True(validator.Validate(null, new RecorderOptions { Enabled = false, RunAsUser = "root" }).Succeeded);
        var other = validator.Validate(null, new RecorderOptions { RunAsUser = "nobody" });
        Assert.Equal(ProcessUser.EffectiveUid == 0, other.Succeeded);
        if (other.Failed)
        {
            Assert.Contains("needs Capstan to run as root", other.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AProcessOfAnotherUser_RunsAsIt_WithItsEnvironment_AndTheLedgerReapsItAndItsChild()
    {
        Assert.SkipUnless(ProcessUser.EffectiveUid == 0, "switching to another user needs root");
        var home = Path.Combine(_dir, "home");
        var nobody = new ProcessUser("nobody", 65534, 65534, home, "/usr/bin/setpriv");
        nobody.CreateOwnedDirectory(home);
        var ledger = new ProcessLedger(Path.Combine(_dir, "processes"));
        var seen = new List<string>();
        // Something of Capstan's own environment (a secret, say), which the user's process must not inherit.
        Environment.SetEnvironmentVariable("CAPSTAN_USER_TEST_SECRET", "s3cret");
        // A "capture process" with a child of its own, left running by a worker that died.
        var left = ledger.Track(ChildProcess.Start("sh", "/bin/sh", ["-c", "echo \"$HOME\" \"${CAPSTAN_USER_TEST_SECRET:-clean}\"; id -u; sleep 300 & wait"],
            environment: new Dictionary<string, string> { ["PULSE_SINK"] = "rec_1" }, onLine: l => { lock (seen) { seen.Add(l); } }, runAs: nobody));
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((ChildOf(left.Id) is null || Volatile.Read(ref seen).Count < 2) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }
            Assert.NotNull(ChildOf(left.Id));
            // setpriv execs the tool: the pid Capstan holds is the tool's, running as the user.
            Assert.Contains("\nUid:\t65534\t65534\t65534\t65534\n", await File.ReadAllTextAsync($"/proc/{left.Id.ToString(CultureInfo.InvariantCulture)}/status", TestContext.Current.CancellationToken), StringComparison.Ordinal);
            Assert.Equal("sh", (await File.ReadAllTextAsync($"/proc/{left.Id.ToString(CultureInfo.InvariantCulture)}/comm", TestContext.Current.CancellationToken)).Trim());
            lock (seen)
            {
                Assert.Equal([$"{home} clean", "65534"], seen);
            }

            var reaped = await new ProcessLedger(Path.Combine(_dir, "processes")).ReapLeftoversAsync(TestContext.Current.CancellationToken);
            Assert.Equal(2, reaped.Count); // the shell and its sleep, both the other user's
            Assert.Equal(137, await left.Exited.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
        }
        finally
        {
            // whichever way it ended, nothing outlives the test
            await left.StopAsync(TimeSpan.Zero);
            await left.DisposeAsync();
        }
    }

    private static int? ChildOf(int parent)
    {
        foreach (var d in Directory.GetDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[1] == parent.ToString(CultureInfo.InvariantCulture))
                {
                    return int.Parse(Path.GetFileName(d), CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone, or not a process folder
            }
        }
        return null;
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
