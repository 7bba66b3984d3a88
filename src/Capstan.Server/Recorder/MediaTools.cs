using System.Globalization;
using System.Text;
using Capstan.Server.Processes;

namespace Capstan.Server.Recorder;

/// <summary>The post-processing tools (ffmpeg, ffprobe, janus-pp-rec) run to completion, for the composite and the
/// track sessions.</summary>
public static class MediaTools
{
    /// <summary>Runs <paramref name="tool"/> to its end and returns its output lines (stdout and stderr); a non-zero
    /// exit is a <see cref="ChildProcessException"/> with the output's tail.</summary>
    public static async Task<string> RunAsync(string name, string tool, IReadOnlyList<string> args, string? logFile, TimeSpan timeout, CancellationToken ct)
    {
        var output = new StringBuilder();
        await using var p = ChildProcess.Start(name, tool, args, logFile, onLine: l =>
        {
            lock (output)
            {
                output.AppendLine(l);
            }
        });
        var code = await p.Exited.WaitAsync(timeout, ct);
        if (code != 0)
        {
            throw new ChildProcessException(name, code, p.Tail());
        }
        lock (output)
        {
            return output.ToString();
        }
    }

    /// <summary>The container's duration in seconds (<c>ffprobe format=duration</c>), or null when the header has none
    /// (a Matroska file from a killed ffmpeg); ffprobe failing is a <see cref="ChildProcessException"/>.</summary>
    public static async Task<double?> DurationAsync(string ffprobe, string file, CancellationToken ct)
    {
        var text = await RunAsync("ffprobe", ffprobe, ["-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1", file], null, TimeSpan.FromSeconds(60), ct);
        return double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : null;
    }

    /// <summary>Where a capture segment's packets begin and end on its own clock (the earliest packet's time, and the
    /// latest packet's time plus its duration, over every stream), read from the packets themselves, so it also works
    /// on a segment whose ffmpeg was killed. Null when the segment holds no packet.</summary>
    public static async Task<MediaSpan?> SpanAsync(string ffprobe, string file, CancellationToken ct)
    {
        var text = await RunAsync("ffprobe", ffprobe, ["-v", "error", "-show_entries", "packet=codec_type,pts_time,duration_time", "-of", "csv=p=0", file], null, TimeSpan.FromSeconds(120), ct);
        double? start = null, end = null, firstVideo = null, lastVideo = null, videoEnd = null, audioEnd = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(',');
            if (f.Length < 3 || !double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var pts))
            {
                continue;
            }
            var duration = double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
            start = Math.Min(start ?? pts, pts);
            end = Math.Max(end ?? pts + duration, pts + duration);
            if (f[0] == "video")
            {
                firstVideo = Math.Min(firstVideo ?? pts, pts);
                lastVideo = Math.Max(lastVideo ?? pts, pts);
                videoEnd = Math.Max(videoEnd ?? pts + duration, pts + duration);
            }
            else if (f[0] == "audio")
            {
                audioEnd = Math.Max(audioEnd ?? pts + duration, pts + duration);
            }
        }
        return start is { } s && end is { } e
            ? new MediaSpan(s, e, lastVideo, firstVideo, videoEnd is { } v && audioEnd is { } a ? Math.Min(v, a) : null)
            : null;
    }
}

/// <summary>A segment's packets on its own clock: from <see cref="Start"/> to <see cref="End"/> seconds; the first
/// and last video frames at <see cref="FirstVideoFrame"/> and <see cref="LastVideoFrame"/>; <see cref="BothEnd"/>: where
/// the shorter of its sound and picture ends (null unless it has both).</summary>
public sealed record MediaSpan(double Start, double End, double? LastVideoFrame, double? FirstVideoFrame = null, double? BothEnd = null)
{
    public double Seconds => End - Start;

    /// <summary>Where to cut the segment at <paramref name="at"/> seconds of its clock so that the next segment's
    /// first frame comes one frame after the last kept one: <paramref name="at"/> moved up onto the video's frame
    /// grid (the frames are <paramref name="fps"/> a second from the first), unchanged without video.</summary>
    public double CutOnFrame(double at, int fps)
    {
        if (FirstVideoFrame is not { } first || fps <= 0)
        {
            return at;
        }
        // A frame exactly at the cut (within a millisecond of rounding) is the next segment's slot, not this one's.
        var frames = Math.Ceiling(((at - first) * fps) - 0.001);
        return first + (frames / fps);
    }
}
