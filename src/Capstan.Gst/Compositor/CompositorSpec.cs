using System.Globalization;
using System.Text.Json.Serialization;

namespace Capstan.Gst.Compositor;

/// <summary>What one native composite pipeline records: the picture's size and rate, the recording's codecs, the
/// file, and the latency every input's jitter buffer holds (the mixers wait that long plus a decode margin). With
/// <see cref="RtmpPort"/> the encoded streams also go out as MPEG-TS on that local UDP port, for the RTMP pusher
/// (the server's <c>MediaArgs.RtmpPush</c>), as the browser path's capture does.</summary>
public sealed record CompositorSpec(
    int Width, int Height, int FrameRate, string VideoCodec, string AudioCodec, int Channels, string Output,
    int JitterMs = 200, int MarginMs = 300, string? WatermarkFile = null, string? WatermarkPosition = null, int WatermarkWidth = 120, int WatermarkHeight = 60,
    int? RtmpPort = null);

/// <summary>A <see cref="CompositorSpec"/> as JSON, as the server writes it into the host's command line and the host
/// reads it: generated at build time, for the host is compiled ahead of time.</summary>
[JsonSerializable(typeof(CompositorSpec))]
public sealed partial class CompositorSpecJson : JsonSerializerContext;

/// <summary>A tile of the layout, in pixels.</summary>
public readonly record struct Tile(int X, int Y, int Width, int Height);

/// <summary>The pipeline descriptions of the native compositor. Pure: nothing is started here.
/// <para>Fixed part: a small live black <c>videotestsrc</c> under a <c>compositor</c> painting a black background, and
/// a live silent <c>audiotestsrc</c> under an <c>audiomixer</c> (the mixers run with no participant at all), both with an explicit latency so that
/// inputs added later are not late, then the encoders of the browser path's capture
/// (<see cref="GstArgs.VideoEncoder"/>, <see cref="GstArgs.AudioEncoder"/>) into Matroska written as it goes. Every
/// composited frame passes an <c>identity</c> named <c>grab</c>, whose buffers the host reports in the capture's
/// grab-line form, so a segment is followed exactly like the browser path's. The queue in front of the encoder,
/// <c>toencoder</c>, drops the oldest pictures when the encoder falls behind by more than it holds
/// (<see cref="EncoderQueueBytes"/>; the host counts them). The mixed sound passes an
/// <c>audioconvert</c> named <c>mixed</c>: the host ends a recording by sending end-of-stream into <c>grab</c> and
/// <c>mixed</c>, behind the mixers (<see cref="CompositorHost"/>), not into the sources.</para>
/// <para>One bin per forwarded stream: <c>udpsrc</c> on a free port with the RTP caps of the forward, a jitter
/// buffer, the depayloader and decoder of the stream's codec; video gets the participant's name drawn at the bottom
/// left.</para></summary>
public static class CompositorPipeline
{
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>The payload types the forwarders are asked to write (Janus rewrites them), matching the caps.</summary>
    public const int VideoPt = 96;

    public const int AudioPt = 111;

    /// <summary>How late a sound packet is stamped when it is stamped on arrival (Janus sends forwarders no sender
    /// reports, and its sender reports to subscribers follow arrival too): a sound packet leaves the sender only once
    /// its 20 ms of samples are all captured (Opus frames of 20 ms, WebRTC's packet time), and Opus decodes 312
    /// samples (6.5 ms) late; a picture leaves as soon as it is encoded.</summary>
    public const double ArrivalSoundLagSeconds = 0.020 + (312 / 48000.0);

    /// <summary>The outline drawn on the active speaker's tile, here and in the participants' view and the recorder
    /// view (meeting.css, <c>.tile.speaking</c>; the server's <c>ActiveSpeaker</c>): a bright yellow, far from the fake
    /// cameras' greens, the share tests' pure green and red, and the page's blues and greys.</summary>
    public const string OutlineColour = "#ffcc00";

    /// <summary>The outline's width in pixels, drawn inside the tile's edge (it never covers a neighbour).</summary>
    public const int OutlineWidth = 4;

