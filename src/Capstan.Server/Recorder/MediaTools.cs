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
}
