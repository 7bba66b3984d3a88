using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Capstan.Server.Recorder;

/// <summary>One file Janus's VideoRoom wrote for one publisher track:
/// <c>videoroom-{room}-user-{feed}-{created µs}-{audio|video|data}-{mid}.mjr</c>.</summary>
public sealed partial record MjrName(long Room, long Feed, long CreatedMicros, string Kind, string Mid)
{
    public static MjrName? TryParse(string fileName)
    {
        var m = Pattern().Match(Path.GetFileName(fileName));
        if (!m.Success)
        {
            return null;
        }
        return new MjrName(
            long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), m.Groups[4].Value, m.Groups[5].Value);
    }

    [GeneratedRegex(@"^videoroom-(\d+)-user-(\d+)-(\d+)-(audio|video|data)-([A-Za-z0-9_-]+)\.mjr$")]
    private static partial Regex Pattern();
}

/// <summary>The header <c>janus-pp-rec --json</c> prints: media type, codec, when the file was created and when
/// its first packet was written (both wall-clock µs since the epoch, Janus's clock = this machine's).</summary>
public sealed record MjrHeader(string Type, string Codec, long CreatedMicros, long FirstPacketMicros)
{
    /// <summary>Finds the JSON header in the tool's output (log lines may surround it).</summary>
    public static MjrHeader? TryParse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var line in output.Split('\n'))
        {
            var t = line.Trim();
            if (!t.StartsWith('{'))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(t);
                var r = doc.RootElement;
                if (r.TryGetProperty("t", out var type) && r.TryGetProperty("c", out var codec) && r.TryGetProperty("s", out var s))
                {
                    var u = r.TryGetProperty("u", out var first) ? first.GetInt64() : s.GetInt64();
                    return new MjrHeader(type.GetString() == "v" ? "video" : type.GetString() == "a" ? "audio" : "data", codec.GetString() ?? string.Empty, s.GetInt64(), u);
                }
            }
            catch (JsonException)
            {
                // not the header
            }
        }
        return null;
    }
}

/// <summary>Argument lists and names for turning Janus's per-track files into deliverable WebM files. Pure
/// code, unit-tested; launching is the session's.</summary>
public static class TrackArgs
{
    /// <summary>Header only: <c>janus-pp-rec --json file.mjr</c>.</summary>
    public static IReadOnlyList<string> Header(string mjr) => ["--json", "--disable-colors", mjr];

    /// <summary>Packets to a container without transcoding: Opus to Ogg, VP8/VP9 to WebM, H.264 to Matroska.</summary>
    public static IReadOnlyList<string> Extract(string mjr, string output) => ["--disable-colors", mjr, output];

    /// <summary>The extension <c>janus-pp-rec</c> writes for a codec.</summary>
    public static string ExtractExtension(string codec) => codec switch
    {
        "opus" => "opus",
        "vp8" or "vp9" => "webm",
        "h264" => "mkv",
        _ => throw new NotSupportedException($"track codec {codec} cannot be delivered as WebM"),
    };

    /// <summary>Segments (one per recorded interval) joined into one WebM without re-encoding; H.264 (which WebM
    /// cannot carry) is re-encoded to VP8.</summary>
    public static IReadOnlyList<string> Join(string listFile, string output, bool transcodeToVp8)
    {
        var args = new List<string> { "-hide_banner", "-nostdin", "-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", listFile };
        args.AddRange(transcodeToVp8
            ? ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M", "-an"]
            : ["-c", "copy"]);
        args.AddRange(["-f", "webm", output]);
        return args;
    }

    /// <summary>decisions.md / the RealtimeKit docs: <c>{prefix}_{user_id}_{peer_id}_{stream_kind}_{media_kind}_{epoch ms}.webm</c>.</summary>
    public static string FileName(string prefix, string userId, Guid peerId, string streamKind, string mediaKind, long epochMs) =>
        $"{prefix}_{Safe(userId)}_{peerId:D}_{streamKind}_{mediaKind}_{epochMs.ToString(CultureInfo.InvariantCulture)}.webm";

    /// <summary>A user id as a file-name part: letters, digits, '-', '.', '@' and '+' kept, the rest become '-'.</summary>
    public static string Safe(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder(value.Length);
        foreach (var c in value.Length > 100 ? value[..100] : value)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '@' or '+' ? c : '-');
        }
        var s = sb.ToString().Trim('.');
        return s.Length == 0 ? "user" : s;
    }
}
