using Capstan.Server.Recorder;

namespace Capstan.Server.Tests;

/// <summary>Track recording's pure parts: Janus's file names and headers, the post-processing argument lists and
/// the delivered file names.</summary>
public sealed class TrackFilesTests
{
    [Fact]
    public void MjrName_ParsesJanusVideoRoomFileNames()
    {
        var n = MjrName.TryParse("/rec/videoroom-276820172869-user-5539655362372820-1795614038971297-audio-0.mjr");
        Assert.Equal(new MjrName(276820172869, 5539655362372820, 1795614038971297, "audio", "0"), n);
        Assert.Equal("video", MjrName.TryParse("videoroom-1-user-2-3-video-1.mjr")!.Kind);
        Assert.Null(MjrName.TryParse("custom-bob-audio-0.mjr"));
        Assert.Null(MjrName.TryParse("videoroom-1-user-2-3-audio-0.mjr.tmp"));
    }

    [Fact]
    public void MjrHeader_IsFoundAmongLogLines()
    {
        var output = "Janus version: 1121\n[WARN] something\n{\"t\":\"a\",\"c\":\"opus\",\"s\":1795614038971297,\"u\":1795614039295155}\nbye\n";
        Assert.Equal(new MjrHeader("audio", "opus", 1795614038971297, 1795614039295155), MjrHeader.TryParse(output));
        Assert.Equal("video", MjrHeader.TryParse("{\"t\":\"v\",\"c\":\"vp8\",\"s\":5}")!.Type);
        Assert.Equal(5, MjrHeader.TryParse("{\"t\":\"v\",\"c\":\"vp8\",\"s\":5}")!.FirstPacketMicros);
        Assert.Null(MjrHeader.TryParse("no header here\n{not json"));
    }

    [Fact]
    public void Args_ExtractWithoutTranscoding_AndJoinIntoWebm()
    {
        Assert.Equal(["--json", "--disable-colors", "/r/a.mjr"], TrackArgs.Header("/r/a.mjr"));
        Assert.Equal(["--disable-colors", "/r/a.mjr", "/w/a.opus"], TrackArgs.Extract("/r/a.mjr", "/w/a.opus"));
        Assert.Equal(("opus", "webm", "webm", "mkv"), (TrackArgs.ExtractExtension("opus"), TrackArgs.ExtractExtension("vp8"), TrackArgs.ExtractExtension("vp9"), TrackArgs.ExtractExtension("h264")));
        Assert.Throws<NotSupportedException>(() => TrackArgs.ExtractExtension("g711"));
        var copy = string.Join(' ', TrackArgs.Join("/w/list.txt", "/w/out.webm", transcodeToVp8: false));
        Assert.Equal("-hide_banner -nostdin -y -v error -f concat -safe 0 -i /w/list.txt -c copy -f webm /w/out.webm", copy);
        var vp8 = string.Join(' ', TrackArgs.Join("/w/list.txt", "/w/out.webm", transcodeToVp8: true));
        Assert.Contains("-c:v libvpx -deadline realtime", vp8, StringComparison.Ordinal);
        Assert.EndsWith("-f webm /w/out.webm", vp8, StringComparison.Ordinal);
    }

    [Fact]
    public void FileName_FollowsTheRealtimeKitPattern_WithSafeUserIds()
    {
        var peer = Guid.Parse("629c84f9-f238-409c-aaf0-b34234e422a6");
        Assert.Equal("default_alice_629c84f9-f238-409c-aaf0-b34234e422a6_webcam_audio_1795626893483.webm",
            TrackArgs.FileName("default", "alice", peer, "webcam", "audio", 1795626893483));
        Assert.Equal("a-b-c-d@x.io", TrackArgs.Safe("a/b c\\d@x.io"));
        Assert.Equal("user", TrackArgs.Safe(".."));
        Assert.Equal(100, TrackArgs.Safe(new string('x', 300)).Length);
    }
}
