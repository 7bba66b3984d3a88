using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Capstan.Bench.Recorder;

/// <summary>What ffmpeg's <c>-progress</c> lines in <c>recorder/{id}/ffmpeg.log</c> say: the last values of the
/// current segment (frames encoded, fps, dropped and duplicated frames, speed), with segments summed when there
/// were several (the frame counter starts again), and the other lines (warnings).</summary>
public sealed record FfmpegProgress(long Frames, double Fps, long DropFrames, long DupFrames, string Speed, int Segments, IReadOnlyList<string> Warnings)
{
    public static FfmpegProgress Read(string path)
    {
        string[] lines;
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var r = new StreamReader(s);
            lines = r.ReadToEnd().Split('\n');
        }
        catch (IOException)
        {
            return new FfmpegProgress(0, 0, 0, 0, "-", 0, []);
        }
        long framesDone = 0, dropDone = 0, dupDone = 0, frame = 0, drop = 0, dup = 0;
        double fps = 0;
        var speed = "-";
        var segments = 0;
        var warnings = new List<string>();
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !line[..eq].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                // Not a progress line: a warning, unless one of the two every capture prints.
                if (!line.Contains("Guessed Channel Layout", StringComparison.Ordinal) && !line.Contains("not enough frames to estimate rate", StringComparison.Ordinal))
                {
                    warnings.Add(line);
                }
                continue;
            }
            var key = line[..eq];
            var value = line[(eq + 1)..].Trim();
            switch (key)
            {
                case "frame" when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var f):
                    if (f < frame)
                    {
                        // a new segment: keep what the last one ended with
                        framesDone += frame;
                        dropDone += drop;
                        dupDone += dup;
                        drop = dup = 0;
                        segments++;
                    }
                    segments = Math.Max(segments, 1);
                    frame = f;
                    break;
                case "fps" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v):
                    fps = v;
                    break;
                case "drop_frames" when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var d):
                    drop = d;
                    break;
                case "dup_frames" when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var u):
                    dup = u;
                    break;
                case "speed":
                    speed = value;
                    break;
                default:
                    break;
            }
        }
        return new FfmpegProgress(framesDone + frame, fps, dropDone + drop, dupDone + dup, speed, segments, warnings);
    }
}

/// <summary>The facts of a delivered file (ffprobe): container duration and size, the video stream's size, frame
/// rate and frame count (<c>-count_frames</c> decodes every frame; <c>-count_packets</c> only reads them, which is the
/// same count for this H.264 without B-frames and much cheaper on a long file).</summary>
public sealed record FileFacts(double Duration, long Size, int Width, int Height, string AvgFrameRate, long Frames, double VideoDuration)
{
    public static async Task<FileFacts> ProbeAsync(string file, bool decode, CancellationToken ct)
    {
        var count = decode ? "-count_frames" : "-count_packets";
        var field = decode ? "nb_read_frames" : "nb_read_packets";
        var json = await RunAsync("ffprobe", ["-v", "error", "-select_streams", "v:0", count,
            "-show_entries", $"stream=width,height,avg_frame_rate,duration,{field}", "-show_entries", "format=duration,size", "-of", "json", file], ct);
        using var doc = JsonDocument.Parse(json);
        var stream = doc.RootElement.GetProperty("streams")[0];
        var format = doc.RootElement.GetProperty("format");
        static double D(JsonElement e, string name) => e.TryGetProperty(name, out var v) && double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;
        static long L(JsonElement e, string name) => e.TryGetProperty(name, out var v) && long.TryParse(v.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : -1;
        return new FileFacts(D(format, "duration"), L(format, "size"), stream.GetProperty("width").GetInt32(), stream.GetProperty("height").GetInt32(),
            stream.TryGetProperty("avg_frame_rate", out var r) ? r.GetString() ?? "-" : "-", L(stream, field), D(stream, "duration"));
    }

    /// <summary>Frames in the file over the frames a full rate would give over the video stream's duration.</summary>
    public double FrameRatio(int fps)
    {
        var d = double.IsNaN(VideoDuration) ? Duration : VideoDuration;
        return d > 0 ? Frames / (d * fps) : 0;
    }

    /// <summary>Runs a tool (up to 5 minutes); its standard output, or its standard error with <paramref name="stderrOut"/>.</summary>
    internal static async Task<string> RunAsync(string tool, IEnumerable<string> args, CancellationToken ct, bool stderrOut = false)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new BenchException("cannot start " + tool);
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await p.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        if (p.ExitCode != 0)
        {
            throw new BenchException($"{tool} failed ({p.ExitCode}): {await stderr}");
        }
        return stderrOut ? await stderr : await stdout;
    }
}

/// <summary>The facts of a delivered track file (ffprobe <c>-count_packets</c>, no decoding): container, its first
/// stream's kind and codec, the container's duration, packets (frames, for VP8) and the picture size of a video.</summary>
public sealed record TrackFileFacts(string Format, string CodecType, string Codec, double Duration, long Packets, int Width, int Height)
{
    public static async Task<TrackFileFacts> ProbeAsync(string file, CancellationToken ct)
    {
        var json = await FileFacts.RunAsync("ffprobe", ["-v", "error", "-count_packets", "-show_entries", "stream=codec_type,codec_name,width,height,nb_read_packets",
            "-show_entries", "format=format_name,duration", "-of", "json", file], ct);
        using var doc = JsonDocument.Parse(json);
        var format = doc.RootElement.GetProperty("format");
        var streams = doc.RootElement.TryGetProperty("streams", out var st) ? st : default;
        if (streams.ValueKind != JsonValueKind.Array || streams.GetArrayLength() == 0)
        {
            throw new BenchException($"{Path.GetFileName(file)} has no stream: {json}");
        }
        var stream = streams[0];
        static string S(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() ?? "-" : "-";
        static int I(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : 0;
        return new TrackFileFacts(S(format, "format_name"), S(stream, "codec_type"), S(stream, "codec_name"),
            double.TryParse(S(format, "duration"), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN,
            long.TryParse(S(stream, "nb_read_packets"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1,
            I(stream, "width"), I(stream, "height"));
    }

    /// <summary>The mean volume of an audio file in dB (<c>volumedetect</c>, decodes it): a silent track is a broken one.</summary>
    public static async Task<double> MeanVolumeAsync(string file, CancellationToken ct)
    {
        var log = await FileFacts.RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-nostdin", "-i", file, "-af", "volumedetect", "-f", "null", "-"], ct, stderrOut: true);
        var line = log.Split('\n').FirstOrDefault(l => l.Contains("mean_volume:", StringComparison.Ordinal));
        return line is not null && double.TryParse(line[(line.IndexOf("mean_volume:", StringComparison.Ordinal) + 12)..].Replace("dB", "", StringComparison.Ordinal).Trim(),
            NumberStyles.Float, CultureInfo.InvariantCulture, out var db) ? db : double.NaN;
    }
}

/// <summary>Downloads a recording from its <c>download_url</c> (a signed URL: no API token) into a file.</summary>
public static class Download
{
    public static async Task<string> ToFileAsync(string url, string dir, CancellationToken ct, string extension = ".mp4")
    {
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "download-" + Guid.NewGuid().ToString("N")[..8] + extension);
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        using var r = await http.GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, ct);
        if (!r.IsSuccessStatusCode)
        {
            throw new BenchException($"download of {url} answered {(int)r.StatusCode}");
        }
        await using var input = await r.Content.ReadAsStreamAsync(ct);
        await using var output = File.Create(file);
        await input.CopyToAsync(output, ct);
        return file;
    }
}
