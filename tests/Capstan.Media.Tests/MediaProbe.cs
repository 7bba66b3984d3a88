using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Capstan.Media.Tests;

/// <summary>What ffprobe and ffmpeg's analysis filters say about a media file.</summary>
public sealed partial record MediaFacts(double Duration, string? VideoCodec, int Width, int Height, string? AudioCodec, int AudioChannels, string Format)
{
    public static async Task<MediaFacts> ProbeAsync(string file)
    {
        var json = await RunAsync("ffprobe", ["-v", "error", "-show_format", "-show_streams", "-of", "json", file]);
        using var doc = JsonDocument.Parse(json);
        var streams = doc.RootElement.GetProperty("streams").EnumerateArray().ToList();
        var v = streams.FirstOrDefault(s => s.GetProperty("codec_type").GetString() == "video");
        var a = streams.FirstOrDefault(s => s.GetProperty("codec_type").GetString() == "audio");
        var format = doc.RootElement.GetProperty("format");
        return new MediaFacts(
            double.Parse(format.GetProperty("duration").GetString()!, CultureInfo.InvariantCulture),
            v.ValueKind == JsonValueKind.Undefined ? null : v.GetProperty("codec_name").GetString(),
            v.ValueKind == JsonValueKind.Undefined ? 0 : v.GetProperty("width").GetInt32(),
            v.ValueKind == JsonValueKind.Undefined ? 0 : v.GetProperty("height").GetInt32(),
            a.ValueKind == JsonValueKind.Undefined ? null : a.GetProperty("codec_name").GetString(),
            a.ValueKind == JsonValueKind.Undefined ? 0 : a.GetProperty("channels").GetInt32(),
            format.GetProperty("format_name").GetString()!);
    }