    /// <summary>The rate of the still pictures (a camera-off tile, the outline's bars): the mixer holds each picture
    /// for its duration, and a live source's latency is one picture, which must stay within the mixers'.</summary>
    public const int StillFrameRate = 5;

    /// <summary>The length of the sound mixer's buffers, 20 ms: an Opus packet's (WebRTC's packet time) and the silent
    /// source's. The mixer's default is 10 ms, which woke it, the sound encoder and the muxer twice as often for
    /// nothing.</summary>
    public const long SoundBufferNs = 20_000_000;

    /// <summary>The side of the black source that clocks the picture (<see cref="Describe"/>).</summary>
    public const int BackgroundSide = 16;

    public static string Describe(CompositorSpec s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var latencyNs = I((long)(s.JitterMs + s.MarginMs) * 1_000_000);
        var raw = $"video/x-raw,format=I420,width={I(s.Width)},height={I(s.Height)},framerate={I(s.FrameRate)}/1";
        // The mixer's output keeps one colorimetry and chroma siting whatever its inputs bring: it otherwise takes on
        // the first participant's, a caps change the VP8 and VP9 encoders pass on and matroskamux refuses ("Caps
        // changes are not supported by Matroska"), which ended every WebM segment at the first participant's first
        // frame. That colorimetry is BT.601 at every size, the participants' own (Chromium's VP8 decodes as 2:4:0:0,
        // BT.601's matrix and range), declared on the black background too: a tile in another matrix than the
        // output's is converted, not only scaled, on every frame (GStreamer's default for 720p and up is BT.709).
        // Measured with gst-launch, the mixer and its three sources alone, two 640x360 tiles into 720p30: 0.19 core
        // with the tiles converted to BT.709, 0.12 with them only scaled.
        var mixed = $"{raw},colorimetry={MixerColorimetry},chroma-site={MixerChromaSite}";
        var video = string.Join(' ', GstArgs.VideoEncoder(s.VideoCodec, s.Width, s.Height, s.FrameRate));
        var audio = string.Join(' ', GstArgs.AudioEncoder(s.AudioCodec, s.Channels));
        var watermark = string.Concat(GstArgs.Watermark(s.WatermarkFile, s.WatermarkPosition, s.WatermarkWidth, s.WatermarkHeight, s.Width, s.Height).Select(w => w + " "));
        // RTMP out (H.264 only, as the API allows it): each encoded stream is teed into the file and into an MPEG-TS
        // for the pusher, in the forms the browser path's capture uses (a byte stream repeating SPS/PPS before every
        // keyframe, ADTS or MPEG audio); the TS branch's queues leak rather than hold the file back.
        var (videoOut, audioOut, ts) = s.RtmpPort is { } port
            ? ("tee name=v ! queue ! mux. v. ! queue leaky=downstream max-size-time=2000000000 ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream ! ts. ",
                "tee name=au ! queue ! mux. au. ! queue leaky=downstream max-size-time=2000000000 ! "
                + (s.AudioCodec == "MP3" ? "mpegaudioparse" : "aacparse ! audio/mpeg,stream-format=adts") + " ! ts. ",
                $"mpegtsmux name=ts ! udpsink host=127.0.0.1 port={I(port)} sync=false async=false ")
            : ("queue ! mux. ", "queue ! mux. ", string.Empty);
        // The picture's clock: a live black source, so that the mixer makes frames with no participant at all. It is
        // 16x16 and the mixer paints the black background itself: the mixer holds every input for its latency (0.5 s),
        // and a source of the output's size held about 33 frames at once, 44 MiB at 720p (measured: the buffer pool
        // of a 720p black source had allocated 33 buffers after a few seconds). It sits under every tile (sink_0).
        // Both mixers leave a pad that has had no data yet out of their wait (ignore-inactive-pads): a camera-off
        // tile's first picture; the inputs are linked only once their first buffer is there (CompositorHost.Input).
        var clock = $"video/x-raw,format=I420,width={I(BackgroundSide)},height={I(BackgroundSide)},framerate={I(s.FrameRate)}/1,colorimetry={MixerColorimetry},chroma-site={MixerChromaSite}";
        return
            $"videotestsrc is-live=true pattern=black ! {clock} ! comp.sink_0 "
            + $"compositor name=comp background=black latency={latencyNs} min-upstream-latency={latencyNs} ignore-inactive-pads=true ! {mixed} ! identity name=grab ! "
            + $"queue name=toencoder max-size-buffers=0 max-size-bytes={I(EncoderQueueBytes(s.Width, s.Height))} max-size-time=0 leaky=downstream ! {watermark}{video} ! {videoOut}"
            + $"audiotestsrc is-live=true wave=silence samplesperbuffer={I(48_000 * SoundBufferNs / 1_000_000_000)} ! audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved ! mix. "
            + $"audiomixer name=mix latency={latencyNs} min-upstream-latency={latencyNs} ignore-inactive-pads=true output-buffer-duration={I(SoundBufferNs)} ! audio/x-raw,rate=48000,channels=2 ! audioconvert name=mixed ! audio/x-raw,channels={I(s.Channels)} ! {audio} ! {audioOut}"
            + ts
            + $"matroskamux name=mux ! filesink buffer-mode=unbuffered location={GstArgs.Quote(s.Output)}";
    }

