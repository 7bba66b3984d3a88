using Capstan.Gst;
using Capstan.Gst.Compositor;

namespace Capstan.Server.Tests;

public sealed class CompositorPipelineTests
{
    [Fact]
    public void Layout_MatchesTheRecorderView_LargestSixteenByNineTilesCentred()
    {
        Assert.Empty(CompositorPipeline.Layout(0, 640, 360));
        // One: limited by the height (352 px high, 4 px from the edges), centred across.
        Assert.Equal([new Tile(7, 4, 625, 352)], CompositorPipeline.Layout(1, 640, 360));
        // Two side by side, centred vertically.
        Assert.Equal([new Tile(4, 92, 314, 176), new Tile(322, 92, 314, 176)], CompositorPipeline.Layout(2, 640, 360));
        // Three: two rows of two, the last row centred.
        var three = CompositorPipeline.Layout(3, 1280, 720);
        Assert.Equal(2, three.Select(t => t.Y).Distinct().Count());
        Assert.Equal((1280 - three[2].Width) / 2, three[2].X);
    }

    [Fact]
    public void ConverterConfig_NearestOnlyForAPictureScaledByAtMostTwoPercent_NoneForOneOfTheTilesSize()
    {
        // The meeting page's 640x360 camera in the 720p grid's tiles (2 and 4 people), not cropped: 634x356, nearest.
        var grid = CompositorPipeline.Layout(2, 1280, 720);
        Assert.Equal(new Tile(4, 182, 634, 356), grid[0]);
        Assert.Equal(CompositorPipeline.NearestConverter, CompositorPipeline.ConverterConfig(640, 360, grid[0]));
        Assert.Equal(CompositorPipeline.NearestConverter, CompositorPipeline.ConverterConfig(640, 360, CompositorPipeline.Layout(4, 1280, 720)[3]));
        // 2 % either way (keeping the aspect ratio: the smaller scale counts).
        Assert.Equal(CompositorPipeline.NearestConverter, CompositorPipeline.ConverterConfig(640, 360, new Tile(0, 0, 652, 367)));
        Assert.Equal(CompositorPipeline.NearestConverter, CompositorPipeline.ConverterConfig(640, 360, new Tile(0, 0, 628, 400)));
        // Its own size (a camera cropped to its tile): none, so that the mixer does not convert it at all.
        Assert.Null(CompositorPipeline.ConverterConfig(640, 360, new Tile(0, 0, 640, 360)));
        Assert.Null(CompositorPipeline.ConverterConfig(629, 354, CompositorPipeline.Layout(4, 1280, 720)[3]));
        // Anything further: none, the default resampler. A 1080p tile, a 720p camera in the 720p grid, a 4:3 camera, a
        // tile 3 % smaller, a thumbnail.
        Assert.Null(CompositorPipeline.ConverterConfig(640, 360, CompositorPipeline.Layout(2, 1920, 1080)[0]));
        Assert.Null(CompositorPipeline.ConverterConfig(1280, 720, grid[0]));
        Assert.Null(CompositorPipeline.ConverterConfig(640, 480, grid[0]));
        Assert.Null(CompositorPipeline.ConverterConfig(640, 360, new Tile(0, 0, 620, 349)));
        Assert.Null(CompositorPipeline.ConverterConfig(640, 360, new Tile(0, 0, 123, 69)));
        // No size known: none.
        Assert.Null(CompositorPipeline.ConverterConfig(0, 0, grid[0]));
    }

