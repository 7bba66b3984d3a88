using System.Globalization;

namespace Capstan.Gst;

/// <summary>The words both composite paths give GStreamer, and the lines their hosts print: the recording's encoders
/// and watermark, as gst-launch words (the browser path's capture, <c>MediaArgs.Capture</c> in the server, and the
/// native compositor, <see cref="Compositor.CompositorPipeline.Describe"/>, encode alike), and a composited or grabbed
/// frame's line. Pure: nothing is started here.</summary>
public static class GstArgs
{
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>The watermark drawn over the picture before it is encoded (<c>gdkpixbufoverlay</c>, then <c>!</c>), in a
    /// corner of the <paramref name="width"/> x <paramref name="height"/> frame (<paramref name="position"/> as the
    /// API names it); nothing without a <paramref name="file"/>. The browser's capture and the native compositor
    /// draw it alike.</summary>
    public static IReadOnlyList<string> Watermark(string? file, string? position, int watermarkWidth, int watermarkHeight, int width, int height)
    {
        if (file is null)
        {
            return [];
        }
        var x = position is "right top" or "right bottom" ? width - watermarkWidth : 0;
        var y = position is "left bottom" or "right bottom" ? height - watermarkHeight : 0;
        return ["gdkpixbufoverlay", $"location={Quote(file)}", $"offset-x={I(x)}", $"offset-y={I(y)}",
            $"overlay-width={I(watermarkWidth)}", $"overlay-height={I(watermarkHeight)}", "!"];
    }

    /// <summary>Seconds from one keyframe of the recording's picture to the next (<see cref="VideoEncoder"/>): also how
    /// long a reader that joins the stream may wait for its first keyframe (the server's RTMP pusher).</summary>
    public const int KeyframeIntervalSeconds = 2;

    /// <summary>The recording's picture encoder, as gst-launch words: x264 (then <c>h264parse</c>) or VP8, VP9 at a
    /// constant rate of a tenth of a bit per pixel (500 kbps at least), a keyframe every
    /// <see cref="KeyframeIntervalSeconds"/>. The browser's capture
    /// (<c>MediaArgs.Capture</c>) and the native compositor (<see cref="Compositor.CompositorPipeline.Describe"/>)
    /// encode alike.
    /// <para>x264 in one thread: <c>tune=zerolatency</c> otherwise cuts each picture into a slice per thread (two on
    /// this 2-core machine) and wakes a thread for each. On 10 s of a native 4-participant 720p30 composite, encoded
    /// as fast as it goes, one thread took a fifth less CPU (0.87-0.89 CPU-seconds against 1.07-1.12) for a smaller
    /// file (141 kB against 151); on a busy machine far more (bench/recorder, native 720p30 with 2 participants: 0.19
    /// core against 0.29 with the slices, 1080p 0.37 against 0.52, in two runs 15 minutes apart in which the browser
    /// path moved from 0.58 to 0.69). The price: one thread catches up more slowly after a start on a saturated
    /// machine. Five native 720p recordings started at once beside a busy loop lost 0.1-0.4 s of pictures in their
    /// first 2 s in 9 of 10 files, none of 10 with the slices (a queue of 30 pictures before the encoder instead of 16
    /// did not prevent it); but with the slices the benchmark's five at once lost 41-47 % of their pictures, against
    /// 2-6 % in one thread.</para>
    /// <para>x264 with <c>subme=1</c>, the quickest sub-pixel refinement, where <c>veryfast</c> has 2: on the same
    /// 10 s of composite, the fastest of five runs each, 0.67 CPU-seconds against 0.82 (reading the raw pictures
    /// included), for a file 11 % larger (175 kB against 158) at the same rate factor. <c>superfast</c> saved no more
    /// (0.78, 177 kB in that round), and nothing else tried saved more than the runs' spread (<c>me=dia</c>,
    /// <c>chroma-me=0</c>, no 8x8 transform, no scene cuts or weighted prediction). Most of x264's time on a composite
    /// goes to work every macroblock costs, a still one too: all-black 720p pictures cost it 2.3 ms each, the
    /// 4-participant composite 2.9. A constant quantizer without scene cuts or weighted prediction skips the
    /// low-resolution pass that the rate factor needs and cost a third less for the same size on that composite, but
    /// it has no rate cap (x264enc's rate factor keeps its VBV at 2048 kbps): 10 s of 720p30 with moving noise came
    /// out at 51 MB, against 2.6 MB with the rate factor. With the decoder of
    /// <see cref="Compositor.CompositorPipeline.InputBin"/>, five native recordings started at once beside a busy
    /// loop lost no pictures at their start (10 files; before, every file lost 0.1-0.5 s).</para></summary>
    public static IReadOnlyList<string> VideoEncoder(string codec, int width, int height, int frameRate)
    {
        var gop = I(frameRate * KeyframeIntervalSeconds);
        var bitrate = Math.Max(500, width * height * frameRate / 10_000);
        return codec switch
        {
            "VP8" => ["vp8enc", "deadline=1", "cpu-used=8", "end-usage=cbr", $"target-bitrate={I(bitrate * 1000)}", $"keyframe-max-dist={gop}", "lag-in-frames=0", "threads=2"],
            "VP9" => ["vp9enc", "deadline=1", "cpu-used=8", "row-mt=true", "end-usage=cbr", $"target-bitrate={I(bitrate * 1000)}", $"keyframe-max-dist={gop}", "lag-in-frames=0", "threads=2"],
            _ => ["x264enc", "tune=zerolatency", "speed-preset=veryfast", "pass=qual", "quantizer=23", $"key-int-max={gop}", "subme=1", "threads=1", "!", "h264parse"],
        };
    }

