using System.Net;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Processes;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests;

/// <summary>What a recorder needs to come back from being killed: a stable identity in its work folder, its own jobs
/// taken back at once, and the capture processes a killed run left behind reaped. Real processes and real
/// databases; the media suite covers the same with a real recording.</summary>
public sealed class NodeIdentityAndLedgerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-node-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Identity_IsTheSameAcrossRuns_AndNotSharedByTwoLiveProcesses()
    {
        string first;
        using (var a = NodeIdentity.Acquire(_dir, "composite"))
        {
            Assert.True(a.Stable);
            first = a.Owner;
            // A second holder while the first lives gets an identity of its own, for its lifetime only.
            using var b = NodeIdentity.Acquire(_dir, "composite");
            Assert.False(b.Stable);
            Assert.NotEqual(first, b.Owner);
            // Another role on the same folder is a separate lock with the same node id.
            using var track = NodeIdentity.Acquire(_dir, "track");
            Assert.True(track.Stable);
            Assert.EndsWith(first.Split(':')[^1], track.Owner, StringComparison.Ordinal);
        }
        using var again = NodeIdentity.Acquire(_dir, "composite");
        Assert.True(again.Stable);
        Assert.Equal(first, again.Owner);
        Assert.True(again.Owner.Length <= 120);
    }

    [Fact]
    public async Task Ledger_ReapsWhatAKilledWorkerLeftRunning_ButNothingElse()
    {
        var ledger = new ProcessLedger(Path.Combine(_dir, "processes"));
        // A "capture process" with a child of its own (as Chromium has), left running by a worker that died.
        var left = ledger.Track(ChildProcess.Start("sh", "/bin/sh", ["-c", "sleep 300 & wait"]));
        // Written whole, under the pid's own name (through a partial file that is renamed).
        Assert.Equal([left.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], Directory.GetFiles(Path.Combine(_dir, "processes")).Select(Path.GetFileName));
        Assert.EndsWith(" sh", await File.ReadAllTextAsync(Path.Combine(_dir, "processes", left.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), TestContext.Current.CancellationToken), StringComparison.Ordinal);
        await using var unrelated = ChildProcess.Start("sleep", "/bin/sleep", ["300"]);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!Directory.GetDirectories("/proc").Any(d => File.Exists(Path.Combine(d, "stat")) && SafeRead(Path.Combine(d, "stat")).Contains($") S {left.Id} ", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        // A stale entry whose pid now belongs to another process (different start time) is not touched.
        await File.WriteAllTextAsync(Path.Combine(_dir, "processes", unrelated.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), "1 ffmpeg", TestContext.Current.CancellationToken);

        var next = new ProcessLedger(Path.Combine(_dir, "processes"));
        var reaped = await next.ReapLeftoversAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, reaped.Count); // the shell and its sleep
        Assert.Equal(137, await left.Exited.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
        Assert.False(unrelated.HasExited);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "processes")));
        await left.DisposeAsync();
    }

    [Fact]
    public async Task Ledger_ForgetsAProcessThatExited()
    {
        var ledger = new ProcessLedger(Path.Combine(_dir, "processes"));
        await using var p = ledger.Track(ChildProcess.Start("true", "/bin/true", []));
        await p.Exited.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (Directory.GetFiles(Path.Combine(_dir, "processes")).Length > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "processes")));
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    [Fact]
    public void ABrowsersSingletonFolder_InTheTemporaryDirectory_GoesWithItsProfile()
    {
        // As Chromium leaves them: the profile's SingletonSocket links to a socket in a folder of its own in /tmp.
        var singleton = Path.Combine(Path.GetTempPath(), "org.chromium.Chromium." + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(singleton);
        File.WriteAllText(Path.Combine(singleton, "SingletonSocket"), string.Empty);
        var profile = Path.Combine(_dir, "warm-1", "chromium-profile");
        Directory.CreateDirectory(profile);
        File.CreateSymbolicLink(Path.Combine(profile, "SingletonSocket"), Path.Combine(singleton, "SingletonSocket"));
        // A link to any other folder is not followed.
        var other = Path.Combine(_dir, "not-chromiums");
        Directory.CreateDirectory(other);
        var otherProfile = Path.Combine(_dir, "warm-2", "chromium-profile");
        Directory.CreateDirectory(otherProfile);
        File.CreateSymbolicLink(Path.Combine(otherProfile, "SingletonSocket"), Path.Combine(other, "SingletonSocket"));
        try
        {
            CaptureSurface.RemoveSingletonFolder(profile);
            CaptureSurface.RemoveSingletonFolder(otherProfile);
            CaptureSurface.RemoveSingletonFolder(Path.Combine(_dir, "no-profile"));

            Assert.False(Directory.Exists(singleton));
            Assert.True(Directory.Exists(other));
        }
        finally
        {
            if (Directory.Exists(singleton))
            {
                Directory.Delete(singleton, recursive: true);
            }
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}

public sealed class JobReclaimTests_Sqlite(SqliteServer server) : JobReclaimTests(server), IClassFixture<SqliteServer>;

public sealed class JobReclaimTests_Postgres(PostgresServer server) : JobReclaimTests(server), IClassFixture<PostgresServer>;

/// <summary>A worker that comes back under the same identity takes its claimed jobs back at once, whatever their
/// lease; another owner's jobs, and jobs of the other type, stay where they are.</summary>
public abstract class JobReclaimTests(ServerFixture server)
{
    private TestAccount Account => server.Account;

    private async Task<Guid> NewJobAsync()
    {
        var meeting = (await Account.Client().PostJsonAsync($"{Account.AppPath}/meetings", new { title = "Reclaim" })).Data(HttpStatusCode.Created).Str("id");
        var rec = (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
        return Guid.Parse(rec);
    }

    [Fact]
    public async Task Reclaim_TakesBackThisOwnersClaimedJobs_AtOnce()
    {
        var mine = await NewJobAsync();
        var theirs = await NewJobAsync();
        var ct = TestContext.Current.CancellationToken;
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var far = DateTime.UtcNow.AddMinutes(10);
        await db.RecorderJobs.Where(j => j.RecordingId == mine).ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Claimed).SetProperty(j => j.LeaseOwner, "node-a").SetProperty(j => j.LeaseExpiresAt, far), ct);
        await db.RecorderJobs.Where(j => j.RecordingId == theirs).ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Claimed).SetProperty(j => j.LeaseOwner, "node-b").SetProperty(j => j.LeaseExpiresAt, far), ct);

        var queue = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var back = await queue.ReclaimAsync("node-a", TimeSpan.FromSeconds(30), RecordingTypes.Composite, ct);

        var job = Assert.Single(back);
        Assert.Equal(mine, job.RecordingId);
        Assert.Equal(JobStates.Claimed, job.State);
        Assert.True(job.LeaseExpiresAt < far, "the lease is renewed from now");
        Assert.Empty(await queue.ReclaimAsync("node-a", TimeSpan.FromSeconds(30), RecordingTypes.Track, ct));
        Assert.Empty(await queue.ReclaimAsync("node-c", TimeSpan.FromSeconds(30), RecordingTypes.Composite, ct));
        // Nobody else can claim them meanwhile: their leases have not run out.
        Assert.Null(await queue.ClaimAsync("node-c", TimeSpan.FromSeconds(30), ct));
    }

    /// <summary>Twenty workers claiming at once (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: the guarded update):
    /// every queued job is claimed by exactly one of them.</summary>
    [Fact]
    public async Task ConcurrentClaims_TakeEachJobOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var mine = new HashSet<Guid>();
        for (var i = 0; i < 6; i++)
        {
            mine.Add(await NewJobAsync());
        }
        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            var got = new List<Guid>();
            await using var scope = server.Services.CreateAsyncScope();
            var queue = scope.ServiceProvider.GetRequiredService<JobQueue>();
            while (await queue.ClaimAsync("worker-" + i, TimeSpan.FromMinutes(5), ct) is { } job)
            {
                got.Add(job.RecordingId);
            }
            return got;
        }));
        var all = claims.SelectMany(c => c).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Subset(all.ToHashSet(), mine);
    }
}
