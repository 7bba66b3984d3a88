using System.Net;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

public sealed class SystemApiTests_Sqlite(SqliteServer server) : SystemApiTests(server), IClassFixture<SqliteServer>;

public sealed class SystemApiTests_Postgres(PostgresServer server) : SystemApiTests(server), IClassFixture<PostgresServer>;

/// <summary><c>GET /accounts/{account_id}/system</c>, what the dashboard's System page shows: the recorder nodes as
/// they report themselves to the shared database, the queue, Janus and the readiness checks. The page itself in a
/// browser, with the real recorder, is in Capstan.Media.Tests (DashboardMediaTests).</summary>
public abstract class SystemApiTests(ServerFixture server)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private static JsonNode? NodeOf(JsonNode data, string owner) => data["nodes"]!.AsArray().SingleOrDefault(n => n!["owner"]!.GetValue<string>() == owner);

    [Fact]
    public async Task System_ListsTheReportedNodes_MarksTheLostOnes_AndNamesTheChecks()
    {
        var own = await server.CreateAccountAsync();
        var scopes = server.Services.GetRequiredService<IServiceScopeFactory>();
        var live = "host-a:composite:" + Guid.NewGuid().ToString("N");
        var lost = "host-b:composite:" + Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow;
        try
        {
            await RecorderNodes.WriteAsync(scopes, TimeProvider.System, live, "node-a", now.UtcDateTime, new RecorderLoad(3, 1, 2), Ct);
            await RecorderNodes.WriteAsync(scopes, new FakeTimeProvider(now.AddMinutes(-2)), lost, "node-b", now.AddMinutes(-10).UtcDateTime, new RecorderLoad(1, 0, 1), Ct);

            var data = (await own.Client().GetJsonAsync($"/client/v4/accounts/{own.AccountId}/system")).Data();
            var a = NodeOf(data, live)!;
            Assert.Equal(("node-a", 3, 1, 2, 0, false, false), (a.Str("node"), a["slots"]!.GetValue<int>(), a["busy"]!.GetValue<int>(), a["warm"]!.GetValue<int>(),
                a["jobs"]!.GetValue<int>(), a["lost"]!.GetValue<bool>(), a["this_process"]!.GetValue<bool>()));
            Assert.Equal("composite", a.Str("role"));
            var b = NodeOf(data, lost)!;
            Assert.True(b["lost"]!.GetValue<bool>());
            Assert.Equal("node-b", b.Str("node"));

            // The next report of a node updates its row.
            await RecorderNodes.WriteAsync(scopes, TimeProvider.System, live, "node-a", now.UtcDateTime, new RecorderLoad(3, 2, 1), Ct);
            data = (await own.Client().GetJsonAsync($"/accounts/{own.AccountId}/system")).Data();
            Assert.Equal(2, NodeOf(data, live)!["busy"]!.GetValue<int>());
            Assert.Single(data["nodes"]!.AsArray(), n => n!["owner"]!.GetValue<string>() == live);

            // This server (Janus and the recorder off): ready, its checks named, no Janus instance.
            Assert.Equal("ready", data.Str("status"));
            Assert.Equal("ok", data["checks"]!["database"]!.Str("status"));
            Assert.Contains("disabled", data["checks"]!["janus"]!.Str("description"), StringComparison.Ordinal);
            Assert.Contains("disabled", data["checks"]!["recorder"]!.Str("description"), StringComparison.Ordinal);
            Assert.Equal(0, data["janus"]!["instances"]!.GetValue<int>());
            Assert.True(data["queue"]!["depth"]!.GetValue<long>() >= 0);
            Assert.Equal(["INVOKED", "RECORDING", "PAUSED", "UPLOADING"], data["active_recordings"]!.AsObject().Select(p => p.Key).ToList());
        }
        finally
        {
            await using var scope = server.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().RecorderNodes.Where(n => n.Owner == live || n.Owner == lost).ExecuteDeleteAsync(Ct);
        }
    }

    [Fact]
    public async Task System_CountsTheQueue_AndListsALeaseHolderThatDoesNotReport_ByItsRole()
    {
        var own = await server.CreateAccountAsync();
        var meeting = (await own.Client().PostJsonAsync($"{own.AppPath}/meetings", new { title = "queued" })).Data(HttpStatusCode.Created).Str("id");
        var recording = Guid.Parse((await own.Client().PostJsonAsync($"{own.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id"));
        var path = $"/client/v4/accounts/{own.AccountId}/system";
        var queued = (await own.Client().GetJsonAsync(path)).Data();
        Assert.True(queued["queue"]!["depth"]!.GetValue<long>() >= 1);
        Assert.NotNull(queued["queue"]!["oldest_since"]);
        Assert.True(queued["active_recordings"]!["INVOKED"]!.GetValue<long>() >= 1);

        // A holder of the job that writes no report (the track recorder, or a worker of an older build).
        var owner = "host-t:track:" + Guid.NewGuid().ToString("N");
        await using var scope = server.Services.CreateAsyncScope();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var job = await db.RecorderJobs.AsNoTracking().FirstAsync(j => j.RecordingId == recording, Ct);
        var claimed = await jobs.ClaimAsync(owner, TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(job.Id, claimed!.Id);
        try
        {
            var data = (await own.Client().GetJsonAsync(path)).Data();
            var holder = NodeOf(data, owner)!;
            Assert.Equal(("host-t", "track", 0, 1, 1), (holder.Str("node"), holder.Str("role"), holder["slots"]!.GetValue<int>(), holder["busy"]!.GetValue<int>(), holder["jobs"]!.GetValue<int>()));
            Assert.Null(holder["seen_at"]);
            Assert.Equal(queued["queue"]!["depth"]!.GetValue<long>() - 1, data["queue"]!["depth"]!.GetValue<long>());
        }
        finally
        {
            await jobs.FinishAsync(job.Id, JobStates.Cancelled, Ct);
        }
    }

    [Fact]
    public async Task System_NeedsATokenOfThePathsAccount()
    {
        var own = await server.CreateAccountAsync();
        var other = await server.CreateAccountAsync();
        using var anonymous = server.Client();
        (await anonymous.GetJsonAsync($"/client/v4/accounts/{own.AccountId}/system")).Error(HttpStatusCode.Unauthorized, "missing API token");
        (await other.Client().GetJsonAsync($"/client/v4/accounts/{own.AccountId}/system")).Error(HttpStatusCode.Forbidden, "does not grant access");
    }

    [Fact]
    public async Task Report_WritesTheNodeWhileItRuns_AndRemovesItWhenItStops()
    {
        var scopes = server.Services.GetRequiredService<IServiceScopeFactory>();
        var owner = "host-c:composite:" + Guid.NewGuid().ToString("N");
        using var stop = new CancellationTokenSource();
        var report = RecorderNodes.ReportAsync(scopes, TimeProvider.System, owner, "node-c", () => new RecorderLoad(2, 0, 2), NullLogger.Instance, stop.Token);
        async Task<RecorderNodeRow?> RowAsync()
        {
            await using var scope = server.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().RecorderNodes.AsNoTracking().FirstOrDefaultAsync(n => n.Owner == owner, Ct);
        }
        await MetricsTests.UntilAsync(async () => await RowAsync() is not null, "the node's first report", 10);
        Assert.Equal((2, 0, 2), await RowAsync() is { } row ? (row.Slots, row.Busy, row.Warm) : default);
        await stop.CancelAsync();
        await report;
        Assert.Null(await RowAsync());
    }
}
