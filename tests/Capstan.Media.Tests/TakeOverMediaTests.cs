using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Capstan.Media.Tests;

/// <summary>The API server with Janus and no recorder of its own, and a spool store folder the workers share
/// (<c>Recorder:SpoolStore</c>, as an NFS mount would be): recordings are made by <c>capstan worker</c> processes the
/// test starts, each on a data folder of its own, as on two machines.</summary>
public sealed class TakeOverFixture : MediaFixture
{
    public string Spool { get; } = Path.Combine(Path.GetTempPath(), "capstan-spool-" + Guid.NewGuid().ToString("N"));

    /// <summary>How the recordings are composited (chosen by the API server when a recording starts). The browser:
    /// the native compositor does not run in a <c>capstan worker</c> process on main (it asks for the API server's
    /// RoomService, not registered there), whatever the shipping.</summary>
    public string Compositor => "browser";

    protected override Task BeforeStartAsync()
    {
        Directory.CreateDirectory(Spool);
        return Task.CompletedTask;
    }

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Recorder:Enabled", "false"), new("Recorder:Compositor", Compositor)];
}

/// <summary>Segments shipped while recording: a worker killed mid-recording (SIGKILL of its process group) on one
/// "machine" is taken over by a worker on another (another data folder, the same database, bucket and spool store),
/// which fetches the pieces the lost one shipped, goes on capturing the live meeting, and delivers one file holding
/// both parts, with the hole listed in <c>gaps</c>.</summary>
public sealed class TakeOverMediaTests(TakeOverFixture f) : IClassFixture<TakeOverFixture>
{
    private const double ShipSeconds = 2;

    [Fact]
    public Task WorkerLost_AnotherNodeFetchesTheShippedSegments_ContinuesTheLiveMeeting_AndDeliversOneFileWithTheGap() => TakeOverAsync(f);

    /// <summary>The capture processes a worker lists in its work folder (pid and start time), read as the worker's
    /// own reap reads them.</summary>
    private static List<(int Pid, long Started)> Listed(string dataDir) =>
        [.. Server.Processes.ProcessLedger.Listed(Path.Combine(dataDir, "recorder", "processes")).Select(p => (p.Pid, p.Started))];

    private static bool Alive((int Pid, long Started) p) => Server.Processes.ProcessLedger.StartTime(p.Pid) == p.Started;

    /// <summary>What every node shares: the spool store, a short lease (the job is free soon after its node is lost).</summary>
    private static IEnumerable<string> Shared(TakeOverFixture f) =>
    [
        $"--Recorder:SpoolStore={f.Spool}", $"--Recorder:ShipSeconds={ShipSeconds.ToString(CultureInfo.InvariantCulture)}", "--Recorder:Lease=00:00:06",
        $"--Recorder:Compositor={f.Compositor}",
    ];

    /// <summary>Node B: its own data folder and work folder; the API server's database, encryption key and default bucket.</summary>
    private static IEnumerable<string> NodeB(TakeOverFixture f) =>
    [
        .. Shared(f),
        "--database", $"Data Source={Path.Combine(f.DataDir, "capstan.db")};Pooling=True;Default Timeout=30",
        $"--Capstan:EncryptionKey={File.ReadAllText(Path.Combine(f.DataDir, "secret.key")).Trim()}",
        $"--Storage:DefaultBucket:Path={Path.Combine(f.DataDir, "bucket")}",
    ];

