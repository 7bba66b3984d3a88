using System.Globalization;
using Capstan.Server.Domain;

namespace Capstan.Server.Recorder;

/// <summary>What one capture segment records.</summary>
public sealed record CaptureSpec(
    int Display, string Sink, int Width, int Height, int FrameRate, string VideoCodec, string AudioCodec, int Channels,
    double AudioOffsetSeconds, string Output, string? WatermarkFile, string? WatermarkPosition, int WatermarkWidth, int WatermarkHeight, string? RtmpUrl);

/// <summary>Argument lists of the media processes. Pure: no process is started here.</summary>
public static class MediaArgs
{
    private static string I(double v) => v.ToString(CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>-terminate</c>: the display exits when its last client (the browser) goes, so a surface whose
    /// owner died without stopping it does not outlive its browser.</summary>
    public static IReadOnlyList<string> Xvfb(int width, int height) =>
        ["-displayfd", "1", "-screen", "0", $"{I(width)}x{I(height)}x24", "-nolisten", "tcp", "-ac", "-nocursor", "-terminate"];

    /// <summary>The page a warm browser opens with. It must be a real page for <c>--app</c>: with <c>about:blank</c>
    /// Chromium opens a normal window, whose tab strip and address bar (with the recorder's token) would be filmed.</summary>
    public const string BlankApp = "data:text/html,<html><body style='margin:0;background:#000'></body></html>";

    /// <param name="proxyServer">The recorder's filtering proxy (<see cref="OutboundProxy"/>): every request of the
    /// browser goes through it, loopback included (<c>&lt;-loopback&gt;</c> removes Chromium's implicit bypass).</param>
    public static IReadOnlyList<string> Chromium(string userDataDir, int width, int height, string url, string? proxyServer = null) =>
    [
        .. proxyServer is null ? Array.Empty<string>() : [$"--proxy-server={proxyServer}", "--proxy-bypass-list=<-loopback>"],
        "--no-sandbox", "--test-type", "--disable-gpu", "--autoplay-policy=no-user-gesture-required", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--password-store=basic",
        "--disable-features=Translate,MediaRouter,WebRtcHideLocalIpsWithMdns", "--disable-notifications", "--hide-scrollbars",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
        "--remote-debugging-port=0", "--remote-allow-origins=*", $"--user-data-dir={userDataDir}",
        "--window-position=0,0", $"--window-size={I(width)},{I(height)}", $"--app={url}",
    ];

    /// <summary>One capture segment: the display and the sink's monitor, encoded as the recording asks, into
    /// Matroska flushed packet by packet (a killed ffmpeg leaves a readable file); with RTMP out, a tee.</summary>
    public static IReadOnlyList<string> Capture(CaptureSpec s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var a = new List<string>
        {
            "-hide_banner", "-loglevel", "warning", "-nostats", "-progress", "pipe:1", "-stats_period", "0.25", "-y",
            "-copyts", "-start_at_zero",
            "-thread_queue_size", "512", "-f", "x11grab", "-draw_mouse", "0", "-framerate", I(s.FrameRate),
            "-video_size", $"{I(s.Width)}x{I(s.Height)}", "-i", $":{I(s.Display)}.0+0,0",
            "-thread_queue_size", "1024", "-f", "pulse", "-sample_rate", "48000", "-channels", "2", "-fragment_size", "3840",
            "-itsoffset", I(s.AudioOffsetSeconds), "-i", s.Sink + ".monitor",
        };
        if (s.WatermarkFile is not null)
        {
            a.AddRange(["-i", s.WatermarkFile]);
            var (x, y) = s.WatermarkPosition switch
            {
                "right top" => ("W-w", "0"),
                "left bottom" => ("0", "H-h"),
                "right bottom" => ("W-w", "H-h"),
                _ => ("0", "0"),
            };
            a.AddRange(["-filter_complex", $"[2:v]scale={I(s.WatermarkWidth)}:{I(s.WatermarkHeight)}[wm];[0:v][wm]overlay={x}:{y}:format=auto,format=yuv420p[v]", "-map", "[v]"]);
        }
        else
        {
            a.AddRange(["-map", "0:v"]);
        }
        a.AddRange(["-map", "1:a", "-af", "aresample=async=1000"]);
        var gop = I(s.FrameRate * 2);
        var bitrate = I(Math.Max(500, s.Width * s.Height * s.FrameRate / 10_000)) + "k";
        switch (s.VideoCodec)
        {
            case "VP8":
                a.AddRange(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", bitrate, "-pix_fmt", "yuv420p", "-g", gop]);
                break;
            case "VP9":
                a.AddRange(["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", bitrate, "-pix_fmt", "yuv420p", "-g", gop]);
                break;
            default:
                a.AddRange(["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", gop]);
                break;
        }
        var channels = I(s.Channels);
        switch (s.AudioCodec)
        {
            case "VORBIS":
                a.AddRange(["-c:a", "libvorbis", "-b:a", s.Channels == 1 ? "96k" : "128k", "-ac", channels]);
                break;
            case "MP3":
                a.AddRange(["-c:a", "libmp3lame", "-b:a", s.Channels == 1 ? "128k" : "192k", "-ac", channels]);
                break;
            default:
                a.AddRange(["-c:a", "aac", "-b:a", s.Channels == 1 ? "192k" : "384k", "-ac", channels]);
                break;
        }
        a.AddRange(["-flush_packets", "1"]);
        if (s.RtmpUrl is not null)
        {
            a.AddRange(["-flags", "+global_header", "-f", "tee", $"[f=matroska]{Escape(s.Output)}|[f=flv:onfail=ignore]{Escape(s.RtmpUrl)}"]);
        }
        else
        {
            a.AddRange(["-f", "matroska", s.Output]);
        }
        return a;
    }

    /// <summary>Joins segments without re-encoding (the concat demuxer) into the delivered container.</summary>
    public static IReadOnlyList<string> Join(string listFile, string output, string extension) =>
        extension == "mp4"
            ? ["-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", listFile, "-c", "copy", "-movflags", "+faststart", output]
            : ["-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", listFile, "-c", "copy", "-f", "webm", output];

    /// <summary>The audio track alone, copied (AAC to .m4a, MP3 to .mp3, Vorbis to .ogg).</summary>
    public static IReadOnlyList<string> ExtractAudio(string input, string output) =>
        output.EndsWith(".m4a", StringComparison.Ordinal)
            ? ["-hide_banner", "-loglevel", "error", "-y", "-i", input, "-vn", "-c:a", "copy", "-movflags", "+faststart", output]
            : ["-hide_banner", "-loglevel", "error", "-y", "-i", input, "-vn", "-c:a", "copy", output];

    /// <summary>Channels of the recording: mono or stereo.</summary>
    public static int Channels(EffectiveRecordingConfig c) => c?.AudioChannel == "mono" ? 1 : 2;

    // The tee muxer takes '|' and '[' ']' as syntax: escape them in paths and URLs.
    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal)
        .Replace("[", "\\[", StringComparison.Ordinal).Replace("]", "\\]", StringComparison.Ordinal);
}
