using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Processes;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Media.Tests;

/// <summary>Capstan with two external Janus instances (<c>Janus:Urls</c>) that the fixture starts itself, from the
/// same generated configuration the supervisor writes, sharing one VideoRoom admin key and posting their events to
/// this server.</summary>
public class TwoJanusFixture : MediaFixture
{
    public const string AdminKey = "placement-admin-key-0123456789";
    public const string EventsPassword = "placement-events-0123456789";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "capstan-two-janus-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _serverPort = FreePort();

    public List<(ChildProcess Process, Uri Url)> Janus { get; } = [];

    protected override async Task BeforeStartAsync()
    {
        var iface = Environment.GetEnvironmentVariable("CAPSTAN_NETNS_INTERFACE");
        for (var i = 0; i < 2; i++)
        {
            var conf = Path.Combine(_root, "janus" + i);
            Directory.CreateDirectory(conf);
            var port = FreePort();
            var spec = new JanusConfigSpec(conf, JanusConfig.FindLibFolder(), port, FreePort(), "admin-secret-" + i, AdminKey,
                $"http://127.0.0.1:{_serverPort}/internal/janus-events", EventsPassword, iface, null, i == 0 ? "21000-21499" : "21500-21999");
            foreach (var (name, text) in JanusConfig.Files(spec))
            {
                await File.WriteAllTextAsync(Path.Combine(conf, name), text);
            }
            var process = ChildProcess.Start("janus" + i, "/usr/bin/janus", ["-F", conf, "-C", Path.Combine(conf, "janus.jcfg"), "-o", "-D"], Path.Combine(_root, $"janus{i}.log"));
            var url = new Uri($"http://127.0.0.1:{port}/janus");
            Janus.Add((process, url));
            using var client = new JanusClient(new HttpClient(), url, AdminKey);
            await Wait.UntilAsync(async () =>
            {
                try
                {
                    await client.InfoAsync(CancellationToken.None);
                    return true;
                }
                catch (HttpRequestException)
                {
                    Assert.False(process.HasExited, $"Janus {i} exited; see {_root}/janus{i}.log");
                    return false;
                }
            }, $"Janus {i} answering (see {_root}/janus{i}.log)", 15);
        }
    }

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [.. Settings(), .. MoreSettings()];

    /// <summary>What a fixture built on this one adds.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> MoreSettings() => [];

    private IEnumerable<KeyValuePair<string, string?>> Settings() =>
    [
        new("Capstan:Port", _serverPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("Janus:Urls:0", Janus[0].Url.ToString()),
        new("Janus:Urls:1", Janus[1].Url.ToString()),
        new("Janus:AdminKey", AdminKey),
        new("Janus:EventsPassword", EventsPassword),
        new("Recorder:Enabled", "false"),
    ];

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var (process, _) in Janus)
        {
            await process.StopAsync(TimeSpan.FromSeconds(5), p => Task.FromResult(p.Signal(2)));
            await process.DisposeAsync();
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // left for the OS temp cleaner
        }
    }

    public async Task<Guid> MeetingAsync() => Guid.Parse(await NewMeetingAsync());

    /// <summary>Places the meeting's room through <see cref="RoomService"/> and returns the Janus it is on, checked with
    /// that Janus (the room exists there and not on the other one) and in <c>MeetingRooms</c>.</summary>
    public async Task<Uri> PlaceAsync(Guid? meetingId = null)
    {
        var id = meetingId ?? await MeetingAsync();
        await using var scope = App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var meeting = await db.Meetings.AsNoTracking().FirstAsync(m => m.Id == id, TestContext.Current.CancellationToken);
        var (room, janus) = await scope.ServiceProvider.GetRequiredService<RoomService>().EnsureAsync(meeting, TestContext.Current.CancellationToken);
        Assert.Equal(janus.Client.BaseUrl.ToString(), (await db.MeetingRooms.AsNoTracking().FirstAsync(r => r.MeetingId == id, TestContext.Current.CancellationToken)).JanusUrl);
        Uri? holder = null;
        foreach (var (process, url) in Janus)
        {
            if (process.HasExited)
            {
                continue;
            }
            using var client = new JanusClient(new HttpClient(), url, AdminKey);
            if ((await client.VideoRoomAsync(new JsonObject { ["request"] = "exists", ["room"] = room.RoomId }, TestContext.Current.CancellationToken))["exists"]!.GetValue<bool>())
            {
                Assert.Null(holder);
                holder = url;
            }
        }
        Assert.NotNull(holder);
        Assert.Equal(holder.ToString().TrimEnd('/'), janus.Client.BaseUrl.ToString().TrimEnd('/'));
        return holder;
    }

    /// <summary><paramref name="count"/> people connected in the meeting's live session (rows as the join writes
    /// them; nobody needs to send media for the count).</summary>
    public async Task PeopleAsync(Guid meetingId, int count)
    {
        await using var scope = App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var now = DateTime.UtcNow;
        var session = new SessionRow { Id = Guid.NewGuid(), AppId = AppId, MeetingId = meetingId, Status = SessionService.Live, CreatedAt = now, UpdatedAt = now, StartedAt = now };
        db.Sessions.Add(session);
        for (var i = 0; i < count; i++)
        {
            db.SessionPeers.Add(new SessionPeerRow { Id = Guid.NewGuid(), SessionId = session.Id, AppId = AppId, DisplayName = "p" + i, JoinedAt = now });
        }
        await db.SaveChangesAsync(TestContext.Current.CancellationToken);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>Placement by load on two real Janus instances: each new meeting's room is created on the instance the
/// load (participants + 2 × rooms) picks, as Janus itself answers (<c>exists</c> on each), and an instance that stops
/// answering is passed over.</summary>
public sealed class JanusPlacementMediaTests(TwoJanusFixture f) : IClassFixture<TwoJanusFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NewRooms_GoToTheLeastLoadedJanus_ByParticipantsAndRooms_SkippingOneThatDoesNotAnswer()
    {
        var a = f.Janus[0].Url;
        var b = f.Janus[1].Url;
        // Equal loads: the configured order, A. Then A has a room (2) and B none: B.
        Assert.Equal(a, await f.PlaceAsync());
        var onB = await f.MeetingAsync();
        Assert.Equal(b, await f.PlaceAsync(onB));
        // Three people in B's meeting (3 + 2 = 5 against A's 2): the next two rooms go to A (2, then 4) although
        // A then has three rooms to B's one.
        await f.PeopleAsync(onB, 3);
        Assert.Equal(a, await f.PlaceAsync());
        Assert.Equal(a, await f.PlaceAsync());
        // A is at 6, B at 5: B.
        Assert.Equal(b, await f.PlaceAsync());

        // A stops answering while it is the least loaded (A 6, B 7): the room goes to B.
        await f.Janus[0].Process.StopAsync(TimeSpan.FromSeconds(5), p => Task.FromResult(p.Signal(2)));
        Assert.Equal(b, await f.PlaceAsync());
    }
}

