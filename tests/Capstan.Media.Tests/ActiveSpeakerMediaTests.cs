using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Gst.Compositor;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>The active speaker from Janus's audio levels: Alice's microphone is a steady tone, Bob's silence (each a
/// browser with a fake microphone file of its own); the composite outlines Alice's tile and not Bob's, and the
/// active session names her peer as <c>active_speaker</c>; beside a share, her thumbnail comes first.</summary>
public sealed class ActiveSpeakerMediaTests(MediaFixture f) : IClassFixture<MediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    /// <summary>The outline's #ffcc00 (<see cref="Server.Meetings.ActiveSpeaker.OutlineColour"/>) after the recording's
    /// encoding: a strong red and green without blue. Not the fake cameras' greens ((13,51,11) to (166,204,164)), the
    /// page's greys and blues or black.</summary>
    internal static bool IsOutline(byte r, byte g, byte b) => r >= 200 && g >= 150 && g <= 240 && b <= 90;

    [Fact]
    public Task BrowserComposite_OutlinesTheTalkingParticipant_NotTheSilentOne() => CompositeOutlinesTheSpeakerAsync(f);

    /// <summary>The participants' view with a share: Bob (silent) joins first and shares, so his own tile comes
    /// before Alice's in his page; Alice talks, so her thumbnail is put first in the column beside the share, and
    /// outlined; when she mutes, the outline is held 2 s after Janus says she stopped, then goes.</summary>
    [Fact]
    public async Task WithAShare_TheSpeakersThumbnailIsFirst_AndOutlined_UntilTwoSecondsAfterSheStops()
    {
        await using var media = await SpeakerMedia.StartAsync(f);
        var meeting = await f.NewMeetingAsync(new { title = "Active speaker" });
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var pb = await f.OpenAsync(bob.Token, 960, 540, media.Quiet);
        await MediaFixture.PublishingAsync(pb, "Bob");
        Assert.Equal("ok", await ScreenShareMediaTests.ShareCanvasAsync(pb, "rgb(0,200,0)"));
        var pa = await f.OpenAsync(alice.Token, 960, 540, media.Talker);
        await MediaFixture.PublishingAsync(pa, "Alice");
        await Wait.UntilAsync(() => pb.EvaluateAsync<bool>("() => window.capstanState.speaker === 'Alice'"), "Alice is the active speaker in Bob's page", 10);
        // The thumbnails (not shares), in the page's order and from top to bottom, with their names ('*': outlined).
        const string Column = """
            (byTop) => [...document.querySelectorAll('#stage.sharing .tile:not(.share)')]
              .sort((a, b) => byTop ? a.getBoundingClientRect().top - b.getBoundingClientRect().top : 0)
              .map((t) => t.querySelector('.name').textContent + (t.classList.contains('speaking') ? '*' : '')).join(',')
            """;
        Assert.Equal("You,Alice*", await pb.EvaluateAsync<string>(Column, false));
        Assert.Equal("Alice*,You", await pb.EvaluateAsync<string>(Column, true));

        // Alice mutes: Janus says she stopped talking (at the end of a one-second window), the outline stays for the
        // 2 s hold, then nobody is the speaker and the column is back in the page's order.
        await pa.ClickAsync("#mic");
        await Wait.UntilAsync(() => pb.EvaluateAsync<bool>("() => window.capstanState.speaker === null"), "nobody is the active speaker once Alice is muted", 10);
        var held = await pb.EvaluateAsync<double>("() => window.capstanState.speakerMs - window.capstanState.talkEvents.filter((e) => !e.talking).pop().ms");
        TestContext.Current.TestOutputHelper?.WriteLine($"outline held {held} ms after stopped-talking");
        Assert.InRange(held, 1990, 2300);
        Assert.Equal("You,Alice", await pb.EvaluateAsync<string>(Column, true));
        await pa.Context.CloseAsync();
        await pb.Context.CloseAsync();
    }

    /// <summary>Of the pixels along the middle of the outline's band inside <paramref name="t"/>'s edge (the corners
    /// left out), the fraction of the outline's colour.</summary>
    private static double RingFraction((byte[] Rgb, int Width, int Height) frame, Tile t)
    {
        const int mid = Server.Meetings.ActiveSpeaker.OutlineWidth / 2;
        var points = new List<(int X, int Y)>();
        for (var x = t.X + 10; x < t.X + t.Width - 10; x += 2)
        {
            points.Add((x, t.Y + mid));
            points.Add((x, t.Y + t.Height - 1 - mid));
        }
        for (var y = t.Y + 10; y < t.Y + t.Height - 10; y += 2)
        {
            points.Add((t.X + mid, y));
            points.Add((t.X + t.Width - 1 - mid, y));
        }
        var hits = points.Count(p =>
        {
            var i = ((p.Y * frame.Width) + p.X) * 3;
            return IsOutline(frame.Rgb[i], frame.Rgb[i + 1], frame.Rgb[i + 2]);
        });
        return hits / (double)points.Count;
    }

    /// <summary>A composite recording (the browser's recorder view, or the native compositor with a
    /// <see cref="NativeMediaFixture"/>): Alice talks (a tone) from before the recording, Bob (silence) joins once it
    /// runs, so Alice's is the left of the two tiles and Bob's the right (<see cref="CompositorPipeline.Layout"/>,
    /// the recorder view's); a frame in the middle of their time together has the outline's colour all along the edge
    /// of Alice's tile and none along Bob's. Bob's own page and the server's active session say the same.</summary>
    internal static async Task CompositeOutlinesTheSpeakerAsync(MediaFixture f)
    {
        await using var media = await SpeakerMedia.StartAsync(f);
        var meeting = await f.NewMeetingAsync(new { title = "Active speaker" });
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        var pa = await f.OpenAsync(alice.Token, 640, 360, media.Talker);
        await MediaFixture.PublishingAsync(pa, "Alice");
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }, TestContext.Current.CancellationToken);
        var body = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == HttpStatusCode.OK, body!.ToJsonString());
        var id = body!["data"]!["id"]!.GetValue<string>();
        var recording = await f.WaitStatusAsync(id, "RECORDING");
        var started = DateTime.Parse(recording["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUniversalTime();

        var pb = await f.OpenAsync(bob.Token, 640, 360, media.Quiet);
        await MediaFixture.PublishingAsync(pb, "Bob");
        var together = (DateTime.UtcNow - started).TotalSeconds;
        // Bob's page: Alice is the active speaker, her tile outlined, his own not.
        await Wait.UntilAsync(() => pb.EvaluateAsync<bool>("() => window.capstanState.speaker === 'Alice'"), "Alice is the active speaker in Bob's page", 10);
        Assert.Equal(1, await pb.Locator(".tile.speaking").CountAsync());
        Assert.Equal("Alice", await pb.Locator(".tile.speaking .name").InnerTextAsync());
        // The server heard it too (Janus's event handler): the active session names Alice's peer.
        var session = (await f.GetAsync($"/meetings/{meeting}/active-session"))!;
        var peers = (await f.GetAsync($"/sessions/{session["id"]!.GetValue<string>()}/participants"))!["participants"]!.AsArray();
        var alicePeer = peers.Single(p => p!["custom_participant_id"]!.GetValue<string>() == "alice")!["id"]!.GetValue<string>();
        Assert.Equal(alicePeer, session["active_speaker"]?.GetValue<string>());
        await Task.Delay(4000, TestContext.Current.CancellationToken);
        // Janus's events with their levels (-dBov, averaged over a window), as Alice's page heard them.
        var events = await pa.EvaluateAsync<string>("() => JSON.stringify(window.capstanState.talkEvents)");
        TestContext.Current.TestOutputHelper?.WriteLine("talking events at Alice's page: " + events);
        Assert.Equal("Alice", await pb.EvaluateAsync<string>("() => window.capstanState.speaker"));
        var ended = (DateTime.UtcNow - started).TotalSeconds;
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        await pa.Context.CloseAsync();
        await pb.Context.CloseAsync();

        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var at = together + ((ended - together) / 2);
        var frame = await MediaFacts.FrameAsync(file, at);
        var tiles = CompositorPipeline.Layout(2, frame.Width, frame.Height);
        var (left, right) = (RingFraction(frame, tiles[0]), RingFraction(frame, tiles[1]));
        TestContext.Current.TestOutputHelper?.WriteLine(FormattableString.Invariant($"{file} at {at:0.0} s: outline colour along Alice's tile {left:0.00}, Bob's {right:0.00}"));
        Assert.True(left >= 0.8, FormattableString.Invariant($"Alice's tile is not outlined at {at:0.0} s of {file}: {left:0.00} of its edge"));
        Assert.True(right <= 0.05, FormattableString.Invariant($"Bob's tile is outlined at {at:0.0} s of {file}: {right:0.00} of its edge"));
        File.Delete(file); // kept (named in the messages) when an assertion fails
    }

    /// <summary>Two participants' browsers: <see cref="Talker"/>'s microphone is a steady 440 Hz tone (-18 dBFS),
    /// <see cref="Quiet"/>'s digital silence (Chromium's fake microphone files, one per browser).</summary>
    private sealed class SpeakerMedia : IAsyncDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-speaker-" + Guid.NewGuid().ToString("N"));

        public IBrowser Talker { get; private set; } = null!;

        public IBrowser Quiet { get; private set; } = null!;

        public static async Task<SpeakerMedia> StartAsync(MediaFixture f)
        {
            var m = new SpeakerMedia();
            Directory.CreateDirectory(m._dir);
            var started = false;
            try
            {
                var (tone, silence) = (Path.Combine(m._dir, "tone.wav"), Path.Combine(m._dir, "silence.wav"));
                await MediaFacts.RunAsync("ffmpeg", ["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=30", "-ar", "48000", "-ac", "1", tone]);
                await MediaFacts.RunAsync("ffmpeg", ["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "30", silence]);
                m.Talker = await f.LaunchBrowserAsync(["--use-file-for-fake-audio-capture=" + tone]);
                m.Quiet = await f.LaunchBrowserAsync(["--use-file-for-fake-audio-capture=" + silence]);
                started = true;
                return m;
            }
            finally
            {
                if (!started)
                {
                    await m.DisposeAsync();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Talker is not null)
            {
                await Talker.CloseAsync();
            }
            if (Quiet is not null)
            {
                await Quiet.CloseAsync();
            }
            Directory.Delete(_dir, recursive: true);
        }
    }
}