    /// <summary>Mean volume in dB (volumedetect); silence is about -91 dB. With <paramref name="from"/> and
    /// <paramref name="seconds"/>, of that stretch of the file only.</summary>
    public static async Task<double> MeanVolumeAsync(string file, double? from = null, double? seconds = null)
    {
        string[] range = from is { } ss && seconds is { } t
            ? ["-ss", ss.ToString(CultureInfo.InvariantCulture), "-t", t.ToString(CultureInfo.InvariantCulture)]
            : [];
        var log = await RunAsync("ffmpeg", ["-hide_banner", "-nostats", .. range, "-i", file, "-vn", "-af", "volumedetect", "-f", "null", "-"], stderr: true);
        var m = MeanVolume().Match(log);
        Assert.True(m.Success, "volumedetect printed no mean_volume: " + log);
        return double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>Mean and peak volume in dB (volumedetect) of the sound from <paramref name="from"/> to
    /// <paramref name="to"/> seconds; silence is about -91 dB.</summary>
    public static async Task<(double Mean, double Max)> VolumeAsync(string file, double from, double to)
    {
        var log = await RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-ss", from.ToString(CultureInfo.InvariantCulture), "-t", (to - from).ToString(CultureInfo.InvariantCulture),
            "-i", file, "-vn", "-af", "volumedetect", "-f", "null", "-"], stderr: true);
        var mean = MeanVolume().Match(log);
        var max = MaxVolume().Match(log);
        Assert.True(mean.Success && max.Success, "volumedetect printed no volumes: " + log);
        return (double.Parse(mean.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(max.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The number of video frames in the file (ffprobe, counting packets).</summary>
    public static async Task<int> VideoFramesAsync(string file)
    {
        var n = await RunAsync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", file]);
        return int.Parse(n.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>For frames sampled at <paramref name="fps"/>: each frame's time and the mean absolute difference
    /// (0..255, grey levels) of the <paramref name="crop"/> region from the sampled frame before it; a picture that
    /// froze gives 0.</summary>
    public static async Task<IReadOnlyList<(double Seconds, double Change)>> ChangesAsync(string file, (int X, int Y, int W, int H) crop, double fps = 2)
    {
        var raw = Path.GetTempFileName();
        await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", file, "-an",
            "-vf", $"fps={fps.ToString(CultureInfo.InvariantCulture)},crop={crop.W}:{crop.H}:{crop.X}:{crop.Y},format=gray", "-f", "rawvideo", "-pix_fmt", "gray", raw]);
        var bytes = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        var size = crop.W * crop.H;
        var result = new List<(double, double)>();
        for (var i = 1; (i + 1) * size <= bytes.Length; i++)
        {
            long sum = 0;
            for (var p = 0; p < size; p++)
            {
                sum += Math.Abs(bytes[(i * size) + p] - bytes[((i - 1) * size) + p]);
            }
            result.Add((i / fps, sum / (double)size));
        }
        return result;
    }

    /// <summary>Average luma (0..255) over the video (signalstats YAVG); black is about 16.</summary>
    public static async Task<double> AverageLumaAsync(string file)
    {
        var log = await RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-i", file, "-an", "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG", "-f", "null", "-"], stderr: true);
        var values = Yavg().Matches(log).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(values);
        return values.Average();
    }

    /// <summary>Over frames sampled at 2 fps, the mean fraction of pixels that are not near black (R+G+B over 90).
    /// Unlike <see cref="AverageLumaAsync"/> it holds for a native composite of Chromium's fake camera: that camera's
    /// I420 frames are green by their chroma alone (luma 0, below video range), which the browser's recorder view
    /// shows through an RGB page (luma about 85) and the native compositor passes on as they are (luma 0).</summary>
    public static async Task<double> LitFractionAsync(string file) =>
        (await ColourFractionsAsync(file, (r, g, b) => r + g + b > 90)).Average(x => x.Fraction);

    /// <summary>The processes that have a file open whose path ends with <paramref name="pathEnd"/> (read from /proc).</summary>
    public static IReadOnlyList<int> WritersOf(string pathEnd)
    {
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                if (Directory.EnumerateFileSystemEntries(dir + "/fd").Any(fd => new FileInfo(fd).LinkTarget is { } t && t.EndsWith(pathEnd, StringComparison.Ordinal)))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone, or not ours to read
            }
        }
        return found;
    }

    /// <summary>The RGB colour of one pixel of the frame at <paramref name="seconds"/>.</summary>
    public static async Task<(int R, int G, int B)> PixelAsync(string file, double seconds, int x, int y)
    {
        var raw = Path.GetTempFileName();
        await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-ss", seconds.ToString(CultureInfo.InvariantCulture), "-i", file, "-frames:v", "1",
            "-vf", $"format=rgb24,crop=2:2:{x - (x % 2)}:{y - (y % 2)}", "-f", "rawvideo", "-pix_fmt", "rgb24", raw]);
        var bytes = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        return (bytes[0], bytes[1], bytes[2]);
    }

    /// <summary>The frame at <paramref name="seconds"/> as RGB24 bytes, a row after the other.</summary>
    public static async Task<(byte[] Rgb, int Width, int Height)> FrameAsync(string file, double seconds)
    {
        var facts = await ProbeAsync(file);
        var raw = Path.GetTempFileName();
        await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-ss", seconds.ToString(CultureInfo.InvariantCulture), "-i", file, "-frames:v", "1",
            "-vf", "format=rgb24", "-f", "rawvideo", "-pix_fmt", "rgb24", raw]);
        var bytes = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        Assert.True(bytes.Length == facts.Width * facts.Height * 3, $"no frame at {seconds} s of {file}");
        return (bytes, facts.Width, facts.Height);
    }

    /// <summary>For frames sampled at <paramref name="fps"/> over the whole video: each frame's time and the fraction of
    /// its pixels whose RGB <paramref name="matches"/>.</summary>
    public static async Task<IReadOnlyList<(double Seconds, double Fraction)>> ColourFractionsAsync(string file, Func<byte, byte, byte, bool> matches, double fps = 2)
    {
        var facts = await ProbeAsync(file);
        var result = new List<(double, double)>();
        foreach (var (seconds, rgb) in await FramesAsync(file, fps))
        {
            var frame = rgb.AsSpan();
            var hits = 0;
            for (var p = 0; p < frame.Length; p += 3)
            {
                if (matches(frame[p], frame[p + 1], frame[p + 2]))
                {
                    hits++;
                }
            }
            result.Add((seconds, hits / (double)(facts.Width * facts.Height)));
        }
        return result;
    }

    /// <summary>Frames sampled at <paramref name="fps"/> over the whole video: each frame's time and its pixels as
    /// rows of RGB bytes (the video's width by its height).</summary>
    public static async Task<IReadOnlyList<(double Seconds, byte[] Rgb)>> FramesAsync(string file, double fps)
    {
        var facts = await ProbeAsync(file);
        var raw = Path.GetTempFileName();
        await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-i", file, "-an",
            "-vf", $"fps={fps.ToString(CultureInfo.InvariantCulture)},format=rgb24", "-f", "rawvideo", "-pix_fmt", "rgb24", raw]);
        var bytes = await File.ReadAllBytesAsync(raw);
        File.Delete(raw);
        var frameBytes = facts.Width * facts.Height * 3;
        var frames = new List<(double, byte[])>();
        for (var i = 0; (i + 1) * frameBytes <= bytes.Length; i++)
        {
            frames.Add((i / fps, bytes.AsSpan(i * frameBytes, frameBytes).ToArray()));
        }
        return frames;
    }

    /// <summary>A tool run to its end (<see cref="Tool.RunAsync"/>).</summary>
    public static Task<string> RunAsync(string tool, string[] args, bool stderr = false) => Tool.RunAsync(tool, args, stderr);

    [GeneratedRegex(@"mean_volume: (-?[\d.]+) dB")]
    private static partial Regex MeanVolume();

    [GeneratedRegex(@"max_volume: (-?[\d.]+) dB")]
    private static partial Regex MaxVolume();

    [GeneratedRegex(@"lavfi\.signalstats\.YAVG=([\d.]+)")]
    private static partial Regex Yavg();
}
