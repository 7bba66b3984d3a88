using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Capstan.Testing;

/// <summary>Reads an interactive recording's HLS output back with ffprobe: the streams of a segment, and its timed
/// ID3 packets (PTS and bytes, from <c>-show_packets -show_data</c>) with the PRIV frames they carry.</summary>
public static class HlsProbe
{
    /// <summary>(codec_type, codec_name) of every stream ffprobe finds in <paramref name="file"/>.</summary>
    public static async Task<IReadOnlyList<(string Type, string Name)>> StreamsAsync(string file)
    {
        var json = JsonNode.Parse(await Tool.RunAsync("ffprobe", ["-v", "error", "-show_streams", "-of", "json", file]))!;
        return json["streams"]!.AsArray().Select(s => (s!["codec_type"]?.GetValue<string>() ?? "", s["codec_name"]?.GetValue<string>() ?? "")).ToList();
    }

    /// <summary>The data stream's packets: PTS (90 kHz) and bytes.</summary>
    public static async Task<IReadOnlyList<(long Pts, byte[] Data)>> Id3PacketsAsync(string file)
    {
        var json = JsonNode.Parse(await Tool.RunAsync("ffprobe", ["-v", "error", "-select_streams", "d", "-show_packets", "-show_data", "-of", "json", file]))!;
        return (json["packets"]?.AsArray() ?? []).Select(p => (long.Parse(p!["pts"]!.ToString(), CultureInfo.InvariantCulture), WholeTag(HexDump(p["data"]!.GetValue<string>())))).ToList();
    }

    /// <summary>ffmpeg 5.1 (Debian 12) drops the first 5 bytes of every PES of a stream_type 0x15 stream, taking them
    /// for the metadata AU cell header of ISO 13818-1 2.12.4 (which only <c>stream_id</c> 0xFC carries; Apple's timed
    /// ID3 uses 0xBD without one): remuxing its own timed_id3 output loses 5 more bytes each time. What it dropped of
    /// an ID3v2.4 tag is known ("ID3", version 4, revision 0), so it is put back; a whole tag is returned as it is.</summary>
    public static byte[] WholeTag(byte[] data)
    {
        if (data.Length >= 3 && data[0] == 'I' && data[1] == 'D' && data[2] == '3')
        {
            return data;
        }
        return [(byte)'I', (byte)'D', (byte)'3', 4, 0, .. data];
    }

    /// <summary>The PTS (90 kHz) of the first video packet (the segment's first frame) and whether it is a keyframe.</summary>
    public static async Task<(long Pts, bool Key)> FirstVideoPacketAsync(string file)
    {
        var json = JsonNode.Parse(await Tool.RunAsync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_packets", "-read_intervals", "%+#1", "-of", "json", file]))!;
        var p = json["packets"]!.AsArray()[0]!;
        return (long.Parse(p["pts"]!.ToString(), CultureInfo.InvariantCulture), p["flags"]!.GetValue<string>().StartsWith('K'));
    }

    /// <summary>The (owner, data as UTF-8) of each PRIV frame of an ID3v2.4 tag.</summary>
    public static IReadOnlyList<(string Owner, string Data)> PrivFrames(byte[] tag)
    {
        var frames = new List<(string, string)>();
        if (tag.Length < 10 || Encoding.ASCII.GetString(tag, 0, 3) != "ID3" || tag[3] != 4)
        {
            return frames;
        }
        var end = Math.Min(tag.Length, 10 + Syncsafe(tag, 6));
        for (var at = 10; at + 10 <= end;)
        {
            var id = Encoding.ASCII.GetString(tag, at, 4);
            var size = Syncsafe(tag, at + 4);
            if (size <= 0 || at + 10 + size > end)
            {
                break;
            }
            if (id == "PRIV")
            {
                var body = tag.AsSpan(at + 10, size);
                var zero = body.IndexOf((byte)0);
                frames.Add((Encoding.Latin1.GetString(body[..zero]), Encoding.UTF8.GetString(body[(zero + 1)..])));
            }
            at += 10 + size;
        }
        return frames;
    }

    /// <summary>ffprobe's hex dump ("00000000: 4944 3304 ...  ID3...") back to bytes.</summary>
    public static byte[] HexDump(string dump)
    {
        var bytes = new List<byte>();
        foreach (var line in dump.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }
            // 8 groups of 4 hex digits, separated by single spaces; two spaces before the ASCII column.
            var hex = line[(colon + 2)..];
            var split = hex.IndexOf("  ", StringComparison.Ordinal);
            foreach (var group in (split >= 0 ? hex[..split] : hex).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                for (var i = 0; i + 1 < group.Length; i += 2)
                {
                    bytes.Add(byte.Parse(group.AsSpan(i, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }
        }
        return bytes.ToArray();
    }

    private static int Syncsafe(byte[] b, int at) => (b[at] << 21) | (b[at + 1] << 14) | (b[at + 2] << 7) | b[at + 3];
}
