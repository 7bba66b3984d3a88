using Capstan.Gst;
using Capstan.Server.Meetings;
using Capstan.Server.Recorder;

namespace Capstan.Server.Tests;

/// <summary>The media processes' argument lists and Janus's generated config: pure code, checked without
/// starting anything.</summary>
public sealed class ArgumentBuilderTests
{
    private static CaptureSpec Spec(string codec = "H264", string audio = "AAC", int channels = 2, string? watermark = null, string? position = null, int? rtmpPort = null) =>
        new(7, "rec_x", 640, 360, 15, codec, audio, channels, "/w/seg_0001.mkv", watermark, position, 64, 32, rtmpPort);

    private static string Joined(IEnumerable<string> args) => string.Join(' ', args);

    [Theory]
    [InlineData(2.100, 2.1)] // on a frame: that frame starts the next segment
    [InlineData(2.110, 2.16667)] // between frames: up to the next one
    [InlineData(2.1661, 2.16667)]
    public void MediaSpan_CutOnFrame_MovesTheCutUpOntoTheFrameGrid(double at, double expected)
    {
        // Frames at 0.1 + k/15 s, audio from 0.08 s.
        var span = new MediaSpan(0.08, 5.0, 4.9667, 0.1);
        Assert.Equal(expected, span.CutOnFrame(at, 15), 4);
        Assert.Equal(2.5, new MediaSpan(0, 5, null).CutOnFrame(2.5, 15));
    }

    [Fact]
    public void Joinable_OnlySegmentsWithSoundAndPictureAndMoreThanAFifthOfASecond()
    {
        Assert.True(CompositeCapture.Joinable(new MediaSpan(0, 5, 4.96, 0, BothEnd: 4.98)));
        Assert.False(CompositeCapture.Joinable(null)); // no packet at all
        Assert.False(CompositeCapture.Joinable(new MediaSpan(0, 0.15, 0.1, 0, BothEnd: 0.15)));
        Assert.False(CompositeCapture.Joinable(new MediaSpan(0, 5, 4.96, 0))); // picture only: its sound mixer stalled
        Assert.False(CompositeCapture.Joinable(new MediaSpan(0, 5, null))); // sound only
    }

    [Fact]
    public void Capture_H264_GrabsDisplayAndSinkOnTheAudioClock_IntoMatroska()
    {
        var a = Joined(MediaArgs.Capture(Spec()));
        Assert.StartsWith("-e -v ximagesrc display-name=:7 use-damage=false show-pointer=false startx=0 starty=0 endx=639 endy=359 ! video/x-raw,framerate=15/1 ! identity name=grab silent=false", a, StringComparison.Ordinal);
        // A bounded, leaky queue before the encoder, then a constant frame rate.
        Assert.Contains($"identity name=grab silent=false ! queue max-size-buffers=3 max-size-bytes=0 max-size-time=0 leaky=downstream ! videoconvert ! video/x-raw,format=I420 ! queue max-size-buffers={MediaArgs.VideoQueueFrames} max-size-bytes=0 max-size-time=0 leaky=downstream ! videorate ! video/x-raw,format=I420,framerate=15/1", a, StringComparison.Ordinal);
        Assert.Contains("x264enc tune=zerolatency speed-preset=veryfast pass=qual quantizer=23 key-int-max=30 subme=1 threads=1 ! h264parse", a, StringComparison.Ordinal);
        // The sound: the sink's monitor, the pipeline's clock (pulsesrc provides it: no provide-clock=false); moved at the join.
        Assert.Contains("pulsesrc device=\"rec_x.monitor\" ! audio/x-raw,rate=48000,channels=2", a, StringComparison.Ordinal);
        Assert.DoesNotContain("provide-clock", a, StringComparison.Ordinal);
        Assert.Contains("voaacenc bitrate=320000 ! aacparse ! queue ! mux.", a, StringComparison.Ordinal);
        Assert.EndsWith("matroskamux name=mux ! filesink buffer-mode=unbuffered location=\"/w/seg_0001.mkv\"", a, StringComparison.Ordinal);
        Assert.DoesNotContain("tee", a, StringComparison.Ordinal);
    }