    [Fact]
    public void Crop_APictureALittleLargerThanItsTile_ToExactlyTheTile_EvenOnTheLeftAndTop()
    {
        // The meeting page's 640x360 camera in the 720p grid: 634x356 for 2 people, 629x354 for 4.
        Assert.Equal((2, 4, 2, 2), CompositorPipeline.Crop(640, 360, CompositorPipeline.Layout(2, 1280, 720)[0]));
        var four = CompositorPipeline.Layout(4, 1280, 720)[3];
        Assert.Equal((629, 354), (four.Width, four.Height));
        Assert.Equal((4, 7, 2, 4), CompositorPipeline.Crop(640, 360, four));
        // Its own size: nothing. 2 % smaller both ways still; further, or smaller than the tile either way: nothing
        // (the mixer scales it).
        Assert.Equal((0, 0, 0, 0), CompositorPipeline.Crop(640, 360, new Tile(0, 0, 640, 360)));
        Assert.Equal((6, 6, 2, 5), CompositorPipeline.Crop(640, 360, new Tile(0, 0, 628, 353)));
        Assert.Equal((0, 0, 0, 0), CompositorPipeline.Crop(640, 360, new Tile(0, 0, 620, 349)));
        Assert.Equal((0, 0, 0, 0), CompositorPipeline.Crop(640, 360, new Tile(0, 0, 636, 364)));
        Assert.Equal((0, 0, 0, 0), CompositorPipeline.Crop(640, 360, CompositorPipeline.Layout(1, 1280, 720)[0]));
        Assert.Equal((0, 0, 0, 0), CompositorPipeline.Crop(1280, 720, CompositorPipeline.Layout(2, 1280, 720)[0]));
        Assert.Equal((0, 0, 0, 0), CompositorPipeline.Crop(0, 0, four));
        // The bin crops before the name label is drawn, so the label stays inside what is shown; VP8's pictures are
        // labelled with the mixer's colours, so that it need not convert them.
        var bin = CompositorPipeline.InputBin("video", "VP8", 200, 30);
        Assert.True(bin.IndexOf("videocrop name=crop", StringComparison.Ordinal) < bin.IndexOf("textoverlay name=label", StringComparison.Ordinal), bin);
        Assert.Contains("vp8dec threads=1 ! capssetter caps=\"video/x-raw,colorimetry=bt601,chroma-site=jpeg\" ! videoconvert ! videocrop name=crop", bin, StringComparison.Ordinal);
    }

    [Fact]
    public void ShareLayout_MatchesTheRecorderView_ShareLarge_OthersInAColumnBeside()
    {
        // No share: the grid.
        Assert.Equal(CompositorPipeline.Layout(3, 640, 360), CompositorPipeline.ShareLayout(0, 3, 640, 360));
        // A share alone takes the whole frame (less the edges).
        Assert.Equal([new Tile(4, 4, 632, 352)], CompositorPipeline.ShareLayout(1, 0, 640, 360));
        // A share and two participants: 80% of the width for the share, 16:9 thumbnails centred in the column beside.
        var t = CompositorPipeline.ShareLayout(1, 2, 640, 360);
        Assert.Equal(new Tile(4, 4, 505, 352), t[0]);
        Assert.True(t[0].Width >= 0.75 * 640);
        Assert.Equal([new Tile(513, 108, 123, 69), new Tile(513, 182, 123, 69)], t.Skip(1));
        // Many participants: thumbnails shrink to fit the height, never overlap the share or leave the frame.
        var many = CompositorPipeline.ShareLayout(1, 8, 1280, 720);
        foreach (var thumb in many.Skip(1))
        {
            Assert.True(thumb.X >= many[0].X + many[0].Width && thumb.X + thumb.Width <= 1280 && thumb.Y >= 0 && thumb.Y + thumb.Height <= 720, thumb.ToString());
        }
        Assert.All(many.Skip(1).Zip(many.Skip(2)), p => Assert.True(p.First.Y + p.First.Height <= p.Second.Y));
        // Two shares stack in the share's column.
        var two = CompositorPipeline.ShareLayout(2, 1, 640, 360);
        Assert.Equal(two[0].X, two[1].X);
        Assert.True(two[0].Y + two[0].Height <= two[1].Y);
    }

