using System.Net;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>A server with an operator token (<c>Capstan:OperatorToken</c>).</summary>
public abstract class OperatorServer(DatabaseProvider provider) : ServerFixture(provider)
{
    public const string Token = "operator-0123456789abcdef0123456789abcdef";

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Capstan:OperatorToken", Token)];
}

public sealed class OperatorSqliteServer() : OperatorServer(DatabaseProvider.Sqlite);

public sealed class OperatorPostgresServer() : OperatorServer(DatabaseProvider.Postgres);

public sealed class DrainTests_Sqlite(OperatorSqliteServer server) : DrainTests(server), IClassFixture<OperatorSqliteServer>;

public sealed class DrainTests_Postgres(OperatorPostgresServer server) : DrainTests(server), IClassFixture<OperatorPostgresServer>;

/// <summary>Draining (<see cref="RecorderDrain"/>) against a real server and database: the node's row says
/// <c>draining</c>, a recording still running when the drain runs out is handed over (its job released at once, so
/// another worker claims it without waiting for the lease; its status untouched), one that ends in time is not, and
/// the operator's view (<c>GET /client/v4/system/nodes</c>) shows nodes, their recordings and the queue. The job runner
/// is the real one with a scripted capture (<see cref="RecordingJobTests.ScriptedCapture"/>) on a fake clock; the
/// media suite hands a real recording over between two <c>capstan worker</c> processes (RestartMediaTests).</summary>
public abstract class DrainTests(OperatorServer server)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private HttpClient Operator() => server.Client(OperatorServer.Token);

    private static JsonNode? NodeOf(JsonNode data, string owner) => data["nodes"]!.AsArray().SingleOrDefault(n => n!["owner"]!.GetValue<string>() == owner);

    private static JsonNode? QueuedOf(JsonNode data, string id) => data["queue"]!.AsArray().SingleOrDefault(q => q!["recording_id"]!.GetValue<string>() == id);

    [Fact]
    public async Task SystemNodes_Answers401WithoutAToken_And403ToAnyTokenButTheOperators()
    {
        using var anonymous = server.Client();
        (await anonymous.GetJsonAsync("/client/v4/system/nodes")).Error(HttpStatusCode.Unauthorized, "missing operator token");
        // An account's API token is a valid credential, but not the operator's.
        (await server.Account.Client().GetJsonAsync("/client/v4/system/nodes")).Error(HttpStatusCode.Forbidden, "not this server's operator token");
        using var wrong = server.Client(OperatorServer.Token[..^1] + "0");
        (await wrong.GetJsonAsync("/system/nodes")).Error(HttpStatusCode.Forbidden, "not this server's operator token");
        Assert.NotNull((await Operator().GetJsonAsync("/client/v4/system/nodes")).Data()["nodes"]);
        Assert.NotNull((await Operator().GetJsonAsync("/system/nodes")).Data()["queue"]);

        // The OpenAPI document says how to authenticate and what the refusals are.
        using var docs = server.Client();
        var get = (await docs.GetJsonAsync("/openapi/v1.json")).Body["paths"]!["/system/nodes"]!["get"]!;
        Assert.Contains("Capstan:OperatorToken", get["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(get["responses"]!["401"]);
        Assert.NotNull(get["responses"]!["403"]);
    }

    [Fact]
    public async Task SystemNodes_ListsEachNodesState_ItsRunningRecordings_AndTheQueueInClaimOrder()
    {
        var scopes = server.Services.GetRequiredService<IServiceScopeFactory>();
        var active = "host-a:composite:" + Guid.NewGuid().ToString("N");
        var draining = "host-d:composite:" + Guid.NewGuid().ToString("N");
        var lost = "host-l:composite:" + Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow;
        var first = await StartRecordingAsync();
        var second = await StartRecordingAsync();
        var third = await StartRecordingAsync();
        await using var scope = server.Services.CreateAsyncScope();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        try
        {
            await RecorderNodes.WriteAsync(scopes, TimeProvider.System, active, "node-a", now.UtcDateTime, new RecorderLoad(2, 1, 1), Ct);
            await RecorderNodes.WriteAsync(scopes, TimeProvider.System, draining, "node-d", now.UtcDateTime, new RecorderLoad(2, 0, 0) { DrainingSince = now.UtcDateTime }, Ct);
            await RecorderNodes.WriteAsync(scopes, new FakeTimeProvider(now.AddMinutes(-2)), lost, "node-l", now.AddMinutes(-10).UtcDateTime, new RecorderLoad(1, 0, 1), Ct);
            // The active node runs the first recording (the oldest job: a worker claims oldest first).
            var claimed = await ClaimAsync(jobs, db, active, first);

            var data = (await Operator().GetJsonAsync("/client/v4/system/nodes")).Data();
            var a = NodeOf(data, active)!;
            Assert.Equal(("node-a", "composite", "active", 2, 1, 1), (a.Str("node"), a.Str("role"), a.Str("state"), a["slots"]!.GetValue<int>(), a["busy"]!.GetValue<int>(), a["warm"]!.GetValue<int>()));
            Assert.Equal([first.ToString("D")], a["recordings"]!.AsArray().Select(r => r!.GetValue<string>()).ToList());
            Assert.Null(a["draining_since"]);
            var d = NodeOf(data, draining)!;
            Assert.Equal("draining", d.Str("state"));
            Assert.Equal(now.UtcDateTime, DateTime.Parse(d.Str("draining_since"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal), TimeSpan.FromMilliseconds(1));
            Assert.Empty(d["recordings"]!.AsArray());
            Assert.Equal("lost", NodeOf(data, lost)!.Str("state"));

            // The queue: the two waiting, in the order they were started, the claimed one not in it.
            Assert.Null(QueuedOf(data, first.ToString("D")));
            var q2 = QueuedOf(data, second.ToString("D"))!;
            var q3 = QueuedOf(data, third.ToString("D"))!;
            Assert.Equal(("COMPOSITE", "INVOKED"), (q2.Str("type"), q2.Str("status")));
            Assert.Equal(q2["queue_position"]!.GetValue<int>() + 1, q3["queue_position"]!.GetValue<int>());
            Assert.True(data["queue_depth"]!.GetValue<long>() >= 2);
            // The same place as the recording's own queue_position.
            var own = (await server.Account.Client().GetJsonAsync($"{server.Account.AppPath}/recordings/{second:D}")).Data();
            Assert.Equal(own["queue_position"]!.GetValue<int>(), q2["queue_position"]!.GetValue<int>());

            // The dashboard's /system shows the same states.
            var system = (await server.Account.Client().GetJsonAsync($"/client/v4/accounts/{server.Account.AccountId}/system")).Data();
            Assert.Equal(("active", "draining", "lost"), (NodeOf(system, active)!.Str("state"), NodeOf(system, draining)!.Str("state"), NodeOf(system, lost)!.Str("state")));
            Assert.NotNull(NodeOf(system, draining)!["draining_since"]);
            await jobs.FinishAsync(claimed.Id, JobStates.Cancelled, Ct);
        }
        finally
        {
            await db.RecorderNodes.Where(n => n.Owner == active || n.Owner == draining || n.Owner == lost).ExecuteDeleteAsync(Ct);
            await CancelJobsAsync(db, first, second, third);
        }
    }

    [Fact]
    public async Task Drain_RunningPastItsTimeout_HandsTheRecordingOver_ReleasingItsJobAtOnceForAnotherWorker()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var owner = "drain-a:composite:" + Guid.NewGuid().ToString("N")[..8];
        var id = await StartRecordingAsync();
        await using var scope = server.Services.CreateAsyncScope();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var job = await ClaimAsync(jobs, db, owner, id);
        using var drain = new RecorderDrain(TimeSpan.FromMinutes(10), time, NullLogger.Instance);
        var capture = new RecordingJobTests.ScriptedCapture(Path.Combine(Path.GetTempPath(), "capstan-drain-" + id.ToString("N")), time, firstFrame: true);
        var running = RunJob(job, owner, time, capture, drain.Recordings);
        var scopes = server.Services.GetRequiredService<IServiceScopeFactory>();
        try
        {
            await UntilAsync(time, async () => (await StatusAsync(db, id)) == RecordingStatus.Recording, "RECORDING", running);

            // SIGTERM: claims stop and the node's row says so at once; the recording goes on.
            var draining = drain.RunAsync(running, () => RecorderNodes.WriteAsync(scopes, time, owner, "node-drain", time.GetUtcNow().UtcDateTime,
                new RecorderLoad(1, 1, 0) { DrainingSince = drain.Since }, Ct), Ct);
            Assert.True(drain.Claims.IsCancellationRequested);
            RecorderNodeRow? row = null;
            await MetricsTests.UntilAsync(async () => (row = await db.RecorderNodes.AsNoTracking().FirstOrDefaultAsync(n => n.Owner == owner, Ct)) is not null,
                "the node's row written as the drain began", 10);
            Assert.Equal(time.GetUtcNow().UtcDateTime, row!.DrainingSince!.Value, TimeSpan.FromMilliseconds(1));
            Assert.Equal("draining", NodeOf((await Operator().GetJsonAsync("/client/v4/system/nodes")).Data(), owner)!.Str("state"));
            time.Advance(TimeSpan.FromMinutes(9));
            await Task.Delay(200, Ct);
            Assert.False(drain.Recordings.IsCancellationRequested);
            Assert.False(running.IsCompleted);
            Assert.Equal((JobStates.Claimed, owner), await JobAsync(db, job.Id));

            // The drain runs out: the capture ends (its files complete), then the job is released: no owner, no lease.
            time.Advance(TimeSpan.FromMinutes(1));
            await draining.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.True(running.IsCompletedSuccessfully);
            Assert.Contains("dispose", capture.Calls);
            Assert.DoesNotContain("produce", capture.Calls);
            var released = await db.RecorderJobs.AsNoTracking().FirstAsync(j => j.Id == job.Id, Ct);
            Assert.Equal((JobStates.Queued, null, null), (released.State, released.LeaseOwner, released.LeaseExpiresAt));
            // Neither stopped nor errored.
            Assert.Equal(RecordingStatus.Recording, await StatusAsync(db, id));
            var queued = QueuedOf((await Operator().GetJsonAsync("/client/v4/system/nodes")).Data(), id.ToString("D"))!;
            Assert.Equal("RECORDING", queued.Str("status"));

            // Another worker claims it now, on the same clock: no lease had to run out.
            var other = "drain-b:composite:" + Guid.NewGuid().ToString("N")[..8];
            var taken = await ClaimAsync(jobs, db, other, id);
            Assert.Equal(job.Id, taken.Id);
            Assert.Equal(2, taken.Attempts);
            // The old owner can no longer release it.
            Assert.False(await jobs.ReleaseAsync(job.Id, owner, Ct));
        }
        finally
        {
            await db.RecorderNodes.Where(n => n.Owner == owner).ExecuteDeleteAsync(Ct);
            await CancelJobsAsync(db, id);
            DeleteDir(capture.Dir);
        }
    }

    [Fact]
    public async Task Drain_ARecordingThatEndsInTime_IsDeliveredHere_AndNothingIsHandedOver()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var owner = "drain-c:composite:" + Guid.NewGuid().ToString("N")[..8];
        var id = await StartRecordingAsync();
        await using var scope = server.Services.CreateAsyncScope();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var job = await ClaimAsync(jobs, db, owner, id);
        using var drain = new RecorderDrain(TimeSpan.FromMinutes(10), time, NullLogger.Instance);
        var capture = new RecordingJobTests.ScriptedCapture(Path.Combine(Path.GetTempPath(), "capstan-drain-" + id.ToString("N")), time, firstFrame: true);
        var running = RunJob(job, owner, time, capture, drain.Recordings);
        try
        {
            await UntilAsync(time, async () => (await StatusAsync(db, id)) == RecordingStatus.Recording, "RECORDING", running);
            var draining = drain.RunAsync(running, () => Task.CompletedTask, Ct);
            time.Advance(TimeSpan.FromMinutes(2));
            (await server.Account.Client().PutJsonAsync($"{server.Account.AppPath}/recordings/{id:D}", new { action = "stop" })).Data();
            await UntilAsync(time, () => Task.FromResult(draining.IsCompleted), "the drain to end with the recording", running);
            await draining;
            Assert.False(drain.Recordings.IsCancellationRequested);
            Assert.Equal(RecordingStatus.Uploaded, await StatusAsync(db, id));
            Assert.Equal((JobStates.Done, owner), await JobAsync(db, job.Id));
        }
        finally
        {
            await CancelJobsAsync(db, id);
            DeleteDir(capture.Dir);
        }
    }

    [Fact]
    public async Task JobRelease_IsTheOwnersOnly()
    {
        var id = await StartRecordingAsync();
        await using var scope = server.Services.CreateAsyncScope();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var owner = "rel-a:composite:" + Guid.NewGuid().ToString("N")[..8];
        var job = await ClaimAsync(jobs, db, owner, id);
        try
        {
            Assert.False(await jobs.ReleaseAsync(job.Id, "someone-else", Ct));
            Assert.Equal((JobStates.Claimed, owner), await JobAsync(db, job.Id));
            Assert.True(await jobs.ReleaseAsync(job.Id, owner, Ct));
            Assert.Equal((JobStates.Queued, (string?)null), await JobAsync(db, job.Id));
            Assert.False(await jobs.ReleaseAsync(job.Id, owner, Ct));
        }
        finally
        {
            await CancelJobsAsync(db, id);
        }
    }

    private async Task<Guid> StartRecordingAsync()
    {
        var client = server.Account.Client();
        var meeting = (await client.PostJsonAsync($"{server.Account.AppPath}/meetings", new { title = "Drain" })).Data(HttpStatusCode.Created).Str("id");
        return Guid.Parse((await client.PostJsonAsync($"{server.Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id"));
    }

    /// <summary>Claims this recording's job for <paramref name="owner"/> (other tests' jobs may be queued ahead of it).</summary>
    private static async Task<RecorderJobRow> ClaimAsync(JobQueue jobs, CapstanDbContext db, string owner, Guid recording)
    {
        var ahead = await db.RecorderJobs.Where(j => j.RecordingId != recording && j.State == JobStates.Queued).Select(j => j.Id).ToListAsync(Ct);
        // Jobs ahead of it are held aside for the claim, then put back.
        await db.RecorderJobs.Where(j => ahead.Contains(j.Id)).ExecuteUpdateAsync(u => u.SetProperty(j => j.State, "HELD"), Ct);
        try
        {
            var job = await jobs.ClaimAsync(owner, TimeSpan.FromMinutes(10), Ct);
            Assert.NotNull(job);
            Assert.Equal(recording, job.RecordingId);
            return job;
        }
        finally
        {
            await db.RecorderJobs.Where(j => ahead.Contains(j.Id)).ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Queued), Ct);
        }
    }

    private Task RunJob(RecorderJobRow job, string owner, FakeTimeProvider time, RecordingJobTests.ScriptedCapture capture, CancellationToken recordings)
    {
        var s = server.Services;
        var options = new RecorderOptions { PollInterval = TimeSpan.FromSeconds(1), Lease = TimeSpan.FromMinutes(30) };
        var ctx = new RecordingJobContext(options, s.GetRequiredService<IServiceScopeFactory>(), s.GetRequiredService<DefaultBucket>(), s.GetRequiredService<Storage.UploadSpool>(),
            s.GetRequiredService<Security.SecretProtector>(), s.GetRequiredService<RecorderSignals>(), time, s.GetRequiredService<ILogger<RecordingJob>>(), owner, null);
        var runner = new RecordingJob(job, ctx, _ => capture);
        return Task.Run(() => runner.RunAsync(recordings), CancellationToken.None);
    }

    /// <summary>Waits (real time, at most 10 s), turning the runner's fake clock a second at a time.</summary>
    private static async Task UntilAsync(FakeTimeProvider time, Func<Task<bool>> done, string what, Task running)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            Assert.False(running.IsFaulted, running.Exception?.ToString());
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20, Ct);
        }
    }

    private static Task<string> StatusAsync(CapstanDbContext db, Guid id) =>
        db.Recordings.AsNoTracking().Where(r => r.Id == id).Select(r => r.Status).FirstAsync(Ct);

    private static async Task<(string State, string? Owner)> JobAsync(CapstanDbContext db, Guid jobId)
    {
        var j = await db.RecorderJobs.AsNoTracking().FirstAsync(j => j.Id == jobId, Ct);
        return (j.State, j.LeaseOwner);
    }

    private static async Task CancelJobsAsync(CapstanDbContext db, params Guid[] recordings) =>
        await db.RecorderJobs.Where(j => recordings.Contains(j.RecordingId) && j.State != JobStates.Done)
            .ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Cancelled).SetProperty(j => j.LeaseOwner, (string?)null), Ct);

    private static void DeleteDir(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Without <c>Capstan:OperatorToken</c> the operator routes are off: 403 to any token.</summary>
public sealed class OperatorOffTests(SqliteServer server) : IClassFixture<SqliteServer>
{
    [Fact]
    public async Task SystemNodes_WithoutAnOperatorTokenConfigured_Answers403()
    {
        using var anonymous = server.Client();
        (await anonymous.GetJsonAsync("/client/v4/system/nodes")).Error(HttpStatusCode.Unauthorized, "missing operator token");
        (await server.Account.Client().GetJsonAsync("/client/v4/system/nodes")).Error(HttpStatusCode.Forbidden, "no Capstan:OperatorToken is configured");
        using var guess = server.Client(OperatorServer.Token);
        (await guess.GetJsonAsync("/client/v4/system/nodes")).Error(HttpStatusCode.Forbidden, "no Capstan:OperatorToken is configured");
    }
}

/// <summary>The drain's own timing on a fake clock, its setting's validation, and the host's shutdown timeout that
/// must cover it; the operator token's validation.</summary>
public sealed class DrainSettingsTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Drain_StopsClaimsAtOnce_WaitsForTheRecordingsUpToItsTimeout_ThenHandsThemOver()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var drain = new RecorderDrain(TimeSpan.FromMinutes(5), time, NullLogger.Instance);
        Assert.Null(drain.Since);
        var recordings = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var handedOver = drain.Recordings.Register(() => recordings.TrySetResult()); // a runner ends when handed over
        var announced = 0;
        var run = drain.RunAsync(recordings.Task, () => { announced++; return Task.CompletedTask; }, Ct);
        Assert.True(drain.Claims.IsCancellationRequested);
        Assert.Equal(time.GetUtcNow().UtcDateTime, drain.Since);
        Assert.Equal(1, announced);
        time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1));
        Assert.False(drain.Recordings.IsCancellationRequested);
        Assert.False(run.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(drain.Recordings.IsCancellationRequested);
        // A second SIGTERM changes nothing.
        await drain.RunAsync(recordings.Task, () => { announced++; return Task.CompletedTask; }, Ct);
        Assert.Equal(1, announced);
    }

    [Fact]
    public async Task Drain_WithNothingRunning_OrAZeroTimeout_EndsAtOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using (var idle = new RecorderDrain(TimeSpan.FromMinutes(5), time, NullLogger.Instance))
        {
            await idle.RunAsync(Task.CompletedTask, () => Task.CompletedTask, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
            Assert.False(idle.Recordings.IsCancellationRequested);
        }
        using var now = new RecorderDrain(TimeSpan.Zero, time, NullLogger.Instance);
        var recordings = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var handedOver = now.Recordings.Register(() => recordings.TrySetResult());
        await now.RunAsync(recordings.Task, () => Task.CompletedTask, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(now.Recordings.IsCancellationRequested);
    }

    [Fact]
    public async Task Drain_PastTheHostsDeadline_CutsTheRecordingsShort()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var drain = new RecorderDrain(TimeSpan.FromMinutes(5), time, NullLogger.Instance);
        using var deadline = new CancellationTokenSource();
        var never = new TaskCompletionSource().Task;
        var run = drain.RunAsync(never, () => Task.CompletedTask, deadline.Token);
        await deadline.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.True(drain.Recordings.IsCancellationRequested);
    }

    [Theory]
    [InlineData("-00:00:01", false)]
    [InlineData("1.00:00:01", false)]
    [InlineData("00:00:00", true)]
    [InlineData("1.00:00:00", true)]
    [InlineData("00:10:00", true)]
    public void DrainTimeout_IsValidatedFrom0To24Hours(string value, bool valid)
    {
        var result = new RecorderOptionsValidator().Validate(null, new RecorderOptions { DrainTimeout = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Recorder:DrainTimeout", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AServer_WithABadDrainTimeout_RefusesToStart_NamingTheSetting()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-drain-bad-" + Guid.NewGuid().ToString("N"));
        await using var app = CapstanHost.Build([], new Dictionary<string, string?>
        {
            ["Capstan:DataDir"] = dir, ["Capstan:Port"] = "0", ["Janus:Enabled"] = "false", ["Recorder:Enabled"] = "false",
            ["Recorder:DrainTimeout"] = "-00:00:05", ["Logging:LogLevel:Default"] = "None",
        });
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(Ct));
        Assert.Contains("Recorder:DrainTimeout", e.Message, StringComparison.Ordinal);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A stand-alone worker set to the native compositor is refused at start, naming the setting: the
    /// native compositor takes Janus's forwarders on the loopback, beside Janus (capstan serve).</summary>
    [Fact]
    public void AWorkerAlone_RefusesTheNativeCompositor_AtStart()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-worker-native-" + Guid.NewGuid().ToString("N"));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => CapstanHost.BuildWorker(new Dictionary<string, string?>
            {
                ["Capstan:DataDir"] = dir, ["Recorder:ServerUrl"] = "http://127.0.0.1:1", ["Recorder:Compositor"] = "native",
            }));
            Assert.Contains("Recorder:Compositor=native", e.Message, StringComparison.Ordinal);
            using var browser = CapstanHost.BuildWorker(new Dictionary<string, string?>
            {
                ["Capstan:DataDir"] = dir, ["Recorder:ServerUrl"] = "http://127.0.0.1:1", ["Recorder:Compositor"] = "browser",
            });
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void TheHostsShutdownTimeout_CoversTheDrain_OnlyWhenTheRecorderRuns()
    {
        TimeSpan ShutdownTimeout(params (string Key, string Value)[] settings)
        {
            var dir = Path.Combine(Path.GetTempPath(), "capstan-drain-host-" + Guid.NewGuid().ToString("N"));
            var all = new Dictionary<string, string?> { ["Capstan:DataDir"] = dir, ["Recorder:ServerUrl"] = "http://127.0.0.1:1" };
            foreach (var (k, v) in settings)
            {
                all[k] = v;
            }
            try
            {
                using var host = CapstanHost.BuildWorker(all);
                return host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
            }
            finally
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
        }
        Assert.Equal(TimeSpan.FromMinutes(11), ShutdownTimeout()); // the default 10 min drain + 1 min
        Assert.Equal(TimeSpan.FromMinutes(21), ShutdownTimeout(("Recorder:DrainTimeout", "00:20:00")));
        Assert.Equal(TimeSpan.FromSeconds(30), ShutdownTimeout(("Recorder:DrainTimeout", "00:20:00"), ("Recorder:Enabled", "false")));
        // Never lowered: a longer timeout set by the operator stays.
        Assert.Equal(TimeSpan.FromHours(1), ShutdownTimeout(("Recorder:DrainTimeout", "00:00:00"), ("shutdownTimeoutSeconds", "3600")));
    }

    [Theory]
    [InlineData("short", false)]
    [InlineData("0123456789abcdef0123456789abcde f", false)]
    [InlineData("0123456789abcdef0123456789abcdef", true)]
    [InlineData("", true)]
    public void OperatorToken_IsAtLeast32CharactersWithoutSpaces(string token, bool valid)
    {
        var options = new CapstanOptions { OperatorToken = token };
        if (valid)
        {
            options.Validate();
        }
        else
        {
            var e = Assert.Throws<InvalidOperationException>(options.Validate);
            Assert.Contains("Capstan:OperatorToken", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(token, e.Message, StringComparison.Ordinal); // a secret is not repeated
        }
    }

    [Fact]
    public void OperatorToken_Matches_OnlyTheConfiguredToken()
    {
        Assert.True(Security.OperatorToken.Matches(OperatorServer.Token, OperatorServer.Token));
        Assert.False(Security.OperatorToken.Matches(OperatorServer.Token, OperatorServer.Token + "x"));
        Assert.False(Security.OperatorToken.Matches(null, OperatorServer.Token));
        Assert.False(Security.OperatorToken.Matches(string.Empty, string.Empty));
    }
}
