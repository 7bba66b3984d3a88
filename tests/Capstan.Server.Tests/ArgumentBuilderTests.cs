using Capstan.Server.Meetings;
using Capstan.Server.Recorder;

namespace Capstan.Server.Tests;

/// <summary>The media processes' argument lists and Janus's generated config: pure code, checked without
/// starting anything.</summary>
public sealed class ArgumentBuilderTests
{
    private static CaptureSpec Spec(string codec = "H264", string audio = "AAC", int channels = 2, string? watermark = null, string? position = null, string? rtmp = null) =>
        new(7, "rec_x", 640, 360, 15, codec, audio, channels, 0.075, "/w/seg_0001.mkv", watermark, position, 64, 32, rtmp);

    private static string Joined(IEnumerable<string> args) => string.Join(' ', args);

    [Fact]
    public void Capture_H264_UsesX264ZeroLatencyAndAac_IntoFlushedMatroska()
    {
        var a = Joined(MediaArgs.Capture(Spec()));
        Assert.Contains("-f x11grab -draw_mouse 0 -framerate 15 -video_size 640x360 -i :7.0+0,0", a, StringComparison.Ordinal);
        Assert.Contains("-f pulse -sample_rate 48000 -channels 2 -fragment_size 3840 -itsoffset 0.075 -i rec_x.monitor", a, StringComparison.Ordinal);
        Assert.Contains("-c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p -g 30", a, StringComparison.Ordinal);
        Assert.Contains("-c:a aac -b:a 384k -ac 2", a, StringComparison.Ordinal);
        Assert.Contains("-af aresample=async=1000", a, StringComparison.Ordinal);
        Assert.EndsWith("-flush_packets 1 -f matroska /w/seg_0001.mkv", a, StringComparison.Ordinal);
        Assert.Contains("-progress pipe:1", a, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("VP8", "VORBIS", 2, "-c:v libvpx -deadline realtime", "-c:a libvorbis -b:a 128k -ac 2")]
    [InlineData("VP9", "VORBIS", 1, "-c:v libvpx-vp9 -deadline realtime", "-c:a libvorbis -b:a 96k -ac 1")]
    [InlineData("H264", "MP3", 1, "-c:v libx264", "-c:a libmp3lame -b:a 128k -ac 1")]
    public void Capture_CodecsAndChannels(string video, string audio, int channels, string videoArgs, string audioArgs)
    {
        var a = Joined(MediaArgs.Capture(Spec(video, audio, channels)));
        Assert.Contains(videoArgs, a, StringComparison.Ordinal);
        Assert.Contains(audioArgs, a, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("left top", "overlay=0:0")]
    [InlineData("right top", "overlay=W-w:0")]
    [InlineData("left bottom", "overlay=0:H-h")]
    [InlineData("right bottom", "overlay=W-w:H-h")]
    public void Capture_Watermark_IsScaledAndPlacedByPosition(string position, string overlay)
    {
        var args = MediaArgs.Capture(Spec(watermark: "/w/watermark", position: position));
        var a = Joined(args);
        Assert.Contains("-i /w/watermark", a, StringComparison.Ordinal);
        var filter = args[args.ToList().IndexOf("-filter_complex") + 1];
        Assert.Contains("[2:v]scale=64:32[wm]", filter, StringComparison.Ordinal);
        Assert.Contains(overlay, filter, StringComparison.Ordinal);
        Assert.Contains("-map [v]", a, StringComparison.Ordinal);
    }

    [Fact]
    public void Capture_RtmpOut_TeesTheFileAndTheStream_IgnoringStreamFailures()
    {
        var args = MediaArgs.Capture(Spec(rtmp: "rtmp://127.0.0.1:1935/live/a|b"));
        Assert.Equal("[f=matroska]/w/seg_0001.mkv|[f=flv:onfail=ignore]rtmp://127.0.0.1:1935/live/a\\|b", args[^1]);
        Assert.Contains("+global_header", args);
        Assert.Equal("tee", args[^2]);
    }

    [Fact]
    public void JoinAndExtract_CopyWithoutReencoding()
    {
        Assert.Equal("-f concat -safe 0 -i /w/list.txt -c copy -movflags +faststart /w/out.mp4", string.Join(' ', MediaArgs.Join("/w/list.txt", "/w/out.mp4", "mp4").Skip(4)));
        Assert.Contains("webm", MediaArgs.Join("/w/list.txt", "/w/out.webm", "webm"));
        Assert.Contains("-vn -c:a copy -movflags +faststart /w/a.m4a", Joined(MediaArgs.ExtractAudio("/w/out.mp4", "/w/a.m4a")), StringComparison.Ordinal);
        Assert.EndsWith("-vn -c:a copy /w/a.ogg", Joined(MediaArgs.ExtractAudio("/w/out.webm", "/w/a.ogg")), StringComparison.Ordinal);
    }

    [Fact]
    public void XvfbAndChromium_Arguments()
    {
        Assert.Equal("-displayfd 1 -screen 0 1920x1920x24 -nolisten tcp -ac -nocursor -terminate", Joined(MediaArgs.Xvfb(1920, 1920)));
        var c = MediaArgs.Chromium("/w/profile", 640, 360, "http://127.0.0.1:8080/meeting?authToken=x");
        Assert.Contains("--app=http://127.0.0.1:8080/meeting?authToken=x", c);
        Assert.Contains("--window-size=640,360", c);
        Assert.Contains("--window-position=0,0", c);
        Assert.Contains("--user-data-dir=/w/profile", c);
        Assert.Contains("--autoplay-policy=no-user-gesture-required", c);
        Assert.Contains("--disable-background-networking", c);
        Assert.DoesNotContain(c, a => a.StartsWith("--proxy", StringComparison.Ordinal));
        var fenced = MediaArgs.Chromium("/w/profile", 640, 360, "http://127.0.0.1:8080/meeting?authToken=x", "http://127.0.0.1:3128");
        Assert.Contains("--proxy-server=http://127.0.0.1:3128", fenced);
        Assert.Contains("--proxy-bypass-list=<-loopback>", fenced);
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
