using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Testing;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>Participants whose camera and microphone are a flash+beep pattern (Chromium's fake capture from files
/// the fixture writes with ffmpeg), and a recorder at 30 fps.
/// <para>The participants' browser runs at a higher CPU priority (nice -10) than everything else here: it stands for
/// people on machines of their own, and Chromium's file capture, when starved, falls behind the wall clock (its
/// frame timer drops the lag instead of catching up) while its audio does not, so a starved stand-in would itself
/// send sound ahead of picture. The recorder, Janus and the test's CPU load share the cores as equals.</para>
/// <para>Even so the stand-in's camera skips frames now and then (measured: its own offset went from +20 ms to -220 ms
/// over 25 s), so the recordings are measured against what the participant's tracks held where they were captured
/// (<see cref="StartSourceProbeAsync"/>, <see cref="SyncReport.Against"/>): the recording path is judged on what it
/// adds, not on the stand-in's drift.</para></summary>
public class FakeCaptureFixture : MediaFixture
{
    /// <summary>Starts reading the participant's own camera and microphone tracks (<see cref="AvSync.SourceProbeJs"/>).</summary>
    public static async Task StartSourceProbeAsync(IPage page)
    {
        var tracks = await page.EvaluateAsync<int>("() => window.capstanLocalTracks().length");
        Assert.True(tracks == 2, $"the participant sends {tracks} tracks, not a camera and a microphone");
        await page.EvaluateAsync("() => (" + AvSync.SourceProbeJs + ")(window.capstanLocalTracks())");
    }

    /// <summary>The flash+beep events the participant's tracks held since <see cref="StartSourceProbeAsync"/>, in
    /// seconds on the page's clock, paired following the stand-in's drift (<see cref="SyncReport.PairFollowing"/>).</summary>
    public static async Task<SyncReport> SourceAsync(IPage page)
    {
        var src = await page.EvaluateAsync<System.Text.Json.JsonElement>("() => window.capstanSource");
        var lag = src.GetProperty("videoLag").GetDouble();
        var flashes = src.GetProperty("flashes").EnumerateArray().Select(e => (e.GetDouble() + lag) / 1e6).ToList();
        var tones = src.GetProperty("tones").EnumerateArray().Select(e => e.GetDouble() / 1e6).ToList();
        return SyncReport.PairFollowing(flashes, tones);
    }

    /// <summary>Where the moment <paramref name="wall"/> (UTC; a recording's <c>started_time</c>, say) sits on the
    /// page's clock, in seconds (<c>performance.timeOrigin</c>, same machine): the anchor
    /// <see cref="SyncReport.Against"/> takes for a file whose time 0 is that moment.</summary>
    public static async Task<double> PageClockAsync(IPage page, DateTime wall) =>
        (wall - DateTime.UnixEpoch).TotalSeconds - (await page.EvaluateAsync<double>("() => performance.timeOrigin") / 1000);

    private FakeCaptureSource? _source;

    protected override async Task BeforeStartAsync() => _source = await FakeCaptureSource.CreateAsync("capstan-sync-");

    protected override string BrowserExecutable() => _source!.Executable;

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Recorder:FrameRate", "30")];

    protected override IEnumerable<string> BrowserArgs() => _source!.BrowserArgs;

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _source?.Dispose();
    }
}

public sealed class SyncFixture : FakeCaptureFixture;