/// <summary><see cref="TwoJanusFixture"/> on a node beside the second Janus only (<c>Janus:LocalUrls</c>).</summary>
public sealed class BesideSecondJanusFixture : TwoJanusFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> MoreSettings() => [new("Janus:LocalUrls:0", Janus[1].Url.ToString())];
}

/// <summary>Track recording beside each Janus, in a running server: its track recorder takes the recording of a
/// room on its own Janus and leaves the older one of a room on the other Janus in the queue.</summary>
public sealed class TrackBesideJanusMediaTests(BesideSecondJanusFixture f) : IClassFixture<BesideSecondJanusFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ATrackRecording_IsRunBesideTheRoomsJanus_AndOneOnAnotherJanusWaitsQueued()
    {
        var onA = await f.MeetingAsync();
        Assert.Equal(f.Janus[0].Url, await f.PlaceAsync(onA));
        var onB = await f.MeetingAsync();
        Assert.Equal(f.Janus[1].Url, await f.PlaceAsync(onB));
        await f.PeopleAsync(onA, 1);
        await f.PeopleAsync(onB, 1);

        // The older recording is A's: a claim without the filter would take it first.
        var first = await StartTrackAsync(onA);
        var second = await StartTrackAsync(onB);
        await f.WaitStatusAsync(second, "RECORDING");
        // RECORDING: Janus B took the room's new folder on this node and switched its recording on (the capture asks
        // it and fails otherwise).
        Assert.True(Directory.Exists(Path.Combine(f.DataDir, "janus", "recordings", second)));
        var a = await f.GetAsync($"/recordings/{first}");
        Assert.Equal(("INVOKED", 1), (a!["status"]!.GetValue<string>(), a["queue_position"]!.GetValue<int>()));
        await using (var scope = f.App.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var jobs = await db.RecorderJobs.AsNoTracking().Where(j => j.RecordingId == Guid.Parse(first) || j.RecordingId == Guid.Parse(second))
                .ToDictionaryAsync(j => j.RecordingId.ToString("D"), j => (j.State, j.LeaseOwner), Ct);
            Assert.Equal((JobStates.Queued, (string?)null), jobs[first]);
            Assert.Equal(JobStates.Claimed, jobs[second].State);
            Assert.Contains(":track", jobs[second].LeaseOwner, StringComparison.Ordinal);
        }

        await f.ActAsync(second, "stop");
        await f.ActAsync(first, "stop");
        await Wait.UntilAsync(async () => (await f.GetAsync($"/recordings/{second}"))!["status"]!.GetValue<string>() is "UPLOADED" or "ERRORED", "the recording beside B ended");
    }

    private async Task<string> StartTrackAsync(Guid meeting)
    {
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings/track", new { meeting_id = meeting }, Ct);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.True(r.IsSuccessStatusCode, json!.ToJsonString());
        return json!["data"]!["recording"]!["id"]!.GetValue<string>();
    }
}