    /// <summary>What the queue in front of the picture's encoder holds before it drops the oldest picture: 48 MiB, and
    /// 16 pictures at least (36 pictures of 720p, 1.2 s at 30 fps; 16 of 1080p, 0.5 s). The encoder falls behind when
    /// the machine is saturated, most of all while several recordings start at once. Measured with the benchmark's
    /// five native 720p30 recordings of one meeting started at once (bench/recorder, the host's <c>pictures:</c>
    /// line): with 16 pictures four of five dropped 8 to 26 pictures, all within 1 to 3.7 s of their start. The bound
    /// is in bytes so that a backlog keeps a recording's memory within the 150 MiB of issue 13: a 4-participant 720p
    /// host holds 87-98 MiB (the benchmark's peaks), a 1080p one 103-105 MiB, and
    /// 48 MiB are its 16 pictures as before.</summary>
    public static long EncoderQueueBytes(int width, int height) => Math.Max(48L << 20, 16L * width * height * 3 / 2);

    /// <summary>How much later than its arrival a picture is stamped, so that it meets the sound captured with it.
    /// Janus sends forwarders no sender reports, so both are stamped on arrival (the jitter buffers' times), and
    /// a sound packet is <see cref="ArrivalSoundLagSeconds"/> late for its first sample; the
    /// compositor then shows each picture from its stamp until the next one, on average half a frame after it
    /// arrived. Measured before this (flash+beep participant, against the source's own capture times): the sound +42
    /// ms after the picture, steady (the AAC priming already taken out); the parts add up to 43 ms at 30 fps.</summary>
    public static long VideoStampOffsetNs(int frameRate) => (long)Math.Round((ArrivalSoundLagSeconds + (0.5 / frameRate)) * 1e9);

