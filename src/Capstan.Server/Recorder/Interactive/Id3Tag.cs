using System.Text;

namespace Capstan.Server.Recorder.Interactive;

/// <summary>ID3v2.4 tags for an interactive recording's timed metadata (Apple, "Timed Metadata for HTTP Live
/// Streaming"): one tag per <c>ID3Data</c> message, holding one PRIV frame whose owner is
/// <see cref="PrivOwner"/> and whose data is the message's payload as compact JSON (UTF-8).</summary>
public static class Id3Tag
{
    /// <summary>The PRIV frame's owner identifier.</summary>
    public const string PrivOwner = "com.capstan.id3data";

    /// <summary>A whole tag (10-byte header, no extended header, no footer) with one PRIV frame.</summary>
    public static byte[] Priv(string owner, ReadOnlySpan<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(owner);
        var ownerBytes = Encoding.Latin1.GetBytes(owner);
        var frameBody = ownerBytes.Length + 1 + data.Length;
        var tag = new byte[10 + 10 + frameBody];
        "ID3"u8.CopyTo(tag);
        tag[3] = 4; // v2.4.0
        tag[4] = 0;
        tag[5] = 0; // no flags
        WriteSyncsafe(tag.AsSpan(6), 10 + frameBody);
        "PRIV"u8.CopyTo(tag.AsSpan(10));
        WriteSyncsafe(tag.AsSpan(14), frameBody); // v2.4 frame sizes are syncsafe too
        ownerBytes.CopyTo(tag.AsSpan(20));
        tag[20 + ownerBytes.Length] = 0;
        data.CopyTo(tag.AsSpan(21 + ownerBytes.Length));
        return tag;
    }

    /// <summary>The PRIV frames' (owner, data) of a tag, for tests and tools.</summary>
    public static IReadOnlyList<(string Owner, byte[] Data)> ReadPriv(ReadOnlySpan<byte> tag)
    {
        var frames = new List<(string, byte[])>();
        if (tag.Length < 10 || !tag[..3].SequenceEqual("ID3"u8))
        {
            return frames;
        }
        var end = Math.Min(tag.Length, 10 + ReadSyncsafe(tag[6..]));
        var at = 10;
        while (at + 10 <= end)
        {
            var id = Encoding.Latin1.GetString(tag.Slice(at, 4));
            var size = ReadSyncsafe(tag[(at + 4)..]);
            if (size <= 0 || at + 10 + size > end)
            {
                break;
            }
            var body = tag.Slice(at + 10, size);
            if (id == "PRIV" && body.IndexOf((byte)0) is var zero and >= 0)
            {
                frames.Add((Encoding.Latin1.GetString(body[..zero]), body[(zero + 1)..].ToArray()));
            }
            at += 10 + size;
        }
        return frames;
    }

    private static void WriteSyncsafe(Span<byte> to, int value)
    {
        if (value >= 1 << 28)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "an ID3 size is at most 2^28 - 1");
        }
        to[0] = (byte)((value >> 21) & 0x7F);
        to[1] = (byte)((value >> 14) & 0x7F);
        to[2] = (byte)((value >> 7) & 0x7F);
        to[3] = (byte)(value & 0x7F);
    }

    private static int ReadSyncsafe(ReadOnlySpan<byte> from) => (from[0] << 21) | (from[1] << 14) | (from[2] << 7) | from[3];
}
