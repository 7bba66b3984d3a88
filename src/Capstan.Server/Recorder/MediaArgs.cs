using System.Globalization;
using Capstan.Gst.Compositor;
using Capstan.Server.Domain;
using static Capstan.Gst.GstArgs;

namespace Capstan.Server.Recorder;

/// <summary>What one capture segment records. With <paramref name="RtmpPort"/>, the encoded streams also go out as
/// MPEG-TS on that local UDP port, for the RTMP pusher (<see cref="MediaArgs.RtmpPush"/>).</summary>
public sealed record CaptureSpec(
    int Display, string Sink, int Width, int Height, int FrameRate, string VideoCodec, string AudioCodec, int Channels,
    string Output, string? WatermarkFile, string? WatermarkPosition, int WatermarkWidth, int WatermarkHeight, int? RtmpPort);

/// <summary>Argument lists of the media processes. Pure: no process is started here.</summary>
public static class MediaArgs
{
    private static string I(double v) => v.ToString(CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>-terminate</c>: the display exits when its last client (the browser) goes, so a surface whose
    /// owner died without stopping it does not outlive its browser. No GLX: the browser draws without a GPU
    /// (<c>--disable-gpu</c>) and the grabber reads the framebuffer, while GLX loads Mesa's llvmpipe into the server:
    /// measured, 71.5 MiB PSS for a lone 1920x1080 Xvfb with it, 17.3 MiB without.</summary>
    public static IReadOnlyList<string> Xvfb(int width, int height) =>
        ["-displayfd", "1", "-screen", "0", $"{I(width)}x{I(height)}x24", "-nolisten", "tcp", "-ac", "-nocursor", "-terminate", "-extension", "GLX"];

    /// <summary>The page a warm browser opens with. It must be a real page for <c>--app</c>: with <c>about:blank</c>
    /// Chromium opens a normal window, whose tab strip and address bar (with the recorder's token) would be filmed.
    /// Black, and no <c>#</c> in it: a <c>#</c> starts the URL's fragment, and the page it cut off there
    /// (<c>background:#000</c>) was white, filmed in the first frames of a recording whose page was not drawn yet.</summary>
    public const string BlankApp = "data:text/html,<html><body style='margin:0;background:black'></body></html>";

    /// <param name="proxyServer">The recorder's filtering proxy (<see cref="OutboundProxy"/>): every request of the
    /// browser goes through it, loopback included (<c>&lt;-loopback&gt;</c> removes Chromium's implicit bypass).</param>
    /// <param name="sandbox">Chromium's own sandbox (namespaces and seccomp-bpf for its renderers and utilities): on
    /// when the browser runs as an unprivileged user (<see cref="RecorderUser"/>); Chromium refuses it as root, where
    /// <c>--no-sandbox</c> is the only way it starts.</param>
    /// <remarks>Memory (issue 11: at most 300 MiB for everything one 720p30 recording starts): no GPU process
    /// (<c>--in-process-gpu</c>; it draws in software anyway), the network service in the browser process, no spare
    /// renderer, no crash handler, and no zygote where there is no sandbox for it to serve: 11 processes down to 7,
    /// measured with bench/recorder (720p30 session PSS 364 MiB before these and the Xvfb change, 306 after).
    /// The browser's own frame is dark (<c>--force-dark-mode</c>) while pages keep their light colour scheme
    /// (<c>--blink-settings=preferredColorScheme=1</c>, as without it): between the blank page and the recording's
    /// page the window showed one white frame, which a capture started with the page (the warm host's first frame
    /// comes 50-70 ms after its launch) filmed; measured in the sync tests' files, a flash with no tone at 0.07 to
    /// 0.2 s in most of them, in none of 4 with it.</remarks>
    public static IReadOnlyList<string> Chromium(string userDataDir, int width, int height, string url, string? proxyServer = null, bool sandbox = true) =>
    [
        .. proxyServer is null ? Array.Empty<string>() : [$"--proxy-server={proxyServer}", "--proxy-bypass-list=<-loopback>"],
        .. sandbox ? Array.Empty<string>() : ["--no-sandbox", "--no-zygote"],
        "--in-process-gpu", "--disable-breakpad", "--force-dark-mode", "--blink-settings=preferredColorScheme=1", "--enable-features=NetworkServiceInProcess2",
        "--test-type", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--password-store=basic",
        "--disable-features=Translate,MediaRouter,WebRtcHideLocalIpsWithMdns,SpareRendererForSitePerProcess", "--disable-notifications", "--hide-scrollbars",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
        "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={userDataDir}",
        "--window-position=0,0", $"--window-size={I(width)},{I(height)}", $"--app={url}",
    ];

    /// <summary>One capture segment, a GStreamer pipeline (<c>gst-launch-1.0 -e</c>; SIGINT ends it cleanly): the display
    /// (<c>ximagesrc</c>) and the sink's monitor (<c>pulsesrc</c>), encoded as the recording asks, into Matroska written
    /// as it goes (a killed pipeline leaves a readable file).
    /// <para>One clock: both sources are stamped on the pipeline's clock (the audio clock PulseAudio gives), the
    /// picture with the running time at which each frame is grabbed and the sound with the running time of its
    /// samples less the source's latency, so a segment's time t is one instant for both. (ffmpeg's x11grab and pulse
    /// inputs did not manage this: each input opened on its own clock, and the pulse input's start-up latency
    /// estimate put the sound 0.1 to 0.8 s early.) What is left between them (half a frame, the encoder's priming,
    /// an operator's calibration) is put right where the segments are joined (<see cref="SoundShiftSeconds"/>):
    /// GStreamer's <c>identity ts-offset</c>, used here before, only moves <c>sync=true</c> waits, not the stamps.</para>
    /// <para>Every frame, bounded memory: a leaky queue of <see cref="VideoQueueFrames"/> raw frames between the
    /// grabber and the encoder (an encoder that falls behind drops grabs instead of queueing raw frames without
    /// bound), holding them converted to I420 (1.4 MB at 720p, where a grabbed BGRx frame is 3.7 MB in a shared-memory
    /// segment that Xvfb maps too): the grabs wait only in a queue of 3 before the conversion, which runs off the
    /// grabber's thread. Measured with bench/recorder --quick, 720p30 session PSS 306 to 289 MiB (1080p30 460 to
    /// 399), grabbed 100%; the conversion in the grabber's thread instead had cost 12% of the grabs under load.
    /// Then <c>videorate</c> to a constant frame rate (a frame the grabber missed repeats the one before).
    /// Each grabbed frame passes an <c>identity</c> named <c>grab</c> whose line on stdout (<see cref="GrabLine"/>)
    /// gives its time: the first frame is the recording's start, the last where the segment ended, and their count
    /// against the span says how many frames were missed.</para></summary>
    public static IReadOnlyList<string> Capture(CaptureSpec s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var a = new List<string> { "-e", "-v" };
        var fps = I(s.FrameRate);
        a.AddRange([
            "ximagesrc", $"display-name=:{I(s.Display)}", "use-damage=false", "show-pointer=false", "startx=0", "starty=0",
            $"endx={I(s.Width - 1)}", $"endy={I(s.Height - 1)}", "!", $"video/x-raw,framerate={fps}/1", "!",
            "identity", "name=grab", "silent=false", "!",
            "queue", "max-size-buffers=3", "max-size-bytes=0", "max-size-time=0", "leaky=downstream", "!",
            "videoconvert", "!", "video/x-raw,format=I420", "!",
            "queue", $"max-size-buffers={I(VideoQueueFrames)}", "max-size-bytes=0", "max-size-time=0", "leaky=downstream", "!",
            "videorate", "!", $"video/x-raw,format=I420,framerate={fps}/1", "!",
        ]);
        a.AddRange(Watermark(s.WatermarkFile, s.WatermarkPosition, s.WatermarkWidth, s.WatermarkHeight, s.Width, s.Height));
        a.AddRange(VideoEncoder(s.VideoCodec, s.Width, s.Height, s.FrameRate));
        if (s.RtmpPort is not null)
        {
            // Matroska takes H.264 as AVC, MPEG-TS as a byte stream: each branch gets its own form. The stream repeats
            // its SPS/PPS before every keyframe: a pusher that starts (or restarts) after the capture's first packets
            // can still decode from the next keyframe (without it, one that missed the first packets never could).
            a.AddRange(["!", "tee", "name=v", "!", "queue", "!", "mux.", "v.", "!", "queue", "leaky=downstream", "max-size-time=2000000000", "!",
                "h264parse", "config-interval=-1", "!", "video/x-h264,stream-format=byte-stream", "!", "ts."]);
        }
        else
        {
            a.AddRange(["!", "queue", "!", "mux."]);
        }
        a.AddRange(["pulsesrc", $"device={Quote(s.Sink + ".monitor")}", "!", "audio/x-raw,rate=48000,channels=2", "!", "queue", "!",
            "audioconvert", "!", $"audio/x-raw,channels={I(s.Channels)}", "!"]);
        a.AddRange(AudioEncoder(s.AudioCodec, s.Channels));
        if (s.RtmpPort is { } port)
        {
            var tsAudio = s.AudioCodec == "MP3" ? new[] { "mpegaudioparse" } : ["aacparse", "!", "audio/mpeg,stream-format=adts"];
            a.AddRange(["!", "tee", "name=au", "!", "queue", "!", "mux.", "au.", "!", "queue", "leaky=downstream", "max-size-time=2000000000", "!", .. tsAudio, "!", "ts.",
                "mpegtsmux", "name=ts", "!", "udpsink", "host=127.0.0.1", $"port={I(port)}", "sync=false", "async=false"]);
        }
        else
        {
            a.AddRange(["!", "queue", "!", "mux."]);
        }
        // Written as it comes (no 64 KB write buffer): a killed capture loses only what the muxer held.
        a.AddRange(["matroskamux", "name=mux", "!", "filesink", "buffer-mode=unbuffered", $"location={Quote(s.Output)}"]);
        return a;
    }

    /// <summary>The RTMP pusher beside a capture: reads the capture's MPEG-TS from its local UDP port and sends it
    /// to <paramref name="rtmpUrl"/> as FLV without re-encoding. A separate process, so that an RTMP target that is
    /// down or refuses never disturbs the recording (the recorder starts it again while the recording runs).
    /// <para>It reads the stream for up to a keyframe interval and a second more before it writes: the picture's sizes
    /// come only with a keyframe's SPS and PPS (<see cref="KeyframeIntervalSeconds"/>). With 1 s, a pusher started
    /// more than 1 s before the next keyframe exited ("Could not find codec parameters … unspecified size") and,
    /// started again 2 s later, met the same phase of the 2 s keyframe interval: 8 pushers in a row failed so in one
    /// media test run, and the live stream never came. It writes as soon as both streams are known, so this only
    /// bounds the wait.</para></summary>
    public static IReadOnlyList<string> RtmpPush(int port, string rtmpUrl) =>
    [
        "-hide_banner", "-loglevel", "warning", "-nostdin", "-fflags", "+genpts", "-probesize", "10000000",
        "-analyzeduration", I((KeyframeIntervalSeconds + 1) * 1_000_000),
        "-f", "mpegts", "-i", $"udp://127.0.0.1:{I(port)}?fifo_size=100000&overrun_nonfatal=1&timeout=5000000",
        "-c", "copy", "-f", "flv", rtmpUrl,
    ];

    /// <summary>Raw frames the video branch may queue while the encoder catches up (about half a second at 30 fps:
    /// 22 MB at 720p in I420, as they are held, where 16 grabbed BGRx frames would be 59 MB); past that the oldest grab is dropped and
    /// <c>videorate</c> repeats the frame before it.</summary>
    public const int VideoQueueFrames = 16;

    /// <summary>How much silence the capture's sound encoder puts before the first real sample, at the capture's
    /// 48 kHz: AAC (<c>voaacenc</c>, VisualOn's encoder) 1600 samples, MP3 (<c>lamemp3enc</c>) 1105, Vorbis none.
    /// Matroska segments carry it as sound: without the shift in <see cref="Join"/> every AAC file's sound came 33 ms
    /// (MP3 23 ms) after its picture (measured: a tone at 0.500 s, encoded by the capture's chain into Matroska and
    /// decoded, was heard at 0.533 s with AAC, 0.523 s with MP3 and 0.500 s with Vorbis; FFmpeg's AAC encoder, used
    /// before, 0.521 s: 1024 samples).</summary>
    public static double EncoderDelaySeconds(string audioCodec) => audioCodec switch
    {
        "AAC" => 1600 / 48000.0,
        "MP3" => 1105 / 48000.0,
        _ => 0,
    };

    /// <summary>Where the capture's sound is moved when the segments are joined (seconds, positive later), so that
    /// it meets its picture:
    /// <list type="bullet">
    /// <item>less the encoder's priming (<see cref="EncoderDelaySeconds"/>);</item>
    /// <item>the browser's capture (<paramref name="grabbed"/>): a grabbed frame is stamped when it is grabbed, the
    /// end of the frame interval whose content it shows, and the sound when it is captured: half a frame later
    /// centres that interval on the sound;</item>
    /// <item>the built-in view in the browser (<paramref name="meetingView"/>): its Chromium lines up each
    /// participant's sound with the picture by Janus's sender reports, which follow arrival, so it plays the sound
    /// <see cref="CompositorPipeline.ArrivalSoundLagSeconds"/> late (the native compositor moves its pictures by as much instead,
    /// <see cref="CompositorPipeline.VideoStampOffsetNs"/>);</item>
    /// <item>plus <paramref name="calibration"/>, an operator's (<see cref="RecorderOptions.AudioOffsetSeconds"/>).</item>
    /// </list>
    /// Measured against the sources' own capture times (media tests, flash+beep), before: custom url pages -15 and
    /// -19 ms (H264/AAC, VP9/Vorbis), a meeting through the browser +32 to +56 ms.</summary>
    public static double SoundShiftSeconds(string audioCodec, int frameRate, bool grabbed, bool meetingView, double calibration) =>
        -EncoderDelaySeconds(audioCodec) + (grabbed ? 0.5 / frameRate : 0) - (grabbed && meetingView ? CompositorPipeline.ArrivalSoundLagSeconds : 0) + calibration;

    /// <summary>Joins segments without re-encoding (the concat demuxer) into the delivered container. The sound is
    /// moved by <paramref name="soundShiftSeconds"/> (<see cref="SoundShiftSeconds"/>) by reading it a second time
    /// from the same list, that much later or earlier: MP4 keeps an earlier start as an edit list (players honour it;
    /// the audio still starts at 0), WebM starts the picture that much later.</summary>
    public static IReadOnlyList<string> Join(string listFile, string output, string extension, double soundShiftSeconds)
    {
        var a = new List<string> { "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", listFile };
        if (Math.Abs(soundShiftSeconds) >= 0.0005)
        {
            a.AddRange(["-itsoffset", soundShiftSeconds.ToString("0.000000", CultureInfo.InvariantCulture), "-f", "concat", "-safe", "0", "-i", listFile, "-map", "0:v?", "-map", "1:a?"]);
        }
        a.AddRange(extension == "mp4" ? ["-c", "copy", "-movflags", "+faststart", output] : ["-c", "copy", "-f", "webm", output]);
        return a;
    }

    /// <summary>The audio track alone, copied (AAC to .m4a, MP3 to .mp3, Vorbis to .ogg).</summary>
    public static IReadOnlyList<string> ExtractAudio(string input, string output) =>
        output.EndsWith(".m4a", StringComparison.Ordinal)
            ? ["-hide_banner", "-loglevel", "error", "-y", "-i", input, "-vn", "-c:a", "copy", "-movflags", "+faststart", output]
            : ["-hide_banner", "-loglevel", "error", "-y", "-i", input, "-vn", "-c:a", "copy", output];

    /// <summary>Channels of the recording: mono or stereo.</summary>
    public static int Channels(EffectiveRecordingConfig c) => c?.AudioChannel == "mono" ? 1 : 2;

}