    [Fact]
    public void SoundShift_EncoderPriming_HalfAGrabbedFrame_JanusArrival_AndTheCalibration()
    {
        // AAC priming alone (the native compositor moves its pictures instead).
        Assert.Equal(-1600 / 48000.0, MediaArgs.SoundShiftSeconds("AAC", 30, grabbed: false, meetingView: true, 0), 9);
        // A custom url page in the browser, Vorbis: half a frame later.
        Assert.Equal(0.5 / 30, MediaArgs.SoundShiftSeconds("VORBIS", 30, grabbed: true, meetingView: false, 0), 9);
        // The built-in view in the browser, MP3 at 15 fps, with a calibration of +10 ms.
        Assert.Equal((-1105 / 48000.0) + (0.5 / 15) - 0.020 - (312 / 48000.0) + 0.010, MediaArgs.SoundShiftSeconds("MP3", 15, grabbed: true, meetingView: true, 0.010), 9);
    }

    [Theory]
    [InlineData("VP8", "VORBIS", 2, "vp8enc deadline=1 cpu-used=8", "vorbisenc bitrate=128000")]
    [InlineData("VP9", "VORBIS", 1, "vp9enc deadline=1 cpu-used=8 row-mt=true", "vorbisenc bitrate=96000")]
    [InlineData("H264", "MP3", 1, "x264enc", "lamemp3enc bitrate=128 target=bitrate cbr=true ! mpegaudioparse")]
    public void Capture_CodecsAndChannels(string video, string audio, int channels, string videoArgs, string audioArgs)
    {
        var a = Joined(MediaArgs.Capture(Spec(video, audio, channels)));
        Assert.Contains(videoArgs, a, StringComparison.Ordinal);
        Assert.Contains(audioArgs, a, StringComparison.Ordinal);
        Assert.Contains($"audioconvert ! audio/x-raw,channels={channels} !", a, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("left top", "offset-x=0 offset-y=0")]
    [InlineData("right top", "offset-x=576 offset-y=0")]
    [InlineData("left bottom", "offset-x=0 offset-y=328")]
    [InlineData("right bottom", "offset-x=576 offset-y=328")]
    public void Capture_Watermark_IsScaledAndPlacedByPosition(string position, string offsets)
    {
        var a = Joined(MediaArgs.Capture(Spec(watermark: "/w/watermark", position: position)));
        Assert.Contains($"framerate=15/1 ! gdkpixbufoverlay location=\"/w/watermark\" {offsets} overlay-width=64 overlay-height=32 ! x264enc", a, StringComparison.Ordinal);
    }

    [Fact]
    public void Capture_RtmpOut_TeesBothStreamsToLocalMpegTs_ThroughLeakyQueues()
    {
        var a = Joined(MediaArgs.Capture(Spec(rtmpPort: 5004)));
        Assert.Contains("h264parse ! tee name=v ! queue ! mux. v. ! queue leaky=downstream max-size-time=2000000000 ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream ! ts.", a, StringComparison.Ordinal);
        Assert.Contains("tee name=au ! queue ! mux. au. ! queue leaky=downstream max-size-time=2000000000 ! aacparse ! audio/mpeg,stream-format=adts ! ts. mpegtsmux name=ts ! udpsink host=127.0.0.1 port=5004 sync=false async=false", a, StringComparison.Ordinal);
        var push = Joined(MediaArgs.RtmpPush(5004, "rtmp://127.0.0.1:1935/live/a"));
        Assert.Contains("-f mpegts -i udp://127.0.0.1:5004?", push, StringComparison.Ordinal);
        // The pusher waits long enough to meet a keyframe (the picture's sizes come with it), wherever it starts.
        Assert.Contains("-analyzeduration 3000000 ", push, StringComparison.Ordinal);
        Assert.EndsWith("-c copy -f flv rtmp://127.0.0.1:1935/live/a", push, StringComparison.Ordinal);
    }

    [Fact]
    public void Capture_PathsWithSpacesAndQuotes_AreQuotedForGstLaunch()
    {
        var a = MediaArgs.Capture(Spec() with { Output = "/w/a \"b\"/seg.mkv" });
        Assert.Equal("location=\"/w/a \\\"b\\\"/seg.mkv\"", a[^1]);
    }

    [Fact]
    public void HostLines_ReadBackAsGstLaunchsGrabLine_AndTheInstantTheHostSawTheFrame()
    {
        var line = GstArgs.FormatGrabLine(3_723_033_333_333);
        Assert.True(GstArgs.GrabLine(line, out var t));
        Assert.Equal(3723.033333333, t, 6);
        var at = new DateTime(2026, 12, 2, 18, 0, 0, DateTimeKind.Utc).AddTicks(1234567);
        var seen = GstArgs.FormatGrabbedAt(at, 33_333_333);
        Assert.True(GstArgs.GrabbedAtLine(seen, out var utc, out var pts));
        Assert.Equal((at, 0.033333333), (utc, Math.Round(pts, 9)));
        Assert.True(GstArgs.IsGrabLine(seen));
        Assert.False(GstArgs.GrabLine(seen, out _));
        Assert.False(GstArgs.GrabbedAtLine("grabbed-at x 1", out _, out _));
    }

    [Fact]
    public void GrabLine_ReadsTheFramesRunningTime()
    {
        const string line = "/GstPipeline:pipeline0/GstIdentity:grab: last-message = chain   ******* (grab:sink) (921600 bytes, dts: none, pts: 0:01:02.033333333, duration: 0:00:00.033333333, offset: 1861, offset_end: 1862, flags: 00000000 , meta: none) 0x7f0";
        Assert.True(GstArgs.GrabLine(line, out var t));
        Assert.Equal(62.033333333, t, 6);
        Assert.True(GstArgs.IsGrabLine(line));
        Assert.False(GstArgs.GrabLine("/GstPipeline:pipeline0/GstIdentity:grab: last-message = event   ******* (grab:sink) E (type: stream-start (10254), ", out _));
        Assert.False(GstArgs.GrabLine("Setting pipeline to PLAYING ...", out _));
        Assert.False(GstArgs.IsGrabLine("ERROR: from element /GstPipeline:pipeline0/GstXImageSrc:ximagesrc0: Could not open X display"));
    }

    [Fact]
    public void JoinAndExtract_CopyWithoutReencoding()
    {
        Assert.Equal("-f concat -safe 0 -i /w/list.txt -c copy -movflags +faststart /w/out.mp4", string.Join(' ', MediaArgs.Join("/w/list.txt", "/w/out.mp4", "mp4", 0).Skip(4)));
        // A shift: the sound read again from the same list, that much earlier or later.
        Assert.Equal("-f concat -safe 0 -i /w/list.txt -itsoffset -0.021333 -f concat -safe 0 -i /w/list.txt -map 0:v? -map 1:a? -c copy -movflags +faststart /w/out.mp4",
            string.Join(' ', MediaArgs.Join("/w/list.txt", "/w/out.mp4", "mp4", -1024 / 48000.0).Skip(4)));
        Assert.Equal("-f concat -safe 0 -i /w/list.txt -itsoffset 0.016667 -f concat -safe 0 -i /w/list.txt -map 0:v? -map 1:a? -c copy -f webm /w/out.webm",
            string.Join(' ', MediaArgs.Join("/w/list.txt", "/w/out.webm", "webm", 0.5 / 30).Skip(4)));
        Assert.Contains("-vn -c:a copy -movflags +faststart /w/a.m4a", Joined(MediaArgs.ExtractAudio("/w/out.mp4", "/w/a.m4a")), StringComparison.Ordinal);
        Assert.EndsWith("-vn -c:a copy /w/a.ogg", Joined(MediaArgs.ExtractAudio("/w/out.webm", "/w/a.ogg")), StringComparison.Ordinal);
    }

    [Fact]
    public void XvfbAndChromium_Arguments()
    {
        Assert.Equal("-displayfd 1 -screen 0 1920x1920x24 -nolisten tcp -ac -nocursor -terminate -extension GLX", Joined(MediaArgs.Xvfb(1920, 1920)));
        var c = MediaArgs.Chromium("/w/profile", 640, 360, "http://127.0.0.1:8080/meeting?authToken=x");
        Assert.Contains("--app=http://127.0.0.1:8080/meeting?authToken=x", c);
        Assert.Contains("--window-size=640,360", c);
        Assert.Contains("--window-position=0,0", c);
        Assert.Contains("--user-data-dir=/w/profile", c);
        Assert.Contains("--autoplay-policy=no-user-gesture-required", c);
        Assert.Contains("--disable-background-networking", c);
        Assert.DoesNotContain(c, a => a.StartsWith("--proxy", StringComparison.Ordinal));
        // Chromium's own sandbox stays on: the recorder's browser runs as an unprivileged user.
        Assert.DoesNotContain("--no-sandbox", c);
        var fenced = MediaArgs.Chromium("/w/profile", 640, 360, "http://127.0.0.1:8080/meeting?authToken=x", "http://127.0.0.1:3128");
        Assert.Contains("--proxy-server=http://127.0.0.1:3128", fenced);
        Assert.Contains("--proxy-bypass-list=<-loopback>", fenced);
        Assert.DoesNotContain("--no-sandbox", fenced);
        Assert.DoesNotContain("--no-zygote", c);
        Assert.Contains("--in-process-gpu", c);
        // A dark window between two pages, and pages that still prefer the light scheme.
        Assert.Contains("--force-dark-mode", c);
        Assert.Contains("--blink-settings=preferredColorScheme=1", c);
        Assert.Contains("--enable-features=NetworkServiceInProcess2", c);
        var bare = MediaArgs.Chromium("/w/profile", 640, 360, "http://127.0.0.1:8080/meeting?authToken=x", sandbox: false);
        Assert.Contains("--no-sandbox", bare);
        // Without the sandbox the zygote serves nothing: one process less.
        Assert.Contains("--no-zygote", bare);
    }

    [Fact]
    public void JanusConfig_KeepsTransportsOnLoopback_AndLocksRooms()
    {
        var files = JanusConfig.Files(new JanusConfigSpec("/d/conf", "/usr/lib/x86_64-linux-gnu/janus", 8188, 7188, "adminsecret", "roomkey",
            "http://127.0.0.1:8080/internal/janus-events", "evpass", "v0", null, "20000-20999"));
        Assert.Equal(["janus.eventhandler.sampleevh.jcfg", "janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg"], files.Keys.Order().ToList());
        var janus = files["janus.jcfg"];
        Assert.Contains("admin_secret = \"adminsecret\"", janus, StringComparison.Ordinal);
        Assert.Contains("ice_enforce_list = \"v0\"", janus, StringComparison.Ordinal);
        Assert.Contains("rtp_port_range = \"20000-20999\"", janus, StringComparison.Ordinal);
        Assert.Contains("libjanus_websockets.so", janus, StringComparison.Ordinal);
        Assert.DoesNotContain("\"/var\"", janus, StringComparison.Ordinal);
        Assert.DoesNotContain("nat_1_1_mapping", janus, StringComparison.Ordinal);
        var http = files["janus.transport.http.jcfg"];
        Assert.Contains("ip = \"127.0.0.1\"", http, StringComparison.Ordinal);
        Assert.Contains("admin_ip = \"127.0.0.1\"", http, StringComparison.Ordinal);
        Assert.Contains("port = 8188", http, StringComparison.Ordinal);
        Assert.Contains("admin_key = \"roomkey\"", files["janus.plugin.videoroom.jcfg"], StringComparison.Ordinal);
        var events = files["janus.eventhandler.sampleevh.jcfg"];
        Assert.Contains("backend = \"http://127.0.0.1:8080/internal/janus-events\"", events, StringComparison.Ordinal);
        Assert.Contains("backend_pwd = \"evpass\"", events, StringComparison.Ordinal);
        Assert.Contains("events = \"plugins\"", events, StringComparison.Ordinal);
    }
}