/// <summary>Sound and picture on one clock, and a file that matches its times: a flash+beep source recorded through
/// the custom <c>url</c> path and through a meeting, quiet and with both cores kept busy; the offsets are measured in
/// the downloaded file (<see cref="AvSync"/>).</summary>
public sealed class SyncMediaTests(SyncFixture f) : IClassFixture<SyncFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private const double MedianBoundMs = 40;
    private const double EventBoundMs = 80;

    /// <summary>Through a meeting in the browser, against the participant's own capture times: the recorder's
    /// Chromium lines sound up with picture itself and leaves a difference under 30 ms alone (libwebrtc's stream
    /// synchronization acts only on larger ones), on top of the capture's own +-40 ms; measured settled medians +1,
    /// +25, +32, +49, +56 and +58 ms over six runs on this 2-core machine. The native compositor, which settles nothing
    /// itself, is held to the issue's +-40 ms (NativeSyncMediaTests).</summary>
    private const double MeetingMedianBoundMs = 80;

    /// <summary>Each settled event against the run's median: the source's 30 fps frames and the recorder's 30 fps
    /// grabs place each flash to within a frame on either side (measured: at most 64 ms from the median).</summary>
    private const double MeetingSpreadBoundMs = 80;

    /// <summary>Seconds at the start of a meeting recording before the recorder's subscription has settled.</summary>
    private const double SettleSeconds = 8;

    private async Task<JsonNode> StartAsync(object body)
    {
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", body, TestContext.Current.CancellationToken);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        return json!["data"]!;
    }

    private static DateTime Time(JsonNode rec, string field) =>
        DateTime.Parse(rec[field]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    /// <summary>With <c>CAPSTAN_KEEP_MEDIA=DIR</c>, the downloaded files are kept there for a look.</summary>
    private static void Keep(string file, string name)
    {
        if (Environment.GetEnvironmentVariable("CAPSTAN_KEEP_MEDIA") is { Length: > 0 } dir)
        {
            Directory.CreateDirectory(dir);
            File.Copy(file, Path.Combine(dir, name + Path.GetExtension(file)), overwrite: true);
        }
    }

    private static void AssertInSync(SyncReport sync, int minPairs)
    {
        Assert.True(sync.Pairs.Count >= minPairs, $"too few flash/tone pairs: {sync}");
        Assert.True(sync.Pairs.Count >= sync.Flashes.Count - 1, $"flashes without their tone: {sync}");
        Assert.True(Math.Abs(sync.MedianMs) <= MedianBoundMs, $"median offset out of +-{MedianBoundMs} ms: {sync}");
        Assert.True(sync.MaxAbsMs <= EventBoundMs, $"an event out of +-{EventBoundMs} ms: {sync}");
    }

    /// <summary>The page's reported instants against the file's events: where on the wall clock the file's first
    /// frame lies, as a median over the events. The page reports when each tone was played (by its audio clock,
    /// <c>getOutputTimestamp</c>), so the file's tones are compared to them; its flashes come a paint later (a frame
    /// or two, more under load: measured 112 ms once with both cores busy), which is the page's and not the file's.
    /// The file's flashes and tones are held together by the sync bounds.</summary>
    private static double FirstFrameErrorMs(IReadOnlyList<double> events, IReadOnlyList<DateTime> reported, DateTime started)
    {
        var errors = new List<double>();
        foreach (var at in events)
        {
            var expected = started.AddSeconds(at);
            var nearest = reported.OrderBy(r => Math.Abs((r - expected).TotalMilliseconds)).First();
            errors.Add((expected - nearest).TotalMilliseconds);
        }
        errors.Sort();
        return errors[errors.Count / 2];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CustomUrl_FlashAndBeep_StayTogether_AndTheFileMatchesItsTimes(bool loaded)
    {
        using var app = new StaticServer();
        app.Add("sync.html", AvSync.PageHtml, "text/html");
        var meeting = await f.NewMeetingAsync();
        var url = app.Url("sync.html") + "?report=" + Uri.EscapeDataString(app.Url("report"));
        using var load = loaded ? new CpuLoad() : null;
        var id = (await StartAsync(new { meeting_id = meeting, url, video_config = new { codec = "H264", width = 640, height = 360 } }))["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");
        await Task.Delay(12_000, TestContext.Current.CancellationToken);
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        load?.Dispose();

        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        Keep(file, $"custom-{(loaded ? "loaded" : "quiet")}");
        try
        {
            var sync = await AvSync.MeasureAsync(file);
            TestContext.Current.TestOutputHelper?.WriteLine($"custom url ({(loaded ? "loaded" : "quiet")}): A/V {sync}");
            AssertInSync(sync, 8);

            var facts = await MediaFacts.ProbeAsync(file);
            var started = Time(done, "started_time");
            var stopped = Time(done, "stopped_time");
            Assert.True(Math.Abs(facts.Duration - (stopped - started).TotalSeconds) <= 0.3,
                $"a file of {facts.Duration:0.000} s for {(stopped - started).TotalSeconds:0.000} s from started_time to stopped_time; the worker's lines:\n{f.ServerLog.Describe(id)}");
            Assert.Equal((long)Math.Round(facts.Duration, MidpointRounding.AwayFromZero), done["recording_duration"]!.GetValue<long>());
            Assert.Empty(done["gaps"]!.AsArray());

            List<DateTime> reported;
            reported = app.Requests.Where(r => r.AbsolutePath == "/report")
                .Select(r => DateTime.UnixEpoch.AddMilliseconds(double.Parse(System.Web.HttpUtility.ParseQueryString(r.Query)["flash"]!, CultureInfo.InvariantCulture)))
                .ToList();
            Assert.NotEmpty(reported);
            var firstFrame = FirstFrameErrorMs(sync.Tones, reported, started);
            TestContext.Current.TestOutputHelper?.WriteLine($"first frame: {firstFrame:0} ms from started_time by the tones, {FirstFrameErrorMs(sync.Flashes, reported, started):0} ms by the flashes");
            Assert.True(Math.Abs(firstFrame) <= 100, $"the file's first frame is {firstFrame:0} ms from started_time");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task CustomUrl_Vp9WithWatermark_PausedAndResumed_StaysTogether_AndJoinsWithoutAGap()
    {
        using var app = new StaticServer();
        app.Add("sync.html", AvSync.PageHtml, "text/html");
        var png = Path.Combine(Path.GetTempPath(), $"wm-{Guid.NewGuid():N}.png");
        await MediaFacts.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=40x20", "-frames:v", "1", png]);
        app.Add("wm.png", await File.ReadAllBytesAsync(png, TestContext.Current.CancellationToken), "image/png");
        File.Delete(png);
        var meeting = await f.NewMeetingAsync();
        var id = (await StartAsync(new
        {
            meeting_id = meeting,
            url = app.Url("sync.html"),
            video_config = new { codec = "VP9", width = 640, height = 360, watermark = new { url = app.Url("wm.png"), position = "left top", size = new { width = 40, height = 20 } } },
        }))["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");
        await Task.Delay(6000, TestContext.Current.CancellationToken);
        await f.ActAsync(id, "pause");
        var pausedAt = DateTime.UtcNow;
        await Task.Delay(2000, TestContext.Current.CancellationToken);
        var resumeAsked = DateTime.UtcNow;
        await f.ActAsync(id, "resume");
        var resumedAt = DateTime.UtcNow;
        await Task.Delay(6000, TestContext.Current.CancellationToken);
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);

        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "webm");
        try
        {
            var facts = await MediaFacts.ProbeAsync(file);
            Assert.Equal(("vp9", "vorbis"), (facts.VideoCodec, facts.AudioCodec));
            var sync = await AvSync.MeasureAsync(file);
            TestContext.Current.TestOutputHelper?.WriteLine($"VP9, watermark, pause: A/V {sync}");
            // The events at the join are left out: the page went on through the pause, so the segment before it may
            // end inside a flash or a tone, and the next one start inside another. The join lies where the pause was
            // asked for, a little later (the worker's reaction): 0.5 s before that to 1 s after.
            var joinAt = (pausedAt - Time(done, "started_time")).TotalSeconds;
            AssertInSync(sync.Without(joinAt, 0.5, 1.0), 8);

            // Pauses are joined over: the file is the recorded time (the API's pause instant was before pausedAt,
            // its resume instant after resumeAsked, so at most this long), less what the resumed capture takes to
            // start (about 0.1 s here, more under load) and the resume call's own time.
            // Known limit (README): each segment also holds the time from its capture's start to its first grab
            // (the first frame repeated, with the sound of that time), which the worker reports: 0.46 s in two quiet
            // segments here, 0.57 s in a CI run's; at most a second.
            var recorded = (Time(done, "stopped_time") - Time(done, "started_time")).TotalSeconds - (resumeAsked - pausedAt).TotalSeconds;
            var lead = f.ServerLog.CaptureLeadSeconds(id);
            var bounds = (Low: recorded - (resumedAt - resumeAsked).TotalSeconds - 1.0, High: recorded + 0.3 + lead);
            Assert.True(lead <= 1.0 && facts.Duration >= bounds.Low && facts.Duration <= bounds.High,
                $"a file of {facts.Duration:0.000} s for at most {recorded:0.000} s recorded and {lead:0.000} s before the captures' first grabs (bounds {bounds.Low:0.000}-{bounds.High:0.000}); the worker's lines:\n{f.ServerLog.Describe(id)}");

            // No gap and no overlap at the join: consecutive video frames are one frame apart everywhere.
            var pts = (await MediaFacts.RunAsync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file]))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => double.Parse(l.Trim().TrimEnd(','), CultureInfo.InvariantCulture)).Order().ToList();
            var steps = pts.Zip(pts.Skip(1), (a, b) => b - a).ToList();
            Assert.True(steps.Max() <= 1.5 / 30, $"a gap of {steps.Max():0.000} s between two frames");
            Assert.True(steps.Min() >= 0.5 / 30, $"frames {steps.Min():0.000} s apart (an overlap)");

            var mark = await MediaFacts.PixelAsync(file, 3, 10, 10);
            Assert.True(mark.R > 150 && mark.G < 90 && mark.B < 90, $"the watermark is missing: {mark}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Through a meeting, on a quiet machine: the participant, Janus, the recorder's browser and capture all
    /// share these 2 cores, and with them kept busy as well the recorder's browser drops and delays the flashes'
    /// frames themselves (measured: flashes missing, events from -400 to +400 ms); the custom url test above covers the
    /// capture under load.</summary>
    [Fact]
    public async Task Meeting_AParticipantsFlashAndBeep_StayTogether()
    {
        var meeting = await f.NewMeetingAsync();
        var (_, token) = await f.AddParticipantAsync(meeting, "Flash");
        var page = await f.OpenAsync(token, 640, 360);
        try
        {
            await MediaFixture.PublishingAsync(page, "participant joined");
            await FakeCaptureFixture.StartSourceProbeAsync(page);
            var id = (await StartAsync(new { meeting_id = meeting, video_config = new { codec = "H264", width = 640, height = 360 } }))["id"]!.GetValue<string>();
            await f.WaitStatusAsync(id, "RECORDING");
            await Task.Delay(20_000, TestContext.Current.CancellationToken);
            await f.ActAsync(id, "stop");
            var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
            var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
            Keep(file, "meeting");
            try
            {
                // Each event of the file against the same event where the participant captured it: what Janus, the
                // recorder's browser and the capture added.
                var all = await AvSync.MeasureAsync(file);
                var source = await FakeCaptureFixture.SourceAsync(page);
                var near = await FakeCaptureFixture.PageClockAsync(page, Time(done, "started_time"));
                var own = all.Against(source, near);
                TestContext.Current.TestOutputHelper?.WriteLine($"meeting: file {all}\nsource {source}\nadded by the recording {own}");
                Assert.True(all.Pairs.Count >= all.Flashes.Count - 1 && all.Pairs.Count >= 12, $"flashes without their tone: {all}");
                // Every event of the file was made by the participant (at most one, cut at the file's edge, is not);
                // a few may go unjudged where the source's probe, starved, dropped one half (SyncReport.NotAtSource).
                var unfound = all.NotAtSource(source, near);
                Assert.True(unfound.Count <= 1 && own.Pairs.Count >= all.Pairs.Count - 3, $"file events not found at the source ({unfound.Count} not at all, {own.Pairs.Count} of {all.Pairs.Count} judged): file {all}; source {source}");
                // The recorder's page subscribes to the participant when the recording starts: WebRTC's lip sync in
                // its browser needs a few seconds to line sound up with picture (measured: -440 to +110 ms over the
                // first 5 to 7 s). The bounds hold from 8 s on; before it, within 450 ms.
                Assert.True(own.MaxAbsMs <= 450, $"an event out of +-450 ms while the subscription settles: {own}");
                // Once settled, the recorder's browser plays a participant's sound and picture lip-synced (its
                // subscription asks for use_msid, so each publisher's streams are one sync group; the sound is moved
                // for Janus's arrival-stamped sender reports where the segments are joined): see the bounds' notes.
                var settled = new SyncReport(own.Flashes, own.Tones, own.Pairs.Where(p => p.Flash >= SettleSeconds).ToList());
                Assert.True(settled.Pairs.Count >= 6, $"too few settled events: {own}");
                Assert.True(Math.Abs(settled.MedianMs) <= MeetingMedianBoundMs, $"median offset out of +-{MeetingMedianBoundMs} ms: {own}");
                var spread = settled.Pairs.Max(p => Math.Abs(p.OffsetMs - settled.MedianMs));
                Assert.True(spread <= MeetingSpreadBoundMs, $"an event {spread:0} ms from the median (bound {MeetingSpreadBoundMs} ms): {own}");
                // No drift: the last events' median stays within 80 ms of the whole's.
                var (_, last) = settled.Ends(3);
                Assert.True(Math.Abs(last - settled.MedianMs) <= 80, $"the offset drifted to {last:0} ms by the end: {own}");
                var facts = await MediaFacts.ProbeAsync(file);
                var span = (Time(done, "stopped_time") - Time(done, "started_time")).TotalSeconds;
                Assert.InRange(facts.Duration, span - 0.3, span + 0.3);
            }
            finally
            {
                File.Delete(file);
            }
        }
        finally
        {
            await page.Context.CloseAsync();
        }
    }
}