    /// <summary>The bin of one forwarded stream (<paramref name="kind"/> <c>video</c> or <c>audio</c>, codec as Janus
    /// names it: vp8, h264, opus). Its <c>udpsrc</c> is named <c>rtp</c>, the name overlay <c>label</c>, the last
    /// element <c>out</c> (whose src pad the host ghosts: the overlay's text pad must stay unlinked). A picture's
    /// stamps are moved by <see cref="VideoStampOffsetNs"/> for the recording's <paramref name="frameRate"/>.
    /// <para>Two threads a stream: the <c>udpsrc</c>'s, and the jitter buffer's, which depayloads, decodes (on that
    /// thread: <c>threads=1</c>, <c>max-threads=1</c>, a participant's picture is small and a decoder's own threads
    /// only hand each frame over and back) and hands the result to the mixer's pad. <c>out</c> is an <c>identity</c>, not a queue: the
    /// mixer's pad holds up to the mixer's latency of data itself, so a queue there only added a thread a stream and
    /// two wake-ups a buffer (measured on the host with 4 participants at 720p30: 3,700 context switches a second
    /// with the queues and the decoders' threads, 2,900 without).</para>
    /// <para>VP8, the codec of nearly every publisher, is decoded by libvpx (<c>vp8dec</c>, gst-plugins-good), not by
    /// FFmpeg (<c>avdec_vp8</c>): the libav plugin is linked against all of FFmpeg and its dependencies (about a
    /// hundred libraries), and loading it at a recording's first participant took 0.10 CPU-seconds and 37 MiB of
    /// resident memory a host. Measured with the host fed by RTP senders (VP8 640x360 and Opus for each participant):
    /// four <c>add</c>s 0.20 CPU-seconds before, 0.09 after; at 720p30 with 4 participants RSS 125-129 MiB before,
    /// 89-90 after; decoding itself the same within a few thousandths of a core (60 s of one participant's stream
    /// decoded as fast as it goes: 0.30 CPU-seconds by FFmpeg, its loading left out, 0.25-0.28 by libvpx). It also makes a
    /// start cheaper when several recordings start at once: five hosts started together beside a busy loop, 2
    /// participants each, lost 0.1-0.5 s of pictures before their encoders in their first 2.5 s in 10 of 10 files
    /// (two rounds) with FFmpeg's decoder, in 4 of 5 with libvpx's, and in none of 10 with libvpx's and the encoder of
    /// <see cref="GstArgs.VideoEncoder"/> (its <c>subme=1</c>). The decoder tolerates a corrupt frame (its
    /// <c>max-errors</c> is -1, GStreamer's default for it) as FFmpeg's did. H.264 and VP9 publishers still load
    /// FFmpeg's decoders, only in the hosts that have one.</para></summary>
    public static string InputBin(string kind, string codec, int jitterMs, int frameRate)
    {
        var jitter = $"rtpjitterbuffer latency={I(jitterMs)} drop-on-latency=true";
        const string udp = "udpsrc name=rtp port=0 buffer-size=4194304 retrieve-sender-address=false";
        if (kind == "audio")
        {
            return $"{udp} caps=\"application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={I(AudioPt)}\" ! {jitter} ! rtpopusdepay ! opusdec plc=true ! "
                + "audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved ! identity name=out silent=true";
        }
        var (name, depay) = codec.ToLowerInvariant() switch
        {
            "h264" => ("H264", "rtph264depay request-keyframe=true wait-for-keyframe=true ! h264parse ! avdec_h264 max-threads=1"),
            "vp9" => ("VP9", "rtpvp9depay ! avdec_vp9 max-threads=1"),
            // VP8's pictures are BT.601 with limited range (the decoder says 2:4:0:0, the transfer and primaries
            // unknown) and centred chroma: labelled as the mixer's output is (bt601, jpeg), so that the mixer need not
            // convert them (Crop). Decoded by libvpx, not FFmpeg: see the summary.
            _ => ("VP8", $"rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec threads=1 ! capssetter caps=\"video/x-raw,colorimetry={MixerColorimetry},chroma-site={MixerChromaSite}\""),
        };
        return $"{udp} caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name={name},payload={I(VideoPt)}\" ! {jitter} ts-offset={I(VideoStampOffsetNs(frameRate))} ! {depay} ! videoconvert ! "
            + "videocrop name=crop ! textoverlay name=label valignment=bottom halignment=left font-desc=\"Sans 16\" shaded-background=true ! identity name=out silent=true";
    }

    /// <summary>The input kind of a participant whose camera is off (<c>add KEY cameraoff - NAME</c>): no stream, the
    /// neutral tile of <see cref="CameraOffBin"/> in the place the participant's video had (or will have).</summary>
    public const string CameraOffKind = "cameraoff";

    /// <summary>The camera-off tile's colour, the meeting page's <c>--off</c> (meeting.css), as ARGB.</summary>
    public const uint CameraOffColour = 0xff262626;