    /// <summary>The recording's sound encoder, as gst-launch words, for <paramref name="channels"/> 1 or 2 at 48 kHz:
    /// Vorbis, MP3 (then <c>mpegaudioparse</c>) or AAC (then <c>aacparse</c>). The browser's capture and the native
    /// compositor encode alike.
    /// <para>AAC: VisualOn's encoder (<c>voaacenc</c>, gst-plugins-bad) at 320 kbps stereo, its highest, and 192
    /// kbps mono. RealtimeKit's H.264 recordings have 384 kbps stereo; FFmpeg's encoder (<c>avenc_aac</c>, fast
    /// coder, no mid/side), which gave that before, cost 0.040 core a recording over the chain without an encoder,
    /// VisualOn's 0.006 (gst-launch, live 48 kHz stereo tone, three interleaved runs, load under 0.1): at the native
    /// compositor's 0.25 core per 720p recording, a seventh of it. Measured on a 1 kHz tone with pink noise on the
    /// left and a 1.5 kHz tone on the right, encoded into Matroska by gst-launch and decoded by ffmpeg (signal to
    /// distortion, <c>asdr</c>, left and right): VisualOn at 320 kbps 61 and 84 dB, FFmpeg's at 384 kbps 76 and 138
    /// dB, both far past hearing for a meeting's Opus-coded voices; a tone in the left channel alone is silent on the
    /// right with both (<c>StereoEncoder_ALeftTone_StaysOnTheLeft</c>). VisualOn's priming is 1600 samples, not 1024
    /// (<c>MediaArgs.EncoderDelaySeconds</c>).</para></summary>
    public static IReadOnlyList<string> AudioEncoder(string codec, int channels) => codec switch
    {
        "VORBIS" => ["vorbisenc", $"bitrate={I(channels == 1 ? 96000 : 128000)}"],
        "MP3" => ["lamemp3enc", $"bitrate={I(channels == 1 ? 128 : 192)}", "target=bitrate", "cbr=true", "!", "mpegaudioparse"],
        _ => ["voaacenc", $"bitrate={I(channels == 1 ? 192000 : 320000)}", "!", "aacparse"],
    };

    /// <summary>A grabbed frame's line on the capture's stdout (the <c>grab</c> identity's last-message): its time on
    /// the pipeline's running clock, in seconds.</summary>
    public static bool GrabLine(string line, out double seconds)
    {
        seconds = 0;
        if (line is null || !line.Contains("GstIdentity:grab: last-message = chain", StringComparison.Ordinal))
        {
            return false;
        }
        var p = line.IndexOf(" pts: ", StringComparison.Ordinal);
        if (p < 0)
        {
            return false;
        }
        var end = line.IndexOf(',', p);
        var text = (end < 0 ? line[(p + 6)..] : line[(p + 6)..end]).Trim();
        // h:mm:ss.nnnnnnnnn
        var parts = text.Split(':');
        if (parts.Length != 3
            || !int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var h)
            || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var m)
            || !double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var sec))
        {
            return false;
        }
        seconds = (h * 3600) + (m * 60) + sec;
        return true;
    }

    /// <summary>The grab line gst-launch prints for a frame stamped <paramref name="ptsNs"/> (ns), as the hosts that
    /// run a pipeline in-process (the server's <c>CaptureHost</c>, <see cref="Compositor.CompositorHost"/>)
    /// print it too: one parser (<see cref="GrabLine"/>) for all of them.</summary>
    public static string FormatGrabLine(long ptsNs)
    {
        var s = ptsNs / 1_000_000_000;
        return string.Create(CultureInfo.InvariantCulture,
            $"/GstPipeline:pipeline0/GstIdentity:grab: last-message = chain   ******* (grab:sink) (0 bytes, dts: none, pts: {s / 3600}:{s / 60 % 60:D2}:{s % 60:D2}.{ptsNs % 1_000_000_000:D9}, flags: 00000000 ) 0x0");
    }

    /// <summary>The line an in-process host prints before a frame's grab line: the wall-clock instant (UTC ticks)
    /// it saw the frame stamped <paramref name="ptsNs"/> at.</summary>
    public static string FormatGrabbedAt(DateTime utc, long ptsNs) =>
        string.Create(CultureInfo.InvariantCulture, $"grabbed-at {utc.Ticks} {ptsNs}");

    public static bool GrabbedAtLine(string line, out DateTime utc, out double seconds)
    {
        (utc, seconds) = (default, 0);
        if (line is null || !line.StartsWith("grabbed-at ", StringComparison.Ordinal) || line.Split(' ') is not [_, var t, var p]
            || !long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) || !long.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pts))
        {
            return false;
        }
        (utc, seconds) = (new DateTime(ticks, DateTimeKind.Utc), pts / 1e9);
        return true;
    }

    /// <summary>A line of a capture's stdout that need not go to its log (one per grabbed frame).</summary>
    public static bool IsGrabLine(string line) => line is not null && (line.Contains("GstIdentity:grab: last-message", StringComparison.Ordinal) || line.StartsWith("grabbed-at ", StringComparison.Ordinal));

    // gst-launch parses its arguments again, as gst_parse_launch parses a description (the native compositor's,
    // CompositorPipeline.Describe): a value with spaces or quotes is quoted.
    public static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
