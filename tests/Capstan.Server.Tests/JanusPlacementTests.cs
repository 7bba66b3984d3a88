using System.Net;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests;

/// <summary>Where a new meeting's room goes among several Janus instances (<see cref="JanusPlacement"/>): the least
/// loaded first, counting participants and rooms (participants + 2 × rooms), ties in the instances' own order.</summary>
public sealed class JanusPlacementOrderTests
{
    private static readonly JanusInstance A = Instance("http://10.0.0.1:8088/janus");
    private static readonly JanusInstance B = Instance("http://10.0.0.2:8088/janus");
    private static readonly JanusInstance C = Instance("http://10.0.0.3:8088/janus");

    [Fact]
    public void TheLeastLoadedInstance_ComesFirst_CountingParticipantsAndRooms()
    {
        // A: 1 room, 6 people (8); B: 3 rooms, nobody (6); C: 2 rooms, 1 person (5).
        var loads = Loads((A, new JanusLoad(1, 6)), (B, new JanusLoad(3, 0)), (C, new JanusLoad(2, 1)));
        Assert.Equal([C, B, A], JanusPlacement.Order([A, B, C], loads));
        // Rooms alone would have put A first, participants alone B: the weighting decides.
        Assert.Equal(8, loads[JanusPlacement.Key(A.Client.BaseUrl.ToString())].Score);
    }

    [Fact]
    public void EqualLoads_KeepTheInstancesOrder_AndAnInstanceWithNothingCountsZero()
    {
        var loads = Loads((A, new JanusLoad(1, 2)), (B, new JanusLoad(2, 0)));
        Assert.Equal([C, A, B], JanusPlacement.Order([A, B, C], loads));
        Assert.Equal([C, B, A], JanusPlacement.Order([C, B, A], Loads((A, new JanusLoad(1, 0)), (B, new JanusLoad(1, 0)))));
        // Nothing anywhere: the configured order.
        Assert.Equal([A, B, C], JanusPlacement.Order([A, B, C], Loads()));
    }

    [Fact]
    public void Loads_AreMatchedWithOrWithoutATrailingSlash()
    {
        var slashed = Instance("http://10.0.0.9:8088/janus/");
        var loads = Loads((slashed, new JanusLoad(5, 0)));
        Assert.Equal([A, slashed], JanusPlacement.Order([slashed, A], loads));
    }

    [Fact]
    public void TheTrackRecorder_RecordsBesideItsLocalUrls_OrElseEveryInstanceItUses()
    {
        var external = new JanusOptions { Urls = [A.BrowserPath, B.BrowserPath], LocalUrls = [B.BrowserPath + "/"] };
        Assert.Equal([B.BrowserPath + "/"], JanusOptionsValidator.BesideUrls(external, [A, B]));
        external.LocalUrls.Clear();
        Assert.Equal([A.BrowserPath, B.BrowserPath], JanusOptionsValidator.BesideUrls(external, [A, B]));
        // The supervised Janus: this node's own while it is up, nothing while it restarts.
        Assert.Equal([C.BrowserPath], JanusOptionsValidator.BesideUrls(new JanusOptions(), [C]));
        Assert.Empty(JanusOptionsValidator.BesideUrls(new JanusOptions(), []));
    }

    [Fact]
    public void ANativeWorker_ClaimsBesideItsJanus_ABrowserWorkerAnywhere()
    {
        var janus = new JanusOptions { Urls = [A.BrowserPath, B.BrowserPath], LocalUrls = [B.BrowserPath] };
        var native = RecorderWorker.ClaimBeside(new RecorderOptions { Compositor = RecorderOptions.NativeCompositor }, janus, () => [A, B]);
        Assert.NotNull(native);
        Assert.Equal([B.BrowserPath], native());
        Assert.Null(RecorderWorker.ClaimBeside(new RecorderOptions { Compositor = RecorderOptions.BrowserCompositor }, janus, () => [A, B]));
    }