    /// <summary>The tile of a participant who turned the camera off (Janus lists its video stream as disabled; see
    /// the server's <c>NativeComposite</c>): a live solid <see cref="CameraOffColour"/> picture the size of a
    /// participant's camera (640x360, so the name is drawn as on the other tiles), the initial centred (element
    /// <c>initial</c>) and the name at the bottom left (<c>label</c>), as the recorder view's <c>cameraoff</c> tile
    /// shows them. Five pictures a second are enough for a still picture (the mixer holds each for its duration)
    /// and cost little. Its last element is <c>out</c>, as in <see cref="InputBin"/>.</summary>
    public static string CameraOffBin()
    {
        const uint initialColour = 0xff9aa0a6; // the page's --muted, the avatar letter's colour
        return $"videotestsrc is-live=true pattern=solid-color foreground-color={CameraOffColour.ToString(CultureInfo.InvariantCulture)} ! "
            + $"video/x-raw,format=I420,width=640,height=360,framerate={I(StillFrameRate)}/1 ! "
            + $"textoverlay name=initial valignment=center halignment=center font-desc=\"Sans 40\" color={initialColour.ToString(CultureInfo.InvariantCulture)} ! "
            + "textoverlay name=label valignment=bottom halignment=left font-desc=\"Sans 16\" shaded-background=true ! identity name=out silent=true";
    }

    /// <summary>The input kind of a shared screen's picture (<c>add KEY screen CODEC NAME</c>): a video input laid
    /// out by <see cref="ShareLayout"/>.</summary>
    public const string ScreenKind = "screen";

    // The recorder view's spacing (meeting.js, body.recorder): tiles 4 px apart and 4 px from the edges.
    private const int gap = 4, pad = 4;

    /// <summary>Of the frame's width, what shared screens take when anyone else is in the picture (the recorder
    /// view's <c>SHARE_WIDTH</c> in meeting.js).</summary>
    public const double ShareWidth = 0.8;

    /// <summary>The layout of the recorder view (meeting.js, <c>layout()</c>) while screens are shared: the
    /// <paramref name="shares"/> first, stacked in the left <see cref="ShareWidth"/> of the frame (all of it when
    /// nobody else is there; each shown whole, letterboxed by the mixer's keep-aspect-ratio), then the
    /// <paramref name="others"/> as 16:9 thumbnails in a column beside them, centred; 4 px apart and from the
    /// edges.</summary>
    public static IReadOnlyList<Tile> ShareLayout(int shares, int others, int width, int height)
    {
        if (shares <= 0)
        {
            return Layout(others, width, height);
        }
        double W = width - (2 * pad), H = height - (2 * pad);
        var mainW = others > 0 ? Math.Floor(W * ShareWidth) : W;
        var shareH = (H - (gap * (shares - 1))) / shares;
        var tiles = new List<Tile>(shares + others);
        for (var i = 0; i < shares; i++)
        {
            tiles.Add(new Tile(pad, pad + (int)(i * (shareH + gap)), (int)mainW, (int)Math.Floor(shareH)));
        }
        if (others > 0)
        {
            var colW = W - mainW - gap;
            var th = Math.Min(colW * 9 / 16, (H - (gap * (others - 1))) / others);
            var tw = th * 16 / 9;
            var y = pad + ((H - ((others * th) + (gap * (others - 1)))) / 2);
            for (var i = 0; i < others; i++)
            {
                tiles.Add(new Tile(pad + (int)(mainW + gap + ((colW - tw) / 2)), (int)y, (int)Math.Floor(tw), (int)Math.Floor(th)));
                y += th + gap;
            }
        }
        return tiles;
    }

    /// <summary>How far from its own size (a fraction) a picture may be scaled to fit its tile and still be scaled by
    /// the nearest pixel (<see cref="ConverterConfig"/>).</summary>
    public const double NearScale = 0.02;

