using System.Net;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

/// <summary>The <c>queue_position</c> extension: recordings no worker has claimed yet wait in a queue, first come,
/// first served; a claimed one has none, and those behind it move up. (The server's own recorder is off here, so
/// every job stays queued until the test claims it.)</summary>
public sealed class QueuePositionTests(SqliteServer server) : IClassFixture<SqliteServer>
{
    [Fact]
    public async Task QueuedRecordings_HaveIncreasingPositions_AndAClaimedOneNone()
    {
        var ct = TestContext.Current.CancellationToken;
        var account = server.Account;
        var ids = new List<string>();
        var positions = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            var meeting = (await account.Client().PostJsonAsync($"{account.AppPath}/meetings", new { title = "Queue " + i })).Data(HttpStatusCode.Created).Str("id");
            var started = (await account.Client().PostJsonAsync($"{account.AppPath}/recordings", new { meeting_id = meeting })).Data();
            Assert.Equal("INVOKED", started.Str("status"));
            ids.Add(started.Str("id"));
            positions.Add(started["queue_position"]!.GetValue<int>());
        }
        Assert.Equal([positions[0], positions[0] + 1, positions[0] + 2], positions);
        Assert.Equal(positions[1], (await account.Client().GetJsonAsync($"{account.AppPath}/recordings/{ids[1]}")).Data()["queue_position"]!.GetValue<int>());
        // Lists leave it out.
        Assert.Null((await account.Client().GetJsonAsync($"{account.AppPath}/recordings")).Body["data"]![0]!["queue_position"]);

        // A worker claims the oldest queued jobs first: once the first of ours is claimed, it has no position and
        // the others move up by one.
        await using var scope = server.Services.CreateAsyncScope();
        var queue = scope.ServiceProvider.GetRequiredService<JobQueue>();
        RecorderJobRow? job;
        do
        {
            job = await queue.ClaimAsync("queue-test", TimeSpan.FromMinutes(5), ct);
        }
        while (job is not null && job.RecordingId != Guid.Parse(ids[0]));
        Assert.NotNull(job);
        Assert.Null((await account.Client().GetJsonAsync($"{account.AppPath}/recordings/{ids[0]}")).Data()["queue_position"]);
        Assert.Equal(1, (await account.Client().GetJsonAsync($"{account.AppPath}/recordings/{ids[1]}")).Data()["queue_position"]!.GetValue<int>());
        Assert.Equal(2, (await account.Client().GetJsonAsync($"{account.AppPath}/recordings/{ids[2]}")).Data()["queue_position"]!.GetValue<int>());
    }
}
