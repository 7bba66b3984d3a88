using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Capstan.Bench.Recorder;

/// <summary>Where the start latency went, as the server logs it once the first frame is in
/// (<c>Recording started: first frame {LatencyMs} ms after invoke (claimed +..., surface +..., capture launched +...,
/// first frame +... ms; the page opened ... ms after the surface)</c>): the job claimed after the invoke, a surface
/// taken (warm or launched), the gst-launch-1.0 capture started, and its first frame grabbed; the page (token,
/// navigation) opens before the capture's launch: it is a part of "capture launched", shown apart.</summary>
public sealed record StartPhases(double LatencyMs, double ClaimMs, double SurfaceMs, double PageMs, double LaunchMs, double FrameMs)
{
    public override string ToString() =>
        $"claim {Bench.F(ClaimMs, "0")} + surface {Bench.F(SurfaceMs, "0")} + capture launched {Bench.F(LaunchMs, "0")} + first frame {Bench.F(FrameMs, "0")} ms (page {Bench.F(PageMs, "0")} ms of it)";
}

/// <summary>One capture segment as the server logs it when the segment ends (<c>Segment seg_0001.mkv: {Seconds} s,
/// {Grabs} frames grabbed of {Expected}</c>): the frames ximagesrc really grabbed against what the segment's span
/// calls for. videorate repeats a frame for each one missed, so the file's frame count cannot show a miss: this can.</summary>
public sealed record SegmentGrabs(string Segment, double Seconds, long Grabs, long Expected);

/// <summary>What the server logged about one recording (its JSON log lines carry the recording id in their scope):
/// the start breakdown, the segments' grabs, the capture restarts and the warnings and errors; and the warnings and
/// errors of the capture's own log (<c>recorder/{id}/capture.log</c>, gst-launch-1.0 -v: caps and messages, no
/// per-frame lines).</summary>
public sealed record CaptureLog(StartPhases? Start, IReadOnlyList<SegmentGrabs> Segments, int Restarts, IReadOnlyList<string> Warnings)
{
    public long Grabs => Segments.Sum(g => g.Grabs);

    public long Expected => Segments.Sum(g => g.Expected);

    /// <summary>Frames grabbed over frames expected, over every segment (NaN before a segment has ended).</summary>
    public double GrabRatio => Expected > 0 ? (double)Grabs / Expected : double.NaN;

    public string GrabText => Segments.Count == 0 ? "no segment logged"
        : $"{Grabs} frames grabbed of {Expected} ({Bench.F(100 * GrabRatio, "0.0")}%{(Segments.Count > 1 ? $", {Segments.Count} segments" : "")})";

    public static CaptureLog Read(string serverLog, string recorderDir, string recordingId)
    {
        StartPhases? start = null;
        var segments = new List<SegmentGrabs>();
        var restarts = 0;
        var warnings = new List<string>();
        foreach (var line in ReadShared(serverLog))
        {
            if (!line.StartsWith('{') || !line.Contains(recordingId, StringComparison.Ordinal))
            {
                continue;
            }
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                continue;
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (!OfRecording(root, recordingId) || !root.TryGetProperty("State", out var state))
                {
                    continue;
                }
                var format = S(state, "{OriginalFormat}");
                var message = S(root, "Message");
                if (format.StartsWith("Recording started: first frame", StringComparison.Ordinal))
                {
                    start = new StartPhases(D(state, "LatencyMs"), D(state, "ClaimMs"), D(state, "SurfaceMs"), D(state, "PageMs"), D(state, "LaunchMs"), D(state, "FrameMs"));
                }
                else if (format.StartsWith("Segment {Segment}:", StringComparison.Ordinal))
                {
                    segments.Add(new SegmentGrabs(S(state, "Segment"), D(state, "Seconds"), (long)D(state, "Grabs"), (long)D(state, "Expected")));
                }
                else if (format.StartsWith("Capture restart", StringComparison.Ordinal))
                {
                    restarts++;
                    warnings.Add(message);
                }
                else if (S(root, "LogLevel") is "Warning" or "Error" or "Critical")
                {
                    warnings.Add(message);
                }
            }
        }
        // gst-launch-1.0 prints "WARNING: from element ..." and "ERROR: from element ..." for the pipeline's messages.
        foreach (var line in ReadShared(Path.Combine(recorderDir, recordingId, "capture.log")))
        {
            var t = line.Trim();
            if (t.StartsWith("WARNING:", StringComparison.Ordinal) || t.StartsWith("ERROR:", StringComparison.Ordinal))
            {
                warnings.Add("capture.log: " + t);
            }
        }
        return new CaptureLog(start, segments, restarts, warnings);
    }

    /// <summary>Whether a log line is of this recording: a scope with its <c>RecordingId</c>.</summary>
    private static bool OfRecording(JsonElement root, string id) =>
        root.TryGetProperty("Scopes", out var scopes) && scopes.ValueKind == JsonValueKind.Array
        && scopes.EnumerateArray().Any(sc => sc.ValueKind == JsonValueKind.Object && S(sc, "RecordingId") == id);

    private static string S(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? (v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.GetRawText()) : "";

    private static double D(JsonElement e, string name) =>
        double.TryParse(S(e, name), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN;

    private static string[] ReadShared(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var r = new StreamReader(s);
            return r.ReadToEnd().Split('\n');
        }
        catch (IOException)
        {
            return [];
        }
    }
}

/// <summary>The facts of a delivered file (ffprobe): container duration and size, the video stream's size, frame
/// rate and frame count (<c>-count_frames</c> decodes every frame; <c>-count_packets</c> only reads them, which is the
/// same count for this H.264 without B-frames and much cheaper on a long file).</summary>
public sealed record FileFacts(double Duration, long Size, int Width, int Height, string AvgFrameRate, long Frames, double VideoDuration)
{
    /// <summary>No file (the recording ended without one): no frames.</summary>
    public static FileFacts None { get; } = new(double.NaN, 0, 0, 0, "-", 0, double.NaN);

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