    /// <summary>The edges <c>videocrop</c> takes off a <paramref name="sourceWidth"/> x <paramref name="sourceHeight"/>
    /// picture so that it is exactly the size of its <paramref name="tile"/>, when the picture is larger than the tile
    /// both ways and by at most <see cref="NearScale"/>: a participant's 640x360 camera in a tile of the 720p grid
    /// (634x356 for 2 participants, 629x354 for 3 or 4: the recorder view's gaps). Otherwise nothing (the mixer
    /// scales the picture, <see cref="ConverterConfig"/>). The left and top edges are even (I420's chroma is
    /// sampled in 2x2 blocks), the rest goes off the right and bottom.
    /// <para>Why: the mixer converts every frame of a picture whose size, colours or converter configuration are not
    /// its output's (<see cref="ConverterConfig"/>), even scaling by the nearest pixel, and at 4 participants that was
    /// a fifth of the host's CPU (thread times: 0.079 of 0.41 core in GLib's pool, where the mixer converts). A
    /// camera cropped to its tile, its colours labelled as the output's (<see cref="InputBin"/>) and its pad without a
    /// configuration is only blended. Measured with the host fed by RTP senders (VP8 640x360 for each participant,
    /// 720p30, three interleaved runs each, load 0.5 to 1.9): 2 participants 0.31-0.37 core before, 0.23-0.26 after;
    /// 4 participants 0.33-0.37 before (one run 0.54), 0.29-0.33 after, with the pool's thread at 0.003 core.
    /// RSS 3 MiB more (the cropped frames). At most 11 columns and 6 rows of the camera's edges are left out, as many
    /// as the nearest-pixel scale left out, spread over the picture.</para></summary>
    public static (int Left, int Right, int Top, int Bottom) Crop(int sourceWidth, int sourceHeight, Tile tile)
    {
        if (sourceWidth < tile.Width || sourceHeight < tile.Height || tile.Width <= 0 || tile.Height <= 0
            || Math.Min((double)tile.Width / sourceWidth, (double)tile.Height / sourceHeight) < 1 - NearScale)
        {
            return default;
        }
        var (width, height) = (sourceWidth - tile.Width, sourceHeight - tile.Height);
        var (left, top) = (width / 2 & ~1, height / 2 & ~1);
        return (left, width - left, top, height - top);
    }

    /// <summary>The colours of the picture mixer's output (its clock's caps, <see cref="Describe"/>).</summary>
    public const string MixerColorimetry = "bt601";

    /// <summary>Where the chroma samples of the mixer's output sit (its clock's caps).</summary>
    public const string MixerChromaSite = "jpeg";

    /// <summary>The mixer pad's <c>converter-config</c> for a <paramref name="source"/> picture shown in a
    /// <paramref name="tile"/> (keeping its aspect ratio, as the pads' <c>sizing-policy</c> does); null for none.
    /// <para>A picture of the tile's own size gets none: with a configuration, even an empty one, the mixer converts
    /// every frame of the pad, also one that needs nothing (a participant's camera cropped to its tile,
    /// <see cref="Crop"/>). A picture scaled by at most <see cref="NearScale"/> either way is scaled by the nearest
    /// pixel: a 640x360 camera in a tile of the 720p grid that is not cropped (a codec whose colours are not relabelled,
    /// <see cref="InputBin"/>, is converted anyway). Nearest, one column in 100 and one row in 90 are left out,
    /// nothing is blurred. Every other picture gets none: the default (cubic) resampler.</para>
    /// <para>Why: the default resampler scales every input frame of every tile, and for a scale this close to 1 it
    /// is the costliest part of the mixer. Measured with <c>gst-launch</c> (the pipeline of <see cref="Describe"/>
    /// without the encoder, two 640x360 VP8 tiles into 720p30, three interleaved rounds, load 0.1 to 0.2): 0.16 to
    /// 0.19 core with the default, 0.13 to 0.17 linear, 0.11 to 0.12 nearest, 0.09 to 0.11 not scaled at
    /// all.</para></summary>
    public static string? ConverterConfig(int sourceWidth, int sourceHeight, Tile tile)
    {
        if (sourceWidth <= 0 || sourceHeight <= 0 || tile.Width <= 0 || tile.Height <= 0
            || (sourceWidth == tile.Width && sourceHeight == tile.Height))
        {
            return null;
        }
        var scale = Math.Min((double)tile.Width / sourceWidth, (double)tile.Height / sourceHeight);
        return Math.Abs(scale - 1) <= NearScale ? NearestConverter : null;
    }

