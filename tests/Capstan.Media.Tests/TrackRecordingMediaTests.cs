using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>Track recordings for real: Janus records each participant's tracks, the track recorder turns them
/// into one WebM per peer and media kind with a sync manifest; each test downloads the files from the layer list
/// and checks them with ffprobe, and checks the manifest against the files.</summary>
public sealed class TrackRecordingMediaTests(TrackMediaFixture f) : IClassFixture<TrackMediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<IPage> JoinAsync(string meeting, string name)
    {
        var p = await f.AddParticipantAsync(meeting, name);
        var page = await f.OpenAsync(p.Token, 640, 360);
        await MediaFixture.PublishingAsync(page, name + " joined");
        return page;
    }

    private async Task WaitLiveAsync(string meeting, int people) =>
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == people, $"{people} live participants");

    /// <summary>Until <paramref name="viewer"/> decodes <paramref name="from"/>'s camera: its video reaches Janus.
    /// Publishing (the page's connection up) comes a moment before the first packet.</summary>
    private static Task VideoFlowsAsync(IPage viewer, string from) =>
        Wait.UntilAsync(async () => await MediaFixture.FramesDecodedAsync(viewer, from) > 0, $"{from}'s video decoded by another page");

    private async Task<JsonNode> StartTrackAsync(object body)
    {
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings/track", body, Ct);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        var rec = json!["data"]!["recording"]!;
        Assert.Equal(("TRACK", "INVOKED"), (rec["type"]!.GetValue<string>(), rec["status"]!.GetValue<string>()));
        return rec;
    }

    /// <summary>The files of one layer of an UPLOADED track recording, downloaded: name to local path.</summary>
    private static async Task<Dictionary<string, string>> DownloadLayerAsync(JsonNode done, string layer)
    {
        var layers = done["download_url"]!.AsArray();
        var entry = layers.Single(l => l!["layer_name"]!.GetValue<string>() == layer)!;
        var files = new Dictionary<string, string>();
        foreach (var (name, link) in entry["download_urls"]!.AsObject())
        {
            files[name] = await MediaFixture.DownloadAsync(link!["download_url"]!.GetValue<string>(), Path.GetExtension(name).TrimStart('.'));
        }
        return files;
    }

    private static JsonObject Manifest(Dictionary<string, string> files) => JsonNode.Parse(File.ReadAllText(files["manifest.json"]))!.AsObject();

    private static JsonNode FileOf(JsonObject manifest, string user, string kind = "audio") =>
        manifest["files"]!.AsArray().Single(x => x!["user_id"]!.GetValue<string>() == user && x["media_kind"]!.GetValue<string>() == kind)!;

    /// <summary>Every manifest entry describes its file: the same length (within 100 ms), size and layout.</summary>
    private static async Task CheckManifestAgainstFilesAsync(JsonObject manifest, Dictionary<string, string> files)
    {
        foreach (var entry in manifest["files"]!.AsArray())
        {
            var path = files[entry!["file_name"]!.GetValue<string>()];
            var facts = await MediaFacts.ProbeAsync(path);
            Assert.Equal(new FileInfo(path).Length, entry["size"]!.GetValue<long>());
            Assert.InRange(entry["duration_ms"]!.GetValue<long>() / 1000.0, facts.Duration - 0.1, facts.Duration + 0.1);
            var segments = entry["segments"]!.AsArray();
            var inFile = segments.Sum(s => s!["duration_ms"]!.GetValue<long>()) / 1000.0;
            Assert.InRange(inFile, facts.Duration - 0.1, facts.Duration + 0.1);
            Assert.Equal(entry["start_ms"]!.GetValue<long>(), segments[0]!["start_ms"]!.GetValue<long>());
            var last = segments[^1]!;
            Assert.Equal(entry["end_ms"]!.GetValue<long>(), last["start_ms"]!.GetValue<long>() + last["duration_ms"]!.GetValue<long>());
        }
    }

    private static long SessionMs(JsonObject manifest, long epochMs) => epochMs - manifest["session_started_at_ms"]!.GetValue<long>();

    /// <summary>Where the silence that starts at <paramref name="fromSeconds"/> or later begins in the file.</summary>
    private static async Task<double> SilenceStartAsync(string file, double fromSeconds)
    {
        var log = await MediaFacts.RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-i", file, "-af", "silencedetect=noise=-60dB:d=0.5", "-f", "null", "-"], stderr: true);
        var starts = log.Split('\n').Where(l => l.Contains("silence_start:", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.IndexOf("silence_start:", StringComparison.Ordinal) + 14)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture))
            .Where(t => t >= fromSeconds).ToList();
        Assert.True(starts.Count > 0, "no silence found in " + file + ": " + log);
        return starts[0];
    }

    [Fact]
    public async Task TwoParticipants_TrackRecordingWithPause_GivesOneOpusWebmPerPeer_AndAManifestThatLinesThemUp()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await JoinAsync(meeting, "Alice");
        var bob = await JoinAsync(meeting, "Bob");
        await WaitLiveAsync(meeting, 2);
        var rec = await StartTrackAsync(new { meeting_id = meeting });
        var id = rec["id"]!.GetValue<string>();
        Assert.Matches(@"^default_\{user_id\}_\{peer_id\}_\{stream_kind\}_\{media_kind\}_\d{13}\.webm$", rec["output_file_name"]!.GetValue<string>());
        await f.WaitStatusAsync(id, "RECORDING");
        var started = DateTime.UtcNow;

        await Task.Delay(3000, Ct);
        Assert.Equal("PAUSED", (await f.ActAsync(id, "pause"))["status"]!.GetValue<string>());
        var pausedAt = DateTime.UtcNow;
        await Task.Delay(2000, Ct);
        Assert.Equal("RECORDING", (await f.ActAsync(id, "resume"))["status"]!.GetValue<string>());
        var resumedAt = DateTime.UtcNow;
        await Task.Delay(3000, Ct);
        // Alice mutes: her file goes silent there, which places her file on the session clock independently.
        var mutedAtMs = await alice.EvaluateAsync<long>("() => { document.getElementById('mic').click(); return Date.now(); }");
        await Task.Delay(2500, Ct);
        Assert.Equal("UPLOADING", (await f.ActAsync(id, "stop"))["status"]!.GetValue<string>());
        var stoppedAt = DateTime.UtcNow;
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();

        // From the server's started_time (when Janus's recording was switched on), not from when this client's poll
        // saw RECORDING: that poll (200 ms apart, a GET each, under the suite's load) made the client's sum up to
        // 0.7 s short of the file in a clean-clone run.
        var startedTime = DateTime.Parse(done["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        Assert.True(startedTime <= started, $"started_time {startedTime:O} after the client saw RECORDING at {started:O}");
        var recorded = (pausedAt - startedTime).TotalSeconds + (stoppedAt - resumedAt).TotalSeconds;
        var files = await DownloadLayerAsync(done, "default");
        Assert.Equal(3, files.Count);
        var manifest = Manifest(files);
        await CheckManifestAgainstFilesAsync(manifest, files);
        var switched = manifest["recorded"]!.AsArray().Sum(i => i!["end_ms"]!.GetValue<long>() - i["start_ms"]!.GetValue<long>()) / 1000.0;
        long total = 0;
        foreach (var user in new[] { "alice", "bob" })
        {
            var entry = FileOf(manifest, user);
            var name = entry["file_name"]!.GetValue<string>();
            Assert.Matches($@"^default_{user}_[0-9a-f-]{{36}}_webcam_audio_\d{{13}}\.webm$", name);
            var facts = await MediaFacts.ProbeAsync(files[name]);
            Assert.Equal(("opus", null, "matroska,webm"), (facts.AudioCodec, facts.VideoCodec, facts.Format));
            // The file is what the recorder switched on in Janus: the manifest's recorded intervals. Against the API
            // calls it is looser: each switch reaches the room a moment after its call (the worker's poll, more under
            // load; measured with both cores busy: the file 0.51 s longer than the calls' sum, and up to 0.6 s
            // shorter in another run).
            Assert.True(Math.Abs(facts.Duration - switched) <= 0.3, $"{user}'s file is {facts.Duration} s, the recorder switched {switched} s on: {manifest.ToJsonString()}");
            Assert.InRange(facts.Duration, recorded - 0.8, recorded + 0.9);
            Assert.True(await MediaFacts.MeanVolumeAsync(files[name]) > -50, user + "'s audio is silent");
            Assert.Equal(2, entry["segments"]!.AsArray().Count);
            total += new FileInfo(files[name]).Length;
        }
        Assert.Equal(total, done["file_size"]!.GetValue<long>());
        // recording_duration is the time the recorder had Janus recording, rounded.
        Assert.InRange(done["recording_duration"]!.GetValue<long>(), (long)Math.Floor(switched - 0.01), (long)Math.Ceiling(switched + 0.01));

        // The silence in Alice's file maps, through the manifest, to the moment she muted (within 100 ms).
        var aliceEntry = FileOf(manifest, "alice");
        var second = aliceEntry["segments"]![1]!;
        var silenceAt = await SilenceStartAsync(files[aliceEntry["file_name"]!.GetValue<string>()], second["file_offset_ms"]!.GetValue<long>() / 1000.0);
        var silenceOnSessionClock = second["start_ms"]!.GetValue<long>() + (silenceAt * 1000 - second["file_offset_ms"]!.GetValue<long>());
        TestContext.Current.TestOutputHelper?.WriteLine($"alignment error: {silenceOnSessionClock - SessionMs(manifest, mutedAtMs):F0} ms");
        Assert.True(Math.Abs(silenceOnSessionClock - SessionMs(manifest, mutedAtMs)) <= 100,
            $"silence at {silenceAt} s in the file = {silenceOnSessionClock} ms on the session clock; muted at {SessionMs(manifest, mutedAtMs)} ms; {files[aliceEntry["file_name"]!.GetValue<string>()]} {manifest.ToJsonString()}");
        foreach (var file in files.Values)
        {
            File.Delete(file);
        }
    }

    /// <summary>A screen share (its own Janus feed, Meetings/ScreenShares.cs) is recorded as its sharer's file with
    /// <c>stream_kind</c> <c>screenshare</c> in the name and the manifest, beside the sharer's camera, over the time
    /// it was shared.</summary>
    [Fact]
    public async Task ScreenShare_GivesAScreenshareFile_OfTheSharedPicture_OverTheShare()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await JoinAsync(meeting, "Alice");
        var bob = await JoinAsync(meeting, "Bob");
        await WaitLiveAsync(meeting, 2);
        await VideoFlowsAsync(alice, "Bob");
        await VideoFlowsAsync(bob, "Alice");
        var rec = await StartTrackAsync(new { meeting_id = meeting, layers = new Dictionary<string, object> { ["default"] = new { media_kind = "video" } } });
        var id = rec["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");
        await Task.Delay(1500, Ct);
        // Shared twice: one file, a segment each.
        var sharedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal("ok", await ScreenShareMediaTests.ShareCanvasAsync(alice, "rgb(0,200,0)"));
        await Task.Delay(2500, Ct);
        await alice.EvaluateAsync("() => window.capstanMeeting.stopScreenShare()");
        var firstStoppedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Task.Delay(1500, Ct);
        Assert.Equal("ok", await ScreenShareMediaTests.ShareCanvasAsync(alice, "rgb(0,200,0)"));
        await Task.Delay(2000, Ct);
        await alice.EvaluateAsync("() => window.capstanMeeting.stopScreenShare()");
        var stoppedSharingAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Task.Delay(1500, Ct);
        var bobFramesAtStop = await MediaFixture.FramesDecodedAsync(alice, "Bob");
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();

        var files = await DownloadLayerAsync(done, "default");
        var manifest = Manifest(files);
        await CheckManifestAgainstFilesAsync(manifest, files);
        var entries = manifest["files"]!.AsArray();
        var owners = string.Join(", ", entries.Select(x => $"{x!["user_id"]!.GetValue<string>()}/{x["stream_kind"]!.GetValue<string>()}").Order());
        // Bob's camera is in the files, and it was passing through Janus all along (Alice's page decoded it).
        Assert.True(owners == "alice/screenshare, alice/webcam, bob/webcam",
            $"files of {owners}; Alice's page had decoded {bobFramesAtStop} frames of Bob's camera at the stop: {manifest.ToJsonString()}");
        var share = entries.Single(x => x!["stream_kind"]!.GetValue<string>() == "screenshare")!;
        var name = share["file_name"]!.GetValue<string>();
        Assert.Contains("_alice_", name, StringComparison.Ordinal);
        Assert.Contains("_screenshare_video_", name, StringComparison.Ordinal);
        Assert.Equal("video", share["media_kind"]!.GetValue<string>());
        var facts = await MediaFacts.ProbeAsync(files[name]);
        Assert.Equal(("vp8", "matroska,webm"), (facts.VideoCodec, facts.Format));
        var (r, g, b) = await MediaFacts.PixelAsync(files[name], facts.Duration / 2, facts.Width / 2, facts.Height / 2);
        Assert.True(ScreenShareMediaTests.IsShareGreen((byte)r, (byte)g, (byte)b), $"the share's file is not the shared green: centre pixel {r},{g},{b}");
        // Its interval on the session clock is the share's (the share publishes after a slot is granted and an offer
        // is answered: within a second of the call; it ends when stopped).
        var (start, end) = (share["start_ms"]!.GetValue<long>(), share["end_ms"]!.GetValue<long>());
        var trace = $"share {start}..{end} ms, shared {SessionMs(manifest, sharedAt)}..{SessionMs(manifest, firstStoppedAt)} and again to {SessionMs(manifest, stoppedSharingAt)} ms: {manifest.ToJsonString()}";
        Assert.True(start - SessionMs(manifest, sharedAt) is >= -200 and <= 1500, trace);
        Assert.True(Math.Abs(end - SessionMs(manifest, stoppedSharingAt)) <= 700, trace);
        var segments = share["segments"]!.AsArray();
        Assert.True(segments.Count == 2, trace);
        var firstEnd = segments[0]!["start_ms"]!.GetValue<long>() + segments[0]!["duration_ms"]!.GetValue<long>();
        Assert.True(Math.Abs(firstEnd - SessionMs(manifest, firstStoppedAt)) <= 700, trace);
        Assert.True(segments[1]!["start_ms"]!.GetValue<long>() - firstEnd >= 800, trace);
        foreach (var file in files.Values)
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task UserIds_LimitTheFiles_ALateJoinerGetsFiles_AndAVideoLayerGivesVp8()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await JoinAsync(meeting, "Alice");
        var bob = await JoinAsync(meeting, "Bob");
        await WaitLiveAsync(meeting, 2);
        var rec = await StartTrackAsync(new
        {
            meeting_id = meeting,
            user_ids = new[] { "alice", "carol" },
            layers = new Dictionary<string, object> { ["default"] = new { media_kind = "audio" }, ["camera"] = new { media_kind = "video", file_name_prefix = "cam" } },
        });
        var id = rec["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");
        await Task.Delay(2500, Ct);
        var carolJoining = DateTime.UtcNow;
        var carol = await JoinAsync(meeting, "Carol");
        await WaitLiveAsync(meeting, 3);
        await Task.Delay(3500, Ct);
        await f.ActAsync(id, "stop");
        var stoppedAt = DateTime.UtcNow;
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        foreach (var page in new[] { alice, bob, carol })
        {
            await page.Context.CloseAsync();
        }

        var audio = await DownloadLayerAsync(done, "default");
        var video = await DownloadLayerAsync(done, "camera");
        var manifest = Manifest(audio);
        Assert.Equal(manifest.ToJsonString(), Manifest(video).ToJsonString());
        await CheckManifestAgainstFilesAsync(manifest, audio.Concat(video.Where(v => v.Key != "manifest.json")).ToDictionary());
        Assert.Equal(["alice", "carol"], manifest["files"]!.AsArray().Select(x => x!["user_id"]!.GetValue<string>()).Distinct().Order().ToArray());
        Assert.Equal(3, audio.Count);
        Assert.Equal(3, video.Count);
        Assert.DoesNotContain(audio.Keys.Concat(video.Keys), k => k.Contains("_bob_", StringComparison.Ordinal));

        // Carol joined later: her files start later on the session clock and are as long as she was there.
        var aliceStart = FileOf(manifest, "alice")["start_ms"]!.GetValue<long>();
        var carolAudio = FileOf(manifest, "carol");
        Assert.True(carolAudio["start_ms"]!.GetValue<long>() - aliceStart >= 2000, manifest.ToJsonString());
        var carolFacts = await MediaFacts.ProbeAsync(audio[carolAudio["file_name"]!.GetValue<string>()]);
        Assert.InRange(carolFacts.Duration, 1.5, (stoppedAt - carolJoining).TotalSeconds + 0.5);
        Assert.True(await MediaFacts.MeanVolumeAsync(audio[carolAudio["file_name"]!.GetValue<string>()]) > -50, "carol's audio is silent");

        foreach (var user in new[] { "alice", "carol" })
        {
            var entry = FileOf(manifest, user, "video");
            var name = entry["file_name"]!.GetValue<string>();
            Assert.StartsWith($"cam_{user}_", name, StringComparison.Ordinal);
            Assert.Contains("_webcam_video_", name, StringComparison.Ordinal);
            var facts = await MediaFacts.ProbeAsync(video[name]);
            Assert.Equal(("vp8", null, "matroska,webm"), (facts.VideoCodec, facts.AudioCodec, facts.Format));
            Assert.True(facts.Width > 0 && facts.Height > 0);
            // Chromium's fake camera: a bright green disc in the middle of the picture.
            var (r, g, b) = await MediaFacts.PixelAsync(video[name], 1.5, facts.Width / 2, facts.Height / 2);
            Assert.True(g > 100 && g > r && g > b, $"{user}'s video is not the camera's picture: centre pixel {r},{g},{b}");
        }
        foreach (var file in audio.Values.Concat(video.Values))
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task LegacyShape_IsRecorded_AndStopsWhenTheSessionEnds()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await JoinAsync(meeting, "Alice");
        await WaitLiveAsync(meeting, 1);
        var rec = await StartTrackAsync(new
        {
            meeting_id = meeting,
            max_seconds = "120",
            layers = new Dictionary<string, object> { ["default"] = new { file_name_prefix = "legacy", outputs = new[] { new { type = "REALTIMEKIT_BUCKET" } } } },
        });
        var id = rec["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");
        var started = DateTime.UtcNow;
        await Task.Delay(3000, Ct);
        using (var r = await f.Api.PostAsync($"{f.AppPath}/meetings/{meeting}/active-session/kick-all", null, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        var ended = DateTime.UtcNow;
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        await alice.Context.CloseAsync();
        Assert.Equal("ALL_PEERS_LEFT", done["stop_reason"]!["reason"]!.GetValue<string>());

        var files = await DownloadLayerAsync(done, "default");
        var manifest = Manifest(files);
        await CheckManifestAgainstFilesAsync(manifest, files);
        var name = FileOf(manifest, "alice")["file_name"]!.GetValue<string>();
        Assert.StartsWith("legacy_alice_", name, StringComparison.Ordinal);
        var facts = await MediaFacts.ProbeAsync(files[name]);
        Assert.Equal("opus", facts.AudioCodec);
        Assert.InRange(facts.Duration, 2.0, (ended - started).TotalSeconds + 0.5);
        Assert.True(await MediaFacts.MeanVolumeAsync(files[name]) > -50, "audio is silent");
        foreach (var file in files.Values)
        {
            File.Delete(file);
        }
    }
}

/// <summary>The media fixture with a steady 440 Hz tone as every participant's microphone (Chromium's own fake
/// microphone beeps twice a second, which hides the moment a participant mutes).</summary>
public sealed class TrackMediaFixture : MediaFixture
{
    private readonly string _tone = Path.Combine(Path.GetTempPath(), $"capstan-tone-{Guid.NewGuid():N}.wav");

    protected override async Task BeforeStartAsync() =>
        await MediaFacts.RunAsync("ffmpeg", ["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=20", "-ar", "48000", "-ac", "1", _tone]);

    protected override IEnumerable<string> BrowserArgs() => ["--use-file-for-fake-audio-capture=" + _tone];

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_tone);
    }
}