    [Theory]
    [InlineData("http://10.0.0.2:8088/janus", true)]
    [InlineData("http://10.0.0.2:8088/janus/", true)]
    [InlineData("http://10.0.0.7:8088/janus", false)]
    public void LocalUrls_MustEachBeOneOfTheUrls(string local, bool valid)
    {
        var result = new JanusOptionsValidator().Validate(null, new JanusOptions { Urls = [A.BrowserPath, B.BrowserPath], LocalUrls = [local] });
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Janus:LocalUrls:0 must be one of Janus:Urls", result.FailureMessage, StringComparison.Ordinal);
        }
        Assert.False(new JanusOptionsValidator().Validate(null, new JanusOptions { LocalUrls = [local] }).Succeeded);
    }

    private static Dictionary<string, JanusLoad> Loads(params (JanusInstance Instance, JanusLoad Load)[] loads) =>
        loads.ToDictionary(l => JanusPlacement.Key(l.Instance.Client.BaseUrl.ToString()), l => l.Load);

    internal static JanusInstance Instance(string url) => new(new JanusClient(new HttpClient(), new Uri(url), "key"), "pwd", url, 1);
}

public sealed class JanusPlacementTests_Sqlite(SqliteServer server) : JanusPlacementTests(server), IClassFixture<SqliteServer>;

public sealed class JanusPlacementTests_Postgres(PostgresServer server) : JanusPlacementTests(server), IClassFixture<PostgresServer>;

/// <summary>The load placement reads, and the track claim beside each Janus, on a real database (each class has a
/// server of its own, with its own database; no Janus is needed: both read only <c>MeetingRooms</c>).</summary>
public abstract class JanusPlacementTests(ServerFixture server)
{
    private const string UrlA = "http://10.0.0.1:8088/janus";
    private const string UrlB = "http://10.0.0.2:8088/janus";
    private const string UrlGone = "http://10.0.0.3:8088/janus";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Loads_CountEachInstancesRooms_AndTheParticipantsConnectedToThem()
    {
        const string urlC = "http://10.0.1.1:8088/janus";
        const string urlD = "http://10.0.1.2:8088/janus";
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        try
        {
            // C: two rooms with nobody in them. D: one room whose live session has three people in it now, one
            // who left, and an ended session's people (not counted).
            await RoomAsync(db, await MeetingAsync(), urlC);
            await RoomAsync(db, await MeetingAsync(), urlC);
            var busy = await MeetingAsync();
            await RoomAsync(db, busy, urlD + "/");
            var live = await SessionAsync(db, busy, SessionService.Live);
            var ended = await SessionAsync(db, busy, SessionService.Ended);
            foreach (var left in new[] { false, false, false, true })
            {
                await PeerAsync(db, live, left);
            }
            await PeerAsync(db, ended, left: false);

            var loads = await scope.ServiceProvider.GetRequiredService<RoomService>().LoadsAsync(Ct);
            Assert.Equal(new JanusLoad(2, 0), loads[urlC]);
            Assert.Equal(new JanusLoad(1, 3), loads[urlD]);
            // 2 × 2 = 4 for C against 3 + 2 × 1 = 5 for D: the next room goes to C, whatever the configured order.
            var c = JanusPlacementOrderTests.Instance(urlC);
            var d = JanusPlacementOrderTests.Instance(urlD + "/");
            Assert.Equal([c, d], JanusPlacement.Order([d, c], loads));

            // One more person joins D's meeting (6) and C gets a third room (6): a tie, the configured order decides.
            await PeerAsync(db, live, left: false);
            await RoomAsync(db, await MeetingAsync(), urlC);
            loads = await scope.ServiceProvider.GetRequiredService<RoomService>().LoadsAsync(Ct);
            Assert.Equal((6, 6), (loads[urlC].Score, loads[urlD].Score));
            Assert.Equal([d, c], JanusPlacement.Order([d, c], loads));
            Assert.Equal([c, d], JanusPlacement.Order([c, d], loads));
        }
        finally
        {
            await db.MeetingRooms.ExecuteDeleteAsync(Ct);
        }
    }

