using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Testing;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>The server with <c>Recorder:Compositor = native</c>.</summary>
public sealed class NativeMediaFixture : MediaFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Recorder:Compositor", "native")];
}

/// <summary>The browserless composite: Janus forwarders into the GStreamer compositor host.</summary>
public sealed class NativeCompositorMediaTests(NativeMediaFixture f) : IClassFixture<NativeMediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private async Task<List<IPage>> JoinAsync(string meeting, params string[] names)
    {
        var pages = new List<IPage>();
        foreach (var name in names)
        {
            var p = await f.AddParticipantAsync(meeting, name);
            pages.Add(await f.OpenAsync(p.Token, 640, 360));
        }
        foreach (var page in pages)
        {
            await MediaFixture.PublishingAsync(page, "participant joined");
        }
        return pages;
    }

    private async Task<string> StartAsync(string meeting, string? rtmpUrl = null)
    {
        object body = rtmpUrl is null
            ? new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }
            : new { meeting_id = meeting, video_config = new { width = 640, height = 360 }, rtmp_out_config = new { rtmp_url = rtmpUrl } };
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", body, TestContext.Current.CancellationToken);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        return json!["data"]!["id"]!.GetValue<string>();
    }

    private static bool Lit((int R, int G, int B) p) => p.R + p.G + p.B > 90;

    [Fact]
    public async Task TwoParticipants_GiveAnH264AacFile_WithTwoTiles_NotSilentNotBlack()
    {
        var meeting = await f.NewMeetingAsync();
        var pages = await JoinAsync(meeting, "Alice", "Bob");
        var invoked = DateTime.UtcNow;
        var id = await StartAsync(meeting);
        var recording = await f.WaitStatusAsync(id, "RECORDING");
        Assert.Equal("native", recording["compositor"]!.GetValue<string>());
        var started = DateTime.Parse(recording["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUniversalTime();
        TestContext.Current.SendDiagnosticMessage($"native start: {(started - invoked).TotalMilliseconds:F0} ms after invoke");
        await Task.Delay(6000, TestContext.Current.CancellationToken);
        await f.ActAsync(id, "stop");
        var stoppedAt = DateTime.UtcNow;
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }

        var video = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var facts = await MediaFacts.ProbeAsync(video);
        Assert.Equal(("h264", 640, 360, "aac", 2), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec, facts.AudioChannels));
        Assert.InRange(facts.Duration, (stoppedAt - started).TotalSeconds - 0.7, (stoppedAt - started).TotalSeconds + 0.5);
        Assert.True(await MediaFacts.MeanVolumeAsync(video) > -50, "audio is silent");
        // Two 314x176 tiles side by side, centred: both lit at 3 s; the band above them is the black background.
        var left = await MediaFacts.PixelAsync(video, 3, 160, 180);
        var right = await MediaFacts.PixelAsync(video, 3, 480, 180);
        var above = await MediaFacts.PixelAsync(video, 3, 320, 40);
        Assert.True(Lit(left) && Lit(right), $"the two tiles are not both there: {left} {right}");
        Assert.False(Lit(above), $"the area above the tiles is not background: {above}");
        // To the last frame: the stop ends the file behind the mixers, not the inputs first (that left the black
        // background, or one tile, as the last frames).
        var lastLeft = await MediaFacts.PixelAsync(video, facts.Duration - 0.1, 160, 180);
        var lastRight = await MediaFacts.PixelAsync(video, facts.Duration - 0.1, 480, 180);
        Assert.True(Lit(lastLeft) && Lit(lastRight), $"the last frame does not show both tiles: {lastLeft} {lastRight}");
        File.Delete(video);
    }

    /// <summary>RTMP out from the native compositor: the live stream is read back from nginx-rtmp while the recording
    /// runs, and the file is delivered as without it.</summary>
    /// <summary>The share's layout natively (<c>CompositorPipeline.ShareLayout</c>): the recorder view's check.</summary>
    [Fact]
    public Task ScreenShare_IsFilmedLarge_WhileShared_AndTheGridBeforeAndAfter_Natively() => ScreenShareMediaTests.CompositeFilmsTheShareLargeAsync(f);

    /// <summary>The active speaker's outline natively (the host's outline bars): the recorder view's check.</summary>
    [Fact]
    public Task ActiveSpeaker_IsOutlined_Natively() => ActiveSpeakerMediaTests.CompositeOutlinesTheSpeakerAsync(f);

    /// <summary>A camera turned off natively: the camera-off tile (<c>CompositorPipeline.CameraOffBin</c>) in the
    /// participant's place, the recorder view's check.</summary>
    [Fact]
    public Task CameraOff_LeavesANamedTile_AndTheVideoComesBackInPlace_Natively() => CameraOffChecks.CompositeShowsANamedTileWhileTheCameraIsOffAsync(f);

    [Fact]
    public async Task RtmpOut_StreamsLiveWhileRecording_Natively()
    {
        using var rtmp = new RtmpServer();
        var meeting = await f.NewMeetingAsync();
        var pages = await JoinAsync(meeting, "Alice");
        try
        {
            var id = await StartAsync(meeting, rtmp.Url("native"));
            var recording = await f.WaitStatusAsync(id, "RECORDING");
            Assert.Equal("native", recording["compositor"]!.GetValue<string>());
            var live = await f.ProbeLiveAsync(rtmp.Url("native"), id);
            Assert.Contains("h264,640,360", live, StringComparison.Ordinal);
            Assert.Contains("aac", live, StringComparison.Ordinal);
            await f.ActAsync(id, "stop");
            var done = await f.WaitStatusAsync(id, "UPLOADED");
            var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
            try
            {
                var facts = await MediaFacts.ProbeAsync(file);
                Assert.Equal(("h264", 640, 360, "aac"), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec));
                Assert.True(facts.Duration > 1, $"a {facts.Duration} s file");
            }
            finally
            {
                File.Delete(file);
            }
        }
        finally
        {
            foreach (var p in pages)
            {
                await p.Context.CloseAsync();
            }
        }
    }

    [Fact]
    public async Task LateJoiner_AppearsInATileFromThenOn()
    {
        var meeting = await f.NewMeetingAsync();
        var pages = await JoinAsync(meeting, "Alice");
        var id = await StartAsync(meeting);
        var recording = await f.WaitStatusAsync(id, "RECORDING");
        var started = DateTime.Parse(recording["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUniversalTime();
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        pages.AddRange(await JoinAsync(meeting, "Bob"));
        var joinedAt = (DateTime.UtcNow - started).TotalSeconds;
        await Task.Delay(5000, TestContext.Current.CancellationToken);
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }

        var video = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var facts = await MediaFacts.ProbeAsync(video);
        Assert.Equal("h264", facts.VideoCodec);
        // Alone, Alice's tile fills the picture (y 40 is inside it); with Bob, two tiles leave y 40 to the background
        // and a tile on the right.
        var before = await MediaFacts.PixelAsync(video, 1.5, 320, 40);
        var after = await MediaFacts.PixelAsync(video, joinedAt + 3, 320, 40);
        var bob = await MediaFacts.PixelAsync(video, joinedAt + 3, 480, 180);
        Assert.True(Lit(before), $"Alice's single tile is missing: {before}");
        Assert.False(Lit(after), $"the layout did not change to two tiles: {after}");
        Assert.True(Lit(bob), $"Bob's tile is missing: {bob}");
        File.Delete(video);
    }

    // The browser composite's checks (RecordingMediaTests), run on the native compositor.

    [Fact]
    public Task Pause_GivesOneContinuousFile_NotSilentNotBlack_Natively() => RecordingMediaTests.PauseGivesOneContinuousFileAsync(f);

    [Fact]
    public Task Watermark_IsPlacedInTheChosenCorner_Natively() => RecordingMediaTests.WatermarkInTheCornerAsync(f);

    [Fact]
    public Task MaxSeconds_And_AllPeersLeft_StopTheRecording_Natively() => RecordingMediaTests.MaxSecondsAndAllPeersLeftStopAsync(f);

    [Fact]
    public Task RecordOnStart_RecordsTheSession_AndKickAllStopsAtOnce_Natively() => RecordingMediaTests.RecordOnStartAndKickAllAsync(f);

    [Fact]
    public Task Vp8_GivesWebmWithVorbis_Natively() => RecordingMediaTests.Vp8GivesWebmAsync(f);

    [Fact]
    public Task KilledCompositorHost_RestartsIntoANewSegment_AndTheFileIsStillWhole() => RecordingMediaTests.KilledCaptureRestartsAsync(f);

    /// <summary>The recording's file after a stop, with its recording.</summary>
    private async Task<(JsonNode Done, string File, DateTime Started, DateTime Stopped)> StopAsync(string id)
    {
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        return (done, file, Time(done, "started_time"), Time(done, "stopped_time"));
    }

    private static DateTime Time(JsonNode node, string field) =>
        DateTime.Parse(node[field]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    private static string Trace(IEnumerable<(double Seconds, double Value)> values) =>
        string.Join(' ', values.Select(x => $"{x.Seconds.ToString("0.0", CultureInfo.InvariantCulture)}:{x.Value.ToString("0.00", CultureInfo.InvariantCulture)}"));

    /// <summary>A participant who leaves mid-recording (the page's leave button) goes: their tile is removed and the
    /// one left fills the picture (two 314x176 tiles are under half of it, one tile nearly all).</summary>
    [Fact]
    public async Task Leaver_TheirTileGoes_AndTheOtherFillsThePicture()
    {
        var meeting = await f.NewMeetingAsync();
        var pages = await JoinAsync(meeting, "Alice", "Bob");
        var id = await StartAsync(meeting);
        var started = Time(await f.WaitStatusAsync(id, "RECORDING"), "started_time");
        await Task.Delay(4500, TestContext.Current.CancellationToken);
        var clickedAt = (DateTime.UtcNow - started).TotalSeconds;
        await pages[1].ClickAsync("#leave");
        var leftAt = (DateTime.UtcNow - started).TotalSeconds;
        await Wait.UntilAsync(async () => await pages[1].EvaluateAsync<bool>("() => window.capstanState.left"), "Bob left");
        await Task.Delay(4000, TestContext.Current.CancellationToken);
        var (_, file, _, _) = await StopAsync(id);
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }
        try
        {
            var lit = await MediaFacts.ColourFractionsAsync(file, (r, g, b) => r + g + b > 90);
            var trace = $"lit fraction per frame (s:fraction), Bob clicked leave at {clickedAt:0.0} s, left by {leftAt:0.0} s: " + Trace(lit);
            TestContext.Current.TestOutputHelper?.WriteLine(trace);
            // From 2.5 s: a participant's tile appears at its first keyframe after its forwarder starts (the forwarder's
            // PLIs, NativeComposite.RequestKeyframesAsync), by 0.5 s into the recording quiet, 2.0-2.5 s in a loaded
            // CI run (the participants' browsers, starved, late with the keyframe).
            var before = lit.Where(x => x.Seconds >= 2.5 && x.Seconds <= clickedAt - 0.3).ToList();
            var after = lit.Where(x => x.Seconds >= leftAt + 1.5).ToList();
            Assert.True(before.Count >= 3 && after.Count >= 3, trace);
            Assert.True(before.All(x => x.Fraction is > 0.3 and < 0.6), "two tiles were not there before the leave: " + trace);
            Assert.True(after.All(x => x.Fraction > 0.8), "the one left does not fill the picture after the leave: " + trace);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Muting (the page's mute button: the track goes on, silent) is heard as silence: with one of two
    /// muted the other is still heard, with both muted the recording is silent, and unmuted both are heard again.
    /// (Both participants' fake microphones beep alike, so who is heard is told by muting both in turn.)</summary>
    [Fact]
    public async Task Muted_IsSilent_WhileTheOtherIsHeard_AndHeardAgainOnUnmute()
    {
        var meeting = await f.NewMeetingAsync();
        var pages = await JoinAsync(meeting, "Alice", "Bob");
        var id = await StartAsync(meeting);
        var started = Time(await f.WaitStatusAsync(id, "RECORDING"), "started_time");
        double Now() => (DateTime.UtcNow - started).TotalSeconds;
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        await pages[0].ClickAsync("#mic");
        var aliceMuted = Now();
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        await pages[1].ClickAsync("#mic");
        var bothMuted = Now();
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        await pages[0].ClickAsync("#mic");
        await pages[1].ClickAsync("#mic");
        var unmuted = Now();
        await Task.Delay(2500, TestContext.Current.CancellationToken);
        var (_, file, _, stopped) = await StopAsync(id);
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }
        try
        {
            // A change is heard after the jitter buffer and the mixer's latency (0.5 s): windows start 0.8 s after it.
            var both = await MediaFacts.VolumeAsync(file, 0.8, aliceMuted - 0.1);
            var bob = await MediaFacts.VolumeAsync(file, aliceMuted + 0.8, bothMuted - 0.1);
            var none = await MediaFacts.VolumeAsync(file, bothMuted + 0.8, unmuted - 0.1);
            var again = await MediaFacts.VolumeAsync(file, unmuted + 0.8, (stopped - started).TotalSeconds - 0.3);
            var trace = $"mean/max dB: both {both}, Bob alone {bob}, both muted {none}, unmuted {again}";
            TestContext.Current.TestOutputHelper?.WriteLine(trace);
            Assert.True(both.Max > -30, "not heard before the mute: " + trace);
            Assert.True(bob.Max > -30, "the participant left unmuted is not heard: " + trace);
            Assert.True(none.Max < -60, "muted participants are heard: " + trace);
            Assert.True(again.Max > -30, "not heard again after unmuting: " + trace);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A publisher that vanishes (its browser's page crashes: no leave, no hang-up, its packets just stop;
    /// Janus drops it only when its connection times out, about 4 s later in these runs) does not stall the others: the file has its frames
    /// (>= 95% of the recording's time at the recorder's 15 fps) and the remaining participant's picture keeps
    /// moving. Which tile is whose is not known here, so each second after the crash one of the two tiles must
    /// change: the vanished one's is frozen or gone.</summary>
    [Fact]
    public async Task VanishedPublisher_DoesNotStallTheOthers()
    {
        var meeting = await f.NewMeetingAsync();
        var pages = await JoinAsync(meeting, "Alice", "Bob");
        var id = await StartAsync(meeting);
        var started = Time(await f.WaitStatusAsync(id, "RECORDING"), "started_time");
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        var crashed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pages[1].Crash += (_, _) => crashed.TrySetResult();
        try
        {
            await pages[1].GotoAsync("chrome://crash", new() { Timeout = 5000 });
        }
        catch (PlaywrightException)
        {
            // the navigation fails with the renderer it kills
        }
        await crashed.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var vanishedAt = (DateTime.UtcNow - started).TotalSeconds;
        await Task.Delay(5000, TestContext.Current.CancellationToken);
        var (_, file, _, stopped) = await StopAsync(id);
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }
        try
        {
            var span = (stopped - started).TotalSeconds;
            var facts = await MediaFacts.ProbeAsync(file);
            var frames = await MediaFacts.VideoFramesAsync(file);
            var left = await MediaFacts.ChangesAsync(file, (8, 94, 300, 170));
            var right = await MediaFacts.ChangesAsync(file, (332, 94, 300, 170));
            var trace = $"{frames} frames in {facts.Duration:0.00} s for {span:0.00} s recorded; vanished at {vanishedAt:0.0} s; "
                + $"change per 0.5 s, left tile: {Trace(left)}; right tile: {Trace(right)}";
            TestContext.Current.TestOutputHelper?.WriteLine(trace);
            Assert.InRange(facts.Duration, span - 0.7, span + 0.5);
            Assert.True(frames >= 0.95 * span * 15, "frames are missing: " + trace);
            var after = left.Zip(right, (l, r) => (l.Seconds, Change: Math.Max(l.Change, r.Change))).Where(x => x.Seconds >= vanishedAt + 1 && x.Seconds <= span - 0.5).ToList();
            Assert.True(after.Count >= 6, trace);
            Assert.True(after.All(x => x.Change > 1), "the picture froze after the publisher vanished: " + trace);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>Flash+beep participants (<see cref="FakeCaptureFixture"/>) recorded through the native compositor.</summary>
public sealed class NativeSyncFixture : FakeCaptureFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [.. base.ExtraSettings(), new("Recorder:Compositor", "native")];
}

/// <summary>Sound and picture of a participant through Janus's forwarders and the native compositor: one pipeline
/// clock, both streams stamped on arrival (Janus sends forwarders no sender reports), the same jitter-buffer latency
/// on each.</summary>
public sealed class NativeSyncMediaTests(NativeSyncFixture f, ITestOutputHelper output) : IClassFixture<NativeSyncFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    [Fact]
    public async Task Meeting_AParticipantsFlashAndBeep_StayTogether_Natively()
    {
        var meeting = await f.NewMeetingAsync();
        var (_, token) = await f.AddParticipantAsync(meeting, "Flash");
        var page = await f.OpenAsync(token, 640, 360);
        try
        {
            await MediaFixture.PublishingAsync(page, "participant joined");
            await FakeCaptureFixture.StartSourceProbeAsync(page);
            var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", new { meeting_id = meeting, video_config = new { codec = "H264", width = 640, height = 360 } }, TestContext.Current.CancellationToken);
            var id = (await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!["data"]!["id"]!.GetValue<string>();
            var rec = await f.WaitStatusAsync(id, "RECORDING");
            var startMs = (DateTime.Parse(rec["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture) - DateTime.Parse(rec["invoked_time"]!.GetValue<string>(), CultureInfo.InvariantCulture)).TotalMilliseconds;
            await Task.Delay(10_000, TestContext.Current.CancellationToken);
            await f.ActAsync(id, "stop");
            var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
            var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
            try
            {
                var all = await AvSync.MeasureAsync(file);
                var source = await FakeCaptureFixture.SourceAsync(page);
                // An event in the file's first second is left out: the participant's picture appears at its first
                // keyframe after the forwarder's PLI (0.1 to 0.7 s into the file), and a flash already lit then shows
                // its onset where the picture appears, not where it began (in a CI run: the first event at 0.13 s,
                // -88 ms; in a local one at 0.63 s, -99 ms; every other one -23 to +9 ms).
                var near = await FakeCaptureFixture.PageClockAsync(page, DateTime.Parse(done["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal));
                var added = all.Against(source, near);
                var sync = new SyncReport(added.Flashes, added.Tones, added.Pairs.Where(p => p.Flash >= 1.0).ToList());
                output.WriteLine($"native: start {startMs:0} ms after invoke; file {all}\nsource {source}\nadded by the recording {added}");
                Assert.True(all.Pairs.Count >= 5 && all.Pairs.Count >= all.Flashes.Count - 1, $"flashes without their tone: {all}");
                // Every event of the file was made by the participant (at most one, cut at the file's edge, is not);
                // a few may go unjudged where the source's probe, starved, dropped one half (SyncReport.NotAtSource).
                var unfound = all.NotAtSource(source, near);
                Assert.True(unfound.Count <= 1 && added.Pairs.Count >= all.Pairs.Count - 3, $"file events not found at the source ({unfound.Count} not at all, {added.Pairs.Count} of {all.Pairs.Count} judged): file {all}; source {source}");
                // What the recording path added to each event (the file's offset less the source's, see
                // SyncReport.Against): the issue's target, +-40 ms for the median and +-80 ms for every event.
                Assert.True(Math.Abs(sync.MedianMs) <= 40, $"median offset out of +-40 ms: {sync}");
                Assert.True(sync.MaxAbsMs <= 80, $"an event out of +-80 ms: {sync}");
                var (_, last) = sync.Ends(3);
                Assert.True(Math.Abs(last - sync.MedianMs) <= 40, $"the offset drifted to {last:0} ms by the end: {sync}");
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
