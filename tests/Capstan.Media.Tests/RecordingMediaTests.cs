using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Domain;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>Composite recordings for real: the recorder worker (Xvfb, PulseAudio, Chromium, ffmpeg) records a
/// meeting of Chromium participants; each test downloads the file from download_url and checks it with ffprobe.</summary>
public sealed class RecordingMediaTests(MediaFixture f) : IClassFixture<MediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    /// <summary>The compositor a fixture's server records with: what a shared check expects in
    /// <c>compositor</c>.</summary>
    internal static string CompositorOf(MediaFixture f) => f is NativeMediaFixture ? "native" : "browser";

    /// <summary>The recording is made by the fixture's compositor (a shared check must not pass on the other
    /// one).</summary>
    internal static void ExpectCompositor(MediaFixture f, JsonNode recording) =>
        Assert.Equal(CompositorOf(f), recording["compositor"]?.GetValue<string>());

    internal static async Task<(string Meeting, List<IPage> Pages)> MeetingWithPeopleAsync(MediaFixture f, int people, object? meetingBody = null)
    {
        var meeting = await f.NewMeetingAsync(meetingBody);
        var pages = new List<IPage>();
        foreach (var name in new[] { "Alice", "Bob", "Carol" }.Take(people))
        {
            var p = await f.AddParticipantAsync(meeting, name);
            var page = await f.OpenAsync(p.Token, 640, 360);
            pages.Add(page);
        }
        foreach (var page in pages)
        {
            await MediaFixture.PublishingAsync(page, "participant joined");
        }
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == people, $"{people} live participants");
        return (meeting, pages);
    }

    internal static async Task<JsonNode> StartAsync(MediaFixture f, object body)
    {
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", body, TestContext.Current.CancellationToken);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        return json!["data"]!;
    }

    internal static async Task CloseAsync(IEnumerable<IPage> pages)
    {
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }
    }

    /// <summary>The file of recording <paramref name="id"/> lasts its <paramref name="span"/> (seconds from
    /// started_time to stopped_time, or a fixed limit), <paramref name="under"/> less to <paramref name="over"/> more,
    /// with two known limits of the browser capture allowed for as the worker reports them (README, Known limits):
    /// its clock (PulseAudio's) falling behind on a starved machine, the file then that much shorter (a clean-clone CI
    /// run: 6.60 s for 6.97 s, its clock 0.42 s behind, 81 of 99 frames grabbed), up to a tenth of the span; and the
    /// time from its start to its first grab, kept in the file, up to a second. On a failure the message carries
    /// the file's first packets and the worker's lines.</summary>
    internal static async Task AssertFileHoldsItsSpanAsync(MediaFixture f, string id, string file, double span, double under, double over, string context = "")
    {
        var lag = f.ServerLog.CaptureClockLagSeconds(id);
        var lead = Math.Min(f.ServerLog.CaptureLeadSeconds(id), 1.0);
        var duration = (await MediaFacts.ProbeAsync(file)).Duration;
        if (lag <= span / 10 && duration >= span - under - lag && duration <= span + over + lead)
        {
            return;
        }
        var packets = await MediaFacts.RunAsync("ffprobe", ["-v", "error", "-show_entries", "packet=codec_type,pts_time", "-read_intervals", "%+#6", "-of", "csv=p=0", file]);
        Assert.Fail($"{context}a file of {duration:0.000} s for {span:0.000} s (the capture's clock {lag:0.000} s behind, {lead:0.000} s before its first grab); "
            + $"its first packets: {packets.Replace('\n', ' ')}\nthe worker's lines:\n{f.ServerLog.Describe(id)}");
    }

    /// <summary>A camera turned off in the browser composite: the recorder view's camera-off tile (meeting.css
    /// <c>.tile.cameraoff</c>) in the participant's place, then the video back.</summary>
    [Fact]
    public Task CameraOff_LeavesANamedTile_AndTheVideoComesBackInPlace() => CameraOffChecks.CompositeShowsANamedTileWhileTheCameraIsOffAsync(f);

    [Fact]
    public Task TwoParticipants_WithPause_GiveOneContinuousH264AacFile_AndAnAudioFile() => PauseGivesOneContinuousFileAsync(f);

    /// <summary>A pause and resume give one continuous H.264/AAC file (the pause joined over), not silent, not black,
    /// and the audio-only file beside it. Shared by the browser composite (here) and the native one (<see
    /// cref="NativeCompositorMediaTests"/>).</summary>
    internal static async Task PauseGivesOneContinuousFileAsync(MediaFixture f)
    {
        var (meeting, pages) = await MeetingWithPeopleAsync(f, 2);
        var rec = await StartAsync(f, new { meeting_id = meeting, video_config = new { width = 640, height = 360 }, audio_config = new { codec = "AAC", channel = "stereo" } });
        var id = rec["id"]!.GetValue<string>();
        var recording = await f.WaitStatusAsync(id, "RECORDING");
        ExpectCompositor(f, recording);
        var started = DateTime.Parse(recording["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUniversalTime();

        await Task.Delay(4000, TestContext.Current.CancellationToken);
        var paused = await f.ActAsync(id, "pause");
        var pausedAt = DateTime.UtcNow;
        Assert.Equal("PAUSED", paused["status"]!.GetValue<string>());
        await Task.Delay(2000, TestContext.Current.CancellationToken);
        Assert.Equal("RECORDING", (await f.ActAsync(id, "resume"))["status"]!.GetValue<string>());
        var resumedAt = DateTime.UtcNow;
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        Assert.Equal("UPLOADING", (await f.ActAsync(id, "stop"))["status"]!.GetValue<string>());
        var stoppedAt = DateTime.UtcNow;
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        await CloseAsync(pages);

        var recorded = (pausedAt - started).TotalSeconds + (stoppedAt - resumedAt).TotalSeconds;
        var video = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var facts = await MediaFacts.ProbeAsync(video);
        // Pauses are joined over: the file is the recorded time less what the resumed capture takes to grab its
        // first frame (a new pipeline: about 0.2 s, more under load; README "Known limits"), as in the VP9 sync test.
        // Measured in a clean-clone CI run: 7.20 s for 7.75 s recorded.
        Assert.True(facts.Duration >= recorded - 1.0 && facts.Duration <= recorded + 0.5,
            $"a file of {facts.Duration:0.000} s for {recorded:0.000} s recorded; the worker's lines:\n{f.ServerLog.Describe(id)}");
        Assert.Equal(("h264", 640, 360, "aac", 2), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec, facts.AudioChannels));
        Assert.True(await MediaFacts.MeanVolumeAsync(video) > -50, "audio is silent");
        var lit = await MediaFacts.LitFractionAsync(video);
        Assert.True(lit > 0.25, $"video is black: {lit:0.00} of the picture lit");
        // Only the page is filmed: no tab strip or address bar (which would show the recorder's token) at the top.
        var top = await MediaFacts.PixelAsync(video, 2, 320, 6);
        Assert.True(top is { R: < 80, G: < 80, B: < 80 }, $"the top of the picture is not the meeting page's dark background: {top}");
        Assert.Equal(new FileInfo(video).Length, done["file_size"]!.GetValue<long>());
        Assert.Equal((long)Math.Round(facts.Duration, MidpointRounding.AwayFromZero), done["recording_duration"]!.GetValue<long>());
        Assert.EndsWith(".mp4", done["output_file_name"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(done["download_url_expiry"]);

        var audio = await MediaFixture.DownloadAsync(done["audio_download_url"]!.GetValue<string>(), "m4a");
        var audioFacts = await MediaFacts.ProbeAsync(audio);
        Assert.Null(audioFacts.VideoCodec);
        Assert.Equal("aac", audioFacts.AudioCodec);
        Assert.InRange(audioFacts.Duration, facts.Duration - 0.3, facts.Duration + 0.3);
        File.Delete(video);
        File.Delete(audio);
    }

    /// <summary>Records a few seconds of a running meeting and returns the finished recording.</summary>
    internal static async Task<JsonNode> RecordForAsync(MediaFixture f, object body, double seconds)
    {
        var id = (await StartAsync(f, body))["id"]!.GetValue<string>();
        ExpectCompositor(f, await f.WaitStatusAsync(id, "RECORDING"));
        await Task.Delay(TimeSpan.FromSeconds(seconds), TestContext.Current.CancellationToken);
        await f.ActAsync(id, "stop");
        return await f.WaitStatusAsync(id, "UPLOADED");
    }

    [Fact]
    public Task Vp8_GivesWebmWithVorbis() => Vp8GivesWebmAsync(f);

    /// <summary>VP8 gives a WebM file with Vorbis sound. Shared by the browser composite (here) and the native one
    /// (<see cref="NativeCompositorMediaTests"/>).</summary>
    internal static async Task Vp8GivesWebmAsync(MediaFixture f)
    {
        var (meeting, pages) = await MeetingWithPeopleAsync(f, 1);
        var done = await RecordForAsync(f, new { meeting_id = meeting, video_config = new { codec = "VP8", width = 640, height = 360 } }, 3);
        await CloseAsync(pages);
        Assert.EndsWith(".webm", done["output_file_name"]!.GetValue<string>(), StringComparison.Ordinal);
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "webm");
        var facts = await MediaFacts.ProbeAsync(file);
        Assert.Equal(("vp8", 640, 360, "vorbis"), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec));
        Assert.Contains("webm", facts.Format, StringComparison.Ordinal);
        // 3 s after RECORDING was seen; under load the file can hold up to ~3 s more from before it: the capture
        // starts before the first encoded frame is reported (a known gap: README, "Known limits").
        Assert.InRange(facts.Duration, 2.5, 6.5);
        var lit = await MediaFacts.LitFractionAsync(file);
        Assert.True(lit > 0.25, $"video is black: {lit:0.00} of the picture lit");
        Assert.Null(done["audio_download_url"]);
        File.Delete(file);
    }

    [Fact]
    public Task Watermark_IsPlacedInTheChosenCorner() => WatermarkInTheCornerAsync(f);

    /// <summary>The watermark image is drawn at the size asked, in the corner asked, nowhere else. Shared by the
    /// browser composite (here) and the native one (<see cref="NativeCompositorMediaTests"/>).</summary>
    internal static async Task WatermarkInTheCornerAsync(MediaFixture f)
    {
        using var images = new StaticServer();
        var png = Path.Combine(Path.GetTempPath(), $"wm-{Guid.NewGuid():N}.png");
        await MediaFacts.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=80x40", "-frames:v", "1", png]);
        images.Add("wm.png", await File.ReadAllBytesAsync(png, TestContext.Current.CancellationToken), "image/png");
        File.Delete(png);

        var (meeting, pages) = await MeetingWithPeopleAsync(f, 1);
        var done = await RecordForAsync(f, new
        {
            meeting_id = meeting,
            video_config = new { width = 640, height = 360, watermark = new { url = images.Url("wm.png"), position = "right bottom", size = new { width = 64, height = 32 } } },
        }, 3);
        await CloseAsync(pages);
        Assert.Single(images.Requests, r => r.AbsolutePath == "/wm.png");
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var inside = await MediaFacts.PixelAsync(file, 1.5, 640 - 10, 360 - 10);
        Assert.True(inside.R > 180 && inside.G < 80 && inside.B < 80, $"watermark pixel is {inside}");
        var outside = await MediaFacts.PixelAsync(file, 1.5, 640 - 80, 360 - 10);
        Assert.False(outside.R > 180 && outside.G < 80 && outside.B < 80, $"the watermark is larger than asked: {outside}");
        var otherCorner = await MediaFacts.PixelAsync(file, 1.5, 10, 10);
        Assert.False(otherCorner.R > 180 && otherCorner.G < 80 && otherCorner.B < 80, "watermark in the wrong corner");
        File.Delete(file);
    }

    [Fact]
    public async Task RtmpOut_StreamsLiveWhileRecording()
    {
        using var rtmp = new RtmpServer();
        var (meeting, pages) = await MeetingWithPeopleAsync(f, 1);
        var id = (await StartAsync(f, new { meeting_id = meeting, video_config = new { width = 640, height = 360 }, rtmp_out_config = new { rtmp_url = rtmp.Url("capstan") } }))["id"]!.GetValue<string>();
        ExpectCompositor(f, await f.WaitStatusAsync(id, "RECORDING"));
        var live = await f.ProbeLiveAsync(rtmp.Url("capstan"), id);
        Assert.Contains("h264,640,360", live, StringComparison.Ordinal);
        Assert.Contains("aac", live, StringComparison.Ordinal);
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        await CloseAsync(pages);
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        Assert.Equal("h264", (await MediaFacts.ProbeAsync(file)).VideoCodec);
        File.Delete(file);
    }

    [Fact]
    public async Task CustomUrl_GetsAuthTokenAndConfig_AndIsRecorded()
    {
        using var app = new StaticServer();
        app.Add("app.html", """
            <!doctype html><html><body style="margin:0;background:rgb(0,0,255)">
            <script>
              const ctx = new AudioContext(); const o = ctx.createOscillator(); o.frequency.value = 440; o.connect(ctx.destination); o.start();
            </script></body></html>
            """, "text/html");
        var (meeting, pages) = await MeetingWithPeopleAsync(f, 1);
        var done = await RecordForAsync(f, new { meeting_id = meeting, url = app.Url("app.html"), video_config = new { width = 640, height = 360 } }, 3);
        await CloseAsync(pages);
        var request = app.Requests.First(r => r.AbsolutePath == "/app.html");
        var query = System.Web.HttpUtility.ParseQueryString(request.Query);
        Assert.Equal(3, query["authToken"]!.Split('.').Length);
        Assert.Equal(640, JsonNode.Parse(query["config"]!)!["video_config"]!["width"]!.GetValue<int>());
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var pixel = await MediaFacts.PixelAsync(file, 1.5, 320, 180);
        Assert.True(pixel.B > 180 && pixel.R < 60 && pixel.G < 60, $"the custom page is not what was recorded: {pixel}");
        Assert.True(await MediaFacts.MeanVolumeAsync(file) > -40, "the custom page's tone is not in the recording");
        File.Delete(file);
    }

    [Fact]
    public Task RecordOnStart_RecordsTheSession_AndKickAllStopsAtOnce() => RecordOnStartAndKickAllAsync(f);

    /// <summary>record_on_start records the session from its start; kick-all stops the recording at once
    /// (ALL_PEERS_LEFT). Shared by the browser composite (here) and the native one (<see
    /// cref="NativeCompositorMediaTests"/>).</summary>
    internal static async Task RecordOnStartAndKickAllAsync(MediaFixture f)
    {
        var (meeting, pages) = await MeetingWithPeopleAsync(f, 2, new { title = "Auto", record_on_start = true, recording_config = new { video_config = new { width = 640, height = 360 } } });
        JsonNode? active = null;
        await Wait.UntilAsync(async () => (active = await f.GetAsync($"/recordings/active-recording/{meeting}")) is not null, "a recording started with the session");
        var id = active!["id"]!.GetValue<string>();
        var recording = await f.WaitStatusAsync(id, "RECORDING");
        ExpectCompositor(f, recording);
        var seenRecording = DateTime.UtcNow;
        Assert.Equal("RECORD_ON_START", recording["start_reason"]!["reason"]!.GetValue<string>());
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        var kicked = DateTime.UtcNow;
        (await f.Api.PostAsync($"{f.AppPath}/meetings/{meeting}/active-session/kick-all", null, TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        Assert.NotEqual("RECORDING", (await f.GetAsync($"/recordings/{id}"))!["status"]!.GetValue<string>());
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        await CloseAsync(pages);
        Assert.Equal("ALL_PEERS_LEFT", done["stop_reason"]!["reason"]!.GetValue<string>());
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        // The file runs from started_time (its first frame, before the client saw RECORDING: the recording starts
        // with the session, while the second participant may still be joining) to the kick, which stops it at once.
        var started = DateTime.Parse(done["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        var stopped = DateTime.Parse(done["stopped_time"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        Assert.True(started <= seenRecording, $"started_time {started:O} is after the client saw RECORDING at {seenRecording:O}");
        Assert.InRange((stopped - kicked).TotalSeconds, -0.2, 1.5);
        await AssertFileHoldsItsSpanAsync(f, id, file, (stopped - started).TotalSeconds, under: 0.3, over: 0.3, $"{done.ToJsonString()}; ");
        File.Delete(file);
    }

    [Fact]
    public Task KilledFfmpeg_RestartsIntoANewSegment_AndTheFileIsStillWhole() => KilledCaptureRestartsAsync(f);

    /// <summary>The process writing the segment (browser path: the capture; native: the compositor host) killed
    /// mid-recording: the recording goes on in a new segment, the gap is listed, and the joined file is whole.
    /// Shared by the browser composite (here) and the native one (<see cref="NativeCompositorMediaTests"/>).</summary>
    internal static async Task KilledCaptureRestartsAsync(MediaFixture f)
    {
        var (meeting, pages) = await MeetingWithPeopleAsync(f, 1);
        var id = (await StartAsync(f, new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }))["id"]!.GetValue<string>();
        ExpectCompositor(f, await f.WaitStatusAsync(id, "RECORDING"));
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        // The capture is the process writing the segment (the warm capture host or a gst-launch-1.0; natively the
        // compositor host).
        var pid = MediaFacts.WritersOf($"{id}/seg_0001.mkv").First();
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        await Wait.UntilAsync(() => Task.FromResult(MediaFacts.WritersOf($"{id}/seg_0002.mkv").Count > 0), "a second segment after the kill");
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        await CloseAsync(pages);
        Assert.Equal("API_CALL", done["stop_reason"]!["reason"]!.GetValue<string>());
        // The kill left one gap, from the killed segment's last frame to the new one's first.
        var gap = Assert.Single(done["gaps"]!.AsArray())!;
        var gapSeconds = (DateTime.Parse(gap["end"]!.GetValue<string>(), CultureInfo.InvariantCulture) - DateTime.Parse(gap["start"]!.GetValue<string>(), CultureInfo.InvariantCulture)).TotalSeconds;
        TestContext.Current.TestOutputHelper?.WriteLine($"gap after the kill: {gapSeconds:0.00} s");
        Assert.InRange(gapSeconds, 0, 3);
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var facts = await MediaFacts.ProbeAsync(file);
        // About 6 s recorded (more when finding the writer in /proc is slow: the kill is later); the file is the
        // recording's time less the gap, and a killed segment loses at most what it had not written (its last second).
        var span = (DateTime.Parse(done["stopped_time"]!.GetValue<string>(), CultureInfo.InvariantCulture) - DateTime.Parse(done["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture)).TotalSeconds;
        TestContext.Current.TestOutputHelper?.WriteLine($"file {facts.Duration:0.00} s for {span:0.00} s recorded less a {gapSeconds:0.00} s gap");
        Assert.InRange(facts.Duration, span - gapSeconds - 1.5, span - gapSeconds + 0.3);
        Assert.Equal(("h264", "aac"), (facts.VideoCodec, facts.AudioCodec));
        await MediaFacts.RunAsync("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"]);
        File.Delete(file);
    }

    [Fact]
    public Task MaxSeconds_And_AllPeersLeft_StopTheRecording() => MaxSecondsAndAllPeersLeftStopAsync(f);

    /// <summary>max_seconds and ALL_PEERS_LEFT (after the keep-alive) stop the recording with their stop reasons.
    /// Shared by the browser composite (here) and the native one (<see cref="NativeCompositorMediaTests"/>).</summary>
    internal static async Task MaxSecondsAndAllPeersLeftStopAsync(MediaFixture f)
    {
        // Both limits are at least 60 s by the contract: the two recordings run side by side.
        var (limited, limitedPages) = await MeetingWithPeopleAsync(f, 1);
        var (abandoned, abandonedPages) = await MeetingWithPeopleAsync(f, 1, new { title = "Left alone", session_keep_alive_time_in_secs = 60 });
        var first = (await StartAsync(f, new { meeting_id = limited, max_seconds = 60, video_config = new { width = 320, height = 180 } }))["id"]!.GetValue<string>();
        var second = (await StartAsync(f, new { meeting_id = abandoned, video_config = new { width = 320, height = 180 } }))["id"]!.GetValue<string>();
        ExpectCompositor(f, await f.WaitStatusAsync(first, "RECORDING"));
        ExpectCompositor(f, await f.WaitStatusAsync(second, "RECORDING"));
        // Leave with the button, as a person does: a page that is only closed may leave Janus to notice by its
        // session timeout (about a minute later), which would move the keep-alive's start.
        var leaving = DateTime.UtcNow;
        foreach (var p in abandonedPages)
        {
            await p.ClickAsync("#leave");
            await Wait.UntilAsync(async () => await p.EvaluateAsync<bool>("() => window.capstanState.left"), "the participant left");
        }
        var gone = DateTime.UtcNow;
        await CloseAsync(abandonedPages);

        var capped = await f.WaitStatusAsync(first, "UPLOADED", 120);
        var left = await f.WaitStatusAsync(second, "UPLOADED", 120);
        await CloseAsync(limitedPages);

        var cappedFile = await MediaFixture.DownloadAsync(capped["download_url"]!.GetValue<string>(), "mp4");
        await AssertFileHoldsItsSpanAsync(f, first, cappedFile, 60, under: 1.0, over: 1.0, "max_seconds 60: ");
        Assert.Equal("max_seconds", capped["stop_reason"]!["caller"]!["name"]!.GetValue<string>());
        Assert.Equal("ALL_PEERS_LEFT", left["stop_reason"]!["reason"]!.GetValue<string>());
        // The session ends a keep-alive after the last participant left (the server hears of the leave between the
        // click and a little after the page saw it; its sweep runs every second), and the recording with it; the file
        // is the recording's span. (A loaded CI run took 10 s from RECORDING to the leave: the span is not fixed.)
        var leftStarted = DateTime.Parse(left["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        var leftStopped = DateTime.Parse(left["stopped_time"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
        Assert.True(leftStopped >= leaving.AddSeconds(60) && leftStopped <= gone.AddSeconds(60 + 3),
            $"stopped at {leftStopped:O}, for a leave between {leaving:O} and {gone:O} and a keep-alive of 60 s");
        var leftFile = await MediaFixture.DownloadAsync(left["download_url"]!.GetValue<string>(), "mp4");
        await AssertFileHoldsItsSpanAsync(f, second, leftFile, (leftStopped - leftStarted).TotalSeconds, under: 0.5, over: 0.3);
        File.Delete(cappedFile);
        File.Delete(leftFile);
    }
}