    /// <param name="admitted">Through admission by cost (<c>JobQueue.ClaimAdmittedAsync</c>, every job fitting) or
    /// the plain claim: the filter holds on both.</param>
    /// <param name="type">TRACK (the track recorder) or COMPOSITE (a native compositor's worker,
    /// <see cref="RecorderWorker.ClaimBeside"/>): the same filter.</param>
    [Theory]
    [InlineData(false, RecordingTypes.Track)]
    [InlineData(true, RecordingTypes.Track)]
    [InlineData(false, RecordingTypes.Composite)]
    [InlineData(true, RecordingTypes.Composite)]
    public async Task Jobs_AreClaimedOnlyBesideTheJanusHoldingTheMeetingsRoom(bool admitted, string type)
    {
        Func<RecordingRow, bool>? admit = admitted ? _ => true : null;
        var other = type == RecordingTypes.Track ? RecordingTypes.Composite : RecordingTypes.Track;
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var jobs = scope.ServiceProvider.GetRequiredService<JobQueue>();
        var lease = TimeSpan.FromMinutes(5);
        var nodeA = "node-a:track:" + Guid.NewGuid().ToString("N")[..8];
        var nodeB = "node-b:track:" + Guid.NewGuid().ToString("N")[..8];
        // Oldest first: a room on A, a room on a Janus no node runs beside, a room on B, no room at all.
        var onA = await RecordingAsync(db, type, UrlA);
        var onGone = await RecordingAsync(db, type, UrlGone);
        var onB = await RecordingAsync(db, type, UrlB + "/");
        var roomless = await RecordingAsync(db, type, null);
        try
        {
            // B passes over the older jobs of rooms that are not on its Janus.
            Assert.Equal(onB.Recording, (await jobs.ClaimAsync(nodeB, lease, Ct, type, admit, janusUrls: [UrlB]))?.RecordingId);
            // A meeting without a room has nothing of a Janus yet: any node may take it.
            Assert.Equal(roomless.Recording, (await jobs.ClaimAsync(nodeB, lease, Ct, type, admit, janusUrls: [UrlB]))?.RecordingId);
            Assert.Null(await jobs.ClaimAsync(nodeB, lease, Ct, type, admit, janusUrls: [UrlB]));
            // A's URL given with a trailing slash still matches.
            Assert.Equal(onA.Recording, (await jobs.ClaimAsync(nodeA, lease, Ct, type, admit, janusUrls: [UrlA + "/"]))?.RecordingId);
            // A node whose Janus is down (no instances) claims nothing of a room; a worker of the other type sees none of these.
            Assert.Null(await jobs.ClaimAsync(nodeA, lease, Ct, type, admit, janusUrls: []));
            Assert.Null(await jobs.ClaimAsync(nodeA, lease, Ct, other));

            // The room on the Janus no node serves: it waits, QUEUED, first in the queue, for as long as that lasts.
            Assert.Null(await jobs.ClaimAsync(nodeA, lease, Ct, type, admit, janusUrls: [UrlA]));
            Assert.Equal(JobStates.Queued, await db.RecorderJobs.AsNoTracking().Where(j => j.Id == onGone.Job).Select(j => j.State).FirstAsync(Ct));
            var waiting = (await server.Account.Client().GetJsonAsync($"{server.Account.AppPath}/recordings/{onGone.Recording:D}")).Data();
            Assert.Equal(("INVOKED", 1), (waiting.Str("status"), waiting["queue_position"]!.GetValue<int>()));
            var owners = await db.RecorderJobs.AsNoTracking().Where(j => j.Id == onA.Job || j.Id == onB.Job || j.Id == roomless.Job)
                .ToDictionaryAsync(j => j.Id, j => j.LeaseOwner, Ct);
            Assert.Equal([nodeA, nodeB, nodeB], new[] { owners[onA.Job], owners[onB.Job], owners[roomless.Job] });

            // Its meeting's room placed again on A (the placement lives in the database): A takes it at once.
            await db.MeetingRooms.Where(m => m.MeetingId == onGone.Meeting).ExecuteUpdateAsync(u => u.SetProperty(m => m.JanusUrl, UrlA), Ct);
            Assert.Null(await jobs.ClaimAsync(nodeB, lease, Ct, type, admit, janusUrls: [UrlB]));
            Assert.Equal(onGone.Recording, (await jobs.ClaimAsync(nodeA, lease, Ct, type, admit, janusUrls: [UrlA]))?.RecordingId);
        }
        finally
        {
            var ids = new[] { onA.Job, onGone.Job, onB.Job, roomless.Job };
            await db.RecorderJobs.Where(j => ids.Contains(j.Id)).ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Cancelled).SetProperty(j => j.LeaseOwner, (string?)null), Ct);
            await db.MeetingRooms.ExecuteDeleteAsync(Ct);
        }
    }

    /// <summary>A recording started through the API (the server's recorder is off: its job stays QUEUED), of
    /// <paramref name="type"/>, of a meeting whose room is on <paramref name="janusUrl"/> (null: no room).</summary>
    private async Task<(Guid Meeting, Guid Recording, Guid Job)> RecordingAsync(CapstanDbContext db, string type, string? janusUrl)
    {
        var meeting = await MeetingAsync();
        var recording = Guid.Parse((await server.Account.Client().PostJsonAsync($"{server.Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id"));
        await db.Recordings.Where(r => r.Id == recording).ExecuteUpdateAsync(u => u.SetProperty(r => r.Type, type), Ct);
        if (janusUrl is not null)
        {
            await RoomAsync(db, meeting, janusUrl);
        }
        var job = await db.RecorderJobs.AsNoTracking().Where(j => j.RecordingId == recording).Select(j => j.Id).FirstAsync(Ct);
        await Task.Delay(5, Ct); // distinct CreatedAt: the claim order is the jobs' age
        return (meeting, recording, job);
    }

    private async Task<Guid> MeetingAsync() =>
        Guid.Parse((await server.Account.Client().PostJsonAsync($"{server.Account.AppPath}/meetings", new { title = "Placement" })).Data(HttpStatusCode.Created).Str("id"));

    private static async Task RoomAsync(CapstanDbContext db, Guid meeting, string janusUrl)
    {
        db.MeetingRooms.Add(new MeetingRoomRow
        {
            MeetingId = meeting,
            RoomId = Random.Shared.NextInt64(1, long.MaxValue),
            JanusUrl = janusUrl,
            Pin = "pin",
            Secret = "secret",
            CreatedAt = DateTime.UtcNow,
        });
        await db.SaveChangesAsync(Ct);
        db.ChangeTracker.Clear();
    }

    private async Task<Guid> SessionAsync(CapstanDbContext db, Guid meeting, string status)
    {
        var now = DateTime.UtcNow;
        var row = new SessionRow { Id = Guid.NewGuid(), AppId = server.Account.AppId, MeetingId = meeting, Status = status, CreatedAt = now, UpdatedAt = now, StartedAt = now, EndedAt = status == SessionService.Live ? null : now };
        db.Sessions.Add(row);
        await db.SaveChangesAsync(Ct);
        db.ChangeTracker.Clear();
        return row.Id;
    }

    private async Task PeerAsync(CapstanDbContext db, Guid session, bool left)
    {
        var now = DateTime.UtcNow;
        db.SessionPeers.Add(new SessionPeerRow { Id = Guid.NewGuid(), SessionId = session, AppId = server.Account.AppId, DisplayName = "p", JoinedAt = now, LeftAt = left ? now : null });
        await db.SaveChangesAsync(Ct);
        db.ChangeTracker.Clear();
    }
}