    /// <summary>Scaling by the nearest pixel, luma and chroma.</summary>
    public const string NearestConverter = "config, GstVideoConverter.resampler-method=(GstVideoResamplerMethod)nearest, "
        + "GstVideoConverter.chroma-resampler-method=(GstVideoResamplerMethod)nearest";

    /// <summary>The bin of one bar of the active speaker's outline (the server's <c>ActiveSpeaker</c>): a small
    /// live picture of <see cref="OutlineColour"/> that the mixer stretches to the bar.
    /// Four of them, above every tile, ring the active speaker's tile inside its edge, as meeting.css does; with no
    /// active speaker they are transparent. Moving them is setting their mixer pads' properties while the pipeline
    /// runs.</summary>
    public static string OutlineBin()
    {
        // As wide and high as a bar is thin: the mixer only stretches it (scaled down to 4 px from a wider picture,
        // a bar came out in wrong colours: the converter's chroma at that size).
        var argb = "0xff" + OutlineColour.TrimStart('#');
        var side = I(OutlineWidth);
        return $"videotestsrc is-live=true pattern=solid-color foreground-color={argb} ! video/x-raw,width={side},height={side},framerate={I(StillFrameRate)}/1 ! identity name=out silent=true";
    }

    /// <summary>The four bars of the outline of <paramref name="tile"/> (top, bottom, left, right),
    /// <see cref="OutlineWidth"/> wide, inside the tile.</summary>
    public static IReadOnlyList<Tile> OutlineBars(Tile tile)
    {
        const int b = OutlineWidth;
        return
        [
            new Tile(tile.X, tile.Y, tile.Width, b),
            new Tile(tile.X, tile.Y + tile.Height - b, tile.Width, b),
            new Tile(tile.X, tile.Y, b, tile.Height),
            new Tile(tile.X + tile.Width - b, tile.Y, b, tile.Height),
        ];
    }

    /// <summary>The order tiles are laid out in: shared screens first, then the others as they came, except that
    /// the active speaker's (<paramref name="speaker"/>) goes first among them (the first thumbnail beside a share,
    /// as in meeting.js; without a share the grid keeps its order, so that tiles do not jump around as people
    /// talk).</summary>
    public static IReadOnlyList<string> Arrange(IReadOnlyList<(string Key, bool Screen)> video, string? speaker)
    {
        ArgumentNullException.ThrowIfNull(video);
        var order = video.Where(v => v.Screen).Select(v => v.Key).ToList();
        var others = video.Where(v => !v.Screen).Select(v => v.Key).ToList();
        if (order.Count > 0 && speaker is not null && others.Remove(speaker))
        {
            others.Insert(0, speaker);
        }
        order.AddRange(others);
        return order;
    }

    /// <summary>The layout of the recorder view (meeting.js): the largest 16:9 tiles that fit, 4 px apart and from
    /// the edges, rows centred.</summary>
    public static IReadOnlyList<Tile> Layout(int n, int width, int height)
    {
        if (n <= 0)
        {
            return [];
        }
        double W = width - (2 * pad), H = height - (2 * pad);
        var (cols, w) = (1, 0.0);
        for (var c = 1; c <= n; c++)
        {
            var r = (n + c - 1) / c;
            var cw = Math.Min((W - (gap * (c - 1))) / c, (H - (gap * (r - 1))) / r * 16 / 9);
            if (cw > w)
            {
                (cols, w) = (c, cw);
            }
        }
        var tw = (int)Math.Floor(w);
        var th = (int)Math.Floor(w * 9 / 16);
        var rows = (n + cols - 1) / cols;
        var y0 = pad + (int)((H - ((rows * th) + ((rows - 1) * gap))) / 2);
        var tiles = new List<Tile>(n);
        for (var i = 0; i < n; i++)
        {
            var row = i / cols;
            var inRow = Math.Min(cols, n - (row * cols));
            var x0 = pad + (int)((W - ((inRow * tw) + ((inRow - 1) * gap))) / 2);
            tiles.Add(new Tile(x0 + ((i % cols) * (tw + gap)), y0 + (row * (th + gap)), tw, th));
        }
        return tiles;
    }
}