    internal static async Task TakeOverAsync(TakeOverFixture f)
    {
        var ct = TestContext.Current.CancellationToken;
        var log = Path.Combine(f.DataDir, "workers.log");
        var nodeBDir = Path.Combine(Path.GetTempPath(), "capstan-node-b-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(nodeBDir);
        var meeting = await f.NewMeetingAsync();
        var (_, token) = await f.AddParticipantAsync(meeting, "Camera");
        var page = await f.OpenAsync(token, 640, 360);
        RestartMediaTests.Worker? a = null, b = null;
        var aListed = new List<(int Pid, long Started)>();
        try
        {
            await MediaFixture.PublishingAsync(page, "participant joined");
            a = new RestartMediaTests.Worker(f, log, extra: Shared(f));
            await Wait.UntilAsync(() => Task.FromResult(Listed(f.DataDir).Count >= 3), "node A's pulseaudio and warm surface", 60);
            var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", new { meeting_id = meeting, video_config = new { codec = "H264", width = 640, height = 360 } }, ct);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var id = (await r.Content.ReadFromJsonAsync<JsonObject>(ct))!["data"]!["id"]!.GetValue<string>();
            await f.WaitStatusAsync(id, "RECORDING");
            var stored = Path.Combine(f.Spool, id);
            // Node B, on another data folder, is up and idle (its warm surface ready) while A records.
            b = new RestartMediaTests.Worker(f, log, nodeBDir, NodeB(f));
            await Wait.UntilAsync(() => Task.FromResult(Listed(nodeBDir).Count >= 3), "node B's pulseaudio and warm surface", 60);
            await Wait.UntilAsync(() => Task.FromResult(Directory.Exists(stored) && Directory.GetFiles(stored, "seg_0001.mkv.p*").Length >= 2), "node A shipped two pieces", 20);
            await Task.Delay(1500, ct); // into the next piece: what node A loses is the piece in progress
            Assert.Empty(Directory.GetFiles(nodeBDir, "seg_*.mkv", SearchOption.AllDirectories));

            // Node A's whole process group dies (a machine lost, as far as the recording is concerned).
            aListed = Listed(f.DataDir);
            var killedAt = DateTime.UtcNow;
            a.KillGroup();
            await File.AppendAllTextAsync(log, $"{killedAt:HH:mm:ss.fff} killed node A's process group\n", ct);
            await Task.Delay(300, ct);
            a.Dispose();
            a = null;
            await Wait.UntilAsync(() => Task.FromResult(!aListed.Any(Alive)), "node A's processes gone", 10);

            // Node B has nothing of the recording on its disk: it takes the job once A's lease (6 s) has run out.
            await Wait.UntilAsync(async () => (await f.GetAsync($"/recordings/{id}"))!["gaps"]!.AsArray().Count == 1, "node B captures: the gap closed", 40);
            var tookOver = DateTime.UtcNow;
            await Task.Delay(3000, ct);
            await f.ActAsync(id, "stop");
            var stopped = DateTime.UtcNow;
            var done = await f.WaitStatusAsync(id, "UPLOADED", 90);
            var stopToUploaded = DateTime.UtcNow - stopped;
            var lines = File.ReadAllLines(log);
            Assert.Contains(lines, l => l.Contains("fetched 1 shipped segments", StringComparison.Ordinal));

            var started = RestartMediaTests.Time(done, "started_time");
            var gap = Assert.Single(done["gaps"]!.AsArray().Select(g => (Start: RestartMediaTests.Time(g!, "start"), End: RestartMediaTests.Time(g!, "end"))));
            var partA = (gap.Start - started).TotalSeconds;
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{f.Compositor}: node A's part {partA:0.00} s (killed {(killedAt - started).TotalSeconds:0.00} s in), gap {(gap.End - gap.Start).TotalSeconds:0.00} s, taken over by {(tookOver - killedAt).TotalSeconds:0.0} s after the kill, stop to UPLOADED {stopToUploaded.TotalSeconds:0.00} s");
            // The gap opens where node A's last shipped piece ends: at most a piece (and the muxer's last cluster)
            // before the kill, and after the two pieces waited for.
            Assert.InRange((killedAt - gap.Start).TotalSeconds, 0, ShipSeconds + 1.5);
            Assert.True(partA > 2 * ShipSeconds - 0.5, $"node A's shipped part is {partA:0.00} s");
            Assert.True(gap.End > killedAt, "the gap closes after the kill");
            Assert.True((gap.End - killedAt).TotalSeconds < 15, $"node B continued the recording {(gap.End - killedAt).TotalSeconds:0.0} s after the kill");

            var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
            try
            {
                var facts = await MediaFacts.ProbeAsync(file);
                var expected = (RestartMediaTests.Time(done, "stopped_time") - started).TotalSeconds - (gap.End - gap.Start).TotalSeconds;
                // A killed capture's shipped bytes end at most a cluster (about a second) before the piece was cut.
                Assert.InRange(facts.Duration, expected - 1.5, expected + 0.3);
                Assert.Equal(("h264", "aac"), (facts.VideoCodec, facts.AudioCodec));
                await MediaFacts.RunAsync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"]);
                // Both parts are there, each with picture and sound: node A's (fetched from the spool store) and node B's.
                var lit = await MediaFacts.ColourFractionsAsync(file, (r, g, b) => r + g + b > 90);
                var aEnd = facts.Duration - (RestartMediaTests.Time(done, "stopped_time") - gap.End).TotalSeconds;
                Assert.True(lit.Where(x => x.Seconds < aEnd - 0.5).Average(x => x.Fraction) > 0.25, "node A's part is black");
                Assert.True(lit.Where(x => x.Seconds > aEnd + 0.5).Average(x => x.Fraction) > 0.25, "node B's part is black");
                Assert.True((await MediaFacts.VolumeAsync(file, 0.3, aEnd - 0.3)).Mean > -50, "node A's part is silent");
                Assert.True((await MediaFacts.VolumeAsync(file, aEnd + 0.3, facts.Duration - 0.3)).Mean > -50, "node B's part is silent");
            }
            finally
            {
                File.Delete(file);
            }
            // Delivered: the shipped pieces are removed from the spool store.
            await Wait.UntilAsync(() => Task.FromResult(!Directory.Exists(stored)), "the shipped pieces removed after delivery", 10);
        }
        finally
        {
            var last = Listed(nodeBDir);
            a?.Dispose();
            b?.Dispose();
            await page.Context.CloseAsync();
            foreach (var p in aListed.Concat(last).Concat(Listed(f.DataDir)).Where(Alive))
            {
                _ = RestartMediaTests.Kill(p.Pid, 9);
            }
            // What node A's browsers left in /tmp goes as the lost machine's would: a worker restarted on its folder
            // removes it (RecorderWorker), and node A is not restarted here.
            Capstan.Server.Recorder.CaptureSurface.RemoveSingletonFolders(Path.Combine(f.DataDir, "recorder"));
            Capstan.Server.Recorder.CaptureSurface.RemoveSingletonFolders(Path.Combine(nodeBDir, "recorder"));
            try
            {
                Directory.Delete(nodeBDir, recursive: true);
                Directory.Delete(f.Spool, recursive: true);
            }
            catch (IOException)
            {
                // left for the OS temp cleaner
            }
        }
    }
}