    [Fact]
    public void Stalled_NamesTheMixerThatFellBehindTheBound_CountingNothingPutOutFromZero()
    {
        var spec = new CompositorSpec(1280, 720, 30, "H264", "AAC", 2, "/tmp/x.mkv");
        var bound = CompositorHost.StallBound(spec);
        Assert.Equal(3_000_000_000L, bound); // the mixers' 0.5 s latency and 2.5 s more
        const long s = 1_000_000_000L;
        // Both keeping up, the mixers' latency behind; and neither has put out anything yet at the start.
        Assert.Null(CompositorHost.Stalled(10 * s, 9 * s + (s / 2), 9 * s + (s / 2), bound));
        Assert.Null(CompositorHost.Stalled(s, -1, -1, bound));
        Assert.Null(CompositorHost.Stalled(3 * s, -1, -1, bound)); // exactly the bound: still waited for
        // The sound mixer that never put out anything (the one-track segment), and one that stopped later.
        Assert.Equal("the sound mixer stalled: running at 3.001 s, its output none",
            CompositorHost.Stalled((3 * s) + 1_000_000, 2 * s + (s / 2), -1, bound));
        Assert.Equal("the sound mixer stalled: running at 12.000 s, its output at 8.900 s",
            CompositorHost.Stalled(12 * s, 11 * s + (s / 2), 8 * s + (9 * s / 10), bound));
        // The picture is named first when both are behind.
        Assert.StartsWith("the picture mixer stalled", CompositorHost.Stalled(20 * s, 5 * s, 5 * s, bound), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MixerOutputs_WaitFirst_NamesTheMixerThatPutOutNothing_AndWakesOnItsFirstOutput()
    {
        // 0.5 s for the first pipeline, twice as long for each one built again.
        Assert.Equal([500, 1000, 2000], Enumerable.Range(1, CompositorHost.FirstOutputAttempts).Select(a => CompositorHost.FirstOutputBound(a).TotalMilliseconds));
        var brief = TimeSpan.FromMilliseconds(30);
        var outputs = new CompositorHost.MixerOutputs();
        Assert.Equal((-1L, -1L), (outputs.LastPicture, outputs.LastSound));
        Assert.Equal("picture and sound", outputs.WaitFirst(brief));
        outputs.Picture(17_000_000);
        Assert.Equal("sound", outputs.WaitFirst(brief)); // the fault seen: the sound mixer silent from the start
        var only = new CompositorHost.MixerOutputs();
        only.Sound(12_000_000);
        Assert.Equal("picture", only.WaitFirst(brief));
        // A first sound coming while the host waits ends the wait (the bound is far off).
        var waiting = Task.Run(() => outputs.WaitFirst(TimeSpan.FromMinutes(5)));
        await Task.Delay(20, TestContext.Current.CancellationToken);
        outputs.Sound(12_000_000);
        Assert.Null(await waiting.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
        Assert.Equal((17_000_000L, 12_000_000L), (outputs.LastPicture, outputs.LastSound));
    }

    [Fact]
    public async Task MixerOutputs_WaitUntil_WaitsForBothMixersToPutOutTheStop()
    {
        const long s = 1_000_000_000L;
        var outputs = new CompositorHost.MixerOutputs();
        outputs.Picture(9 * s);
        outputs.Sound(10 * s);
        Assert.False(outputs.WaitUntil(10 * s, 10 * s, TimeSpan.FromMilliseconds(30))); // the picture is behind
        var waiting = Task.Run(() => outputs.WaitUntil(10 * s, 10 * s, TimeSpan.FromMinutes(5)));
        await Task.Delay(20, TestContext.Current.CancellationToken);
        outputs.Picture(10 * s);
        Assert.True(await waiting.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
        Assert.True(outputs.WaitUntil(5 * s, 5 * s, TimeSpan.Zero)); // reached already: no wait
    }

    [Fact]
    public void Describe_UsesTheRecordingsEncoders()
    {
        var h264 = CompositorPipeline.Describe(new CompositorSpec(1280, 720, 30, "H264", "AAC", 1, "/tmp/a.mkv"));
        Assert.Contains("x264enc tune=zerolatency speed-preset=veryfast", h264, StringComparison.Ordinal);
        Assert.Contains("voaacenc bitrate=192000 ! aacparse", h264, StringComparison.Ordinal);
        Assert.Contains("audio/x-raw,channels=1", h264, StringComparison.Ordinal);
        Assert.Contains("compositor name=comp background=black latency=500000000", h264, StringComparison.Ordinal);
        var vp9 = CompositorPipeline.Describe(new CompositorSpec(640, 360, 15, "VP9", "VORBIS", 2, "/tmp/b.mkv"));
        Assert.Contains("vp9enc", vp9, StringComparison.Ordinal);
        Assert.Contains("vorbisenc", vp9, StringComparison.Ordinal);
        // One colorimetry out of the mixer, whatever the participants send (Matroska refuses a caps change): theirs,
        // BT.601, at every size, and the background's the same, so that their tiles are only scaled.
        Assert.Contains("framerate=15/1,colorimetry=bt601,chroma-site=jpeg ! identity name=grab", vp9, StringComparison.Ordinal);
        Assert.Contains("framerate=30/1,colorimetry=bt601,chroma-site=jpeg ! identity name=grab", h264, StringComparison.Ordinal);
        // The watermark as the capture draws it (GstArgs.Watermark), between the encoder's queue and the encoder.
        var marked = CompositorPipeline.Describe(new CompositorSpec(1280, 720, 30, "H264", "AAC", 2, "/tmp/c.mkv", WatermarkFile: "/w/wm.png", WatermarkPosition: "right bottom"));
        Assert.Contains("leaky=downstream ! gdkpixbufoverlay location=\"/w/wm.png\" offset-x=1160 offset-y=660 overlay-width=120 overlay-height=60 ! x264enc", marked, StringComparison.Ordinal);
        Assert.Contains("leaky=downstream ! x264enc", h264, StringComparison.Ordinal);
        // The queue in front of the encoder is bounded in bytes: 48 MiB (36 pictures of 720p), 16 pictures at least.
        Assert.Contains("queue name=toencoder max-size-buffers=0 max-size-bytes=50331648 max-size-time=0 leaky=downstream", h264, StringComparison.Ordinal);
        Assert.Equal(36, CompositorPipeline.EncoderQueueBytes(1280, 720) / (1280 * 720 * 3 / 2));
        Assert.True(CompositorPipeline.EncoderQueueBytes(1920, 1080) / (1920 * 1080 * 3 / 2) >= 16);
        Assert.Equal(16L * 3840 * 2160 * 3 / 2, CompositorPipeline.EncoderQueueBytes(3840, 2160));
        // The black source that clocks the mixer is small (the mixer holds it for its latency); the mixer paints the background.
        Assert.StartsWith("videotestsrc is-live=true pattern=black ! video/x-raw,format=I420,width=16,height=16,framerate=30/1,colorimetry=bt601,chroma-site=jpeg ! comp.sink_0 ", h264, StringComparison.Ordinal);
        Assert.Contains("rtph264depay", CompositorPipeline.InputBin("video", "h264", 200, 30), StringComparison.Ordinal);
        Assert.Contains("rtpopusdepay", CompositorPipeline.InputBin("audio", "opus", 200, 30), StringComparison.Ordinal);
        // Pictures are stamped later than they arrive by the sound's packet time, Opus's decoder delay and half a frame.
        Assert.Contains("rtpjitterbuffer latency=200 drop-on-latency=true ts-offset=43166667 ", CompositorPipeline.InputBin("video", "vp8", 200, 30), StringComparison.Ordinal);
        Assert.DoesNotContain("ts-offset", CompositorPipeline.InputBin("audio", "opus", 200, 30), StringComparison.Ordinal);
        // Two threads a forwarded stream (udpsrc, jitter buffer) and one a still picture (its source): no queue in
        // front of the mixers' pads, and the decoders decode on the jitter buffer's thread.
        foreach (var bin in new[] { CompositorPipeline.InputBin("video", "vp8", 200, 30), CompositorPipeline.InputBin("video", "h264", 200, 30),
            CompositorPipeline.InputBin("video", "vp9", 200, 30), CompositorPipeline.InputBin("audio", "opus", 200, 30), CompositorPipeline.CameraOffBin(), CompositorPipeline.OutlineBin() })
        {
            Assert.DoesNotContain("queue", bin, StringComparison.Ordinal);
            Assert.EndsWith("identity name=out silent=true", bin, StringComparison.Ordinal);
            Assert.True(!bin.Contains("avdec", StringComparison.Ordinal) || bin.Contains("max-threads=1", StringComparison.Ordinal), bin);
            Assert.True(!bin.Contains("vp8dec", StringComparison.Ordinal) || bin.Contains("vp8dec threads=1", StringComparison.Ordinal), bin);
        }
        // VP8, nearly every publisher's codec, is decoded without loading FFmpeg (libav) into the host.
        Assert.DoesNotContain("avdec", CompositorPipeline.InputBin("video", "vp8", 200, 30), StringComparison.Ordinal);
        Assert.Contains("framerate=5/1", CompositorPipeline.OutlineBin(), StringComparison.Ordinal);
        // The sound mixer and its silent source in Opus's 20 ms.
        Assert.Contains("samplesperbuffer=960 ", h264, StringComparison.Ordinal);
        Assert.Contains("output-buffer-duration=20000000 ", h264, StringComparison.Ordinal);
        Assert.Contains("x264enc tune=zerolatency speed-preset=veryfast pass=qual quantizer=23 key-int-max=60 subme=1 threads=1 ! h264parse", h264, StringComparison.Ordinal);
        Assert.DoesNotContain("mpegtsmux", h264, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_WithRtmpOut_TeesBothStreamsIntoAnMpegTsForThePusher()
    {
        var d = CompositorPipeline.Describe(new CompositorSpec(1280, 720, 30, "H264", "AAC", 2, "/tmp/a.mkv", RtmpPort: 40123));
        Assert.Contains("h264parse ! tee name=v ! queue ! mux. v. ! queue leaky=downstream", d, StringComparison.Ordinal);
        Assert.Contains("h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream ! ts.", d, StringComparison.Ordinal);
        Assert.Contains("aacparse ! tee name=au ! queue ! mux. au. ! queue leaky=downstream max-size-time=2000000000 ! aacparse ! audio/mpeg,stream-format=adts ! ts.", d, StringComparison.Ordinal);
        Assert.Contains("mpegtsmux name=ts ! udpsink host=127.0.0.1 port=40123 sync=false async=false", d, StringComparison.Ordinal);
    }
}
