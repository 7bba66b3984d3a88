namespace Capstan.Server.Recorder.Interactive;

/// <summary>An ID3 tag to carry at a presentation time (90 kHz, on the segment's video PTS base).</summary>
public sealed record TimedTag(long Pts, byte[] Tag);

/// <summary>Adds a timed ID3 metadata stream to an MPEG-TS segment, as Apple's "Timed Metadata for HTTP Live
/// Streaming" describes it: ffmpeg cannot take timed ID3 packets from a file, so its segments are rewritten here.
/// <list type="bullet">
/// <item>Every PMT gets a <c>metadata_pointer_descriptor</c> (tag 0x25) in its program info and a new elementary
/// stream of <c>stream_type</c> 0x15 (metadata in PES packets) with a <c>metadata_descriptor</c> (tag 0x26), both of
/// format identifier <c>ID3 </c> (the descriptors ffmpeg's own muxer writes for <c>timed_id3</c>, so that ffmpeg,
/// hls.js and Apple's players recognise it); its CRC32 is recomputed.</item>
/// <item>Each tag is one PES packet (<c>stream_id</c> 0xBD, private_stream_1, data aligned, with a PTS) on a PID
/// no other stream uses, written just before the first video PES whose PTS is at or after the tag's, so the
/// stream stays in presentation order.</item>
/// </list>
/// Only what ffmpeg's mpegts muxer writes is supported: one program, each PMT section in one TS packet.</summary>
public static class TsId3Injector
{
    public const int PacketSize = 188;

    /// <summary>The PMT stream type of timed metadata carried in PES packets.</summary>
    public const byte MetadataStreamType = 0x15;

    /// <summary>The PES stream id of the ID3 packets (private_stream_1).</summary>
    public const byte PrivateStream1 = 0xBD;

    private static readonly byte[] Id3Format = "ID3 "u8.ToArray();

    /// <summary>The segment with <paramref name="tags"/> added (none: the PMT still announces the stream, so every
    /// segment of a recording has the same streams). Throws <see cref="FormatException"/> on a stream it cannot rewrite.</summary>
    public static byte[] Inject(byte[] ts, IReadOnlyList<TimedTag> tags)
    {
        ArgumentNullException.ThrowIfNull(ts);
        ArgumentNullException.ThrowIfNull(tags);
        var packets = Packets(ts);
        var pmtPid = PmtPid(ts, packets) ?? throw new FormatException("no PAT with a program in the segment");
        var pmtIndex = packets.FirstOrDefault(i => Pid(ts, i) == pmtPid && Pusi(ts, i), -1);
        if (pmtIndex < 0)
        {
            throw new FormatException("no PMT in the segment");
        }
        var used = packets.Select(i => Pid(ts, i)).ToHashSet();
        var id3Pid = Enumerable.Range(0x102, 0x1FFE - 0x102).First(p => !used.Contains(p));
        var (section, streams) = ReadPmt(ts, pmtIndex);
        var videoPid = streams.FirstOrDefault(s => s.Type is 0x1B or 0x24 or 0x02 or 0x10).Pid;
        var newSection = WithId3Stream(section, id3Pid);
        if (newSection.Length > PacketSize - 5)
        {
            throw new FormatException("the PMT with the ID3 stream does not fit in one TS packet");
        }

        var pending = new Queue<TimedTag>(tags.OrderBy(t => t.Pts));
        var continuity = 0;
        using var output = new MemoryStream(ts.Length + tags.Sum(t => t.Tag.Length) + (tags.Count * 2 * PacketSize));
        foreach (var i in packets)
        {
            var pid = Pid(ts, i);
            var packet = ts.AsSpan(i, PacketSize);
            if (pid == videoPid && videoPid != 0 && Pusi(ts, i) && PesPts(packet) is { } videoPts)
            {
                while (pending.Count > 0 && pending.Peek().Pts <= videoPts)
                {
                    WritePes(output, id3Pid, pending.Dequeue(), ref continuity);
                }
            }
            if (pid == pmtPid && Pusi(ts, i))
            {
                var rewritten = new byte[PacketSize];
                packet[..4].CopyTo(rewritten);
                rewritten[3] = (byte)(0x10 | (packet[3] & 0x0F)); // payload only, the packet's own continuity counter
                rewritten[4] = 0; // pointer_field
                newSection.CopyTo(rewritten.AsSpan(5));
                rewritten.AsSpan(5 + newSection.Length).Fill(0xFF);
                output.Write(rewritten);
                continue;
            }
            output.Write(packet);
        }
        while (pending.Count > 0)
        {
            WritePes(output, id3Pid, pending.Dequeue(), ref continuity);
        }
        return output.ToArray();
    }

    /// <summary>The PTS (90 kHz) of the segment's first video PES, or null when it has none.</summary>
    public static long? FirstVideoPts(byte[] ts)
    {
        var packets = Packets(ts);
        if (PmtPid(ts, packets) is not { } pmtPid)
        {
            return null;
        }
        var pmt = packets.FirstOrDefault(i => Pid(ts, i) == pmtPid && Pusi(ts, i), -1);
        if (pmt < 0)
        {
            return null;
        }
        var videoPid = ReadPmt(ts, pmt).Streams.FirstOrDefault(s => s.Type is 0x1B or 0x24 or 0x02 or 0x10).Pid;
        foreach (var i in packets)
        {
            if (videoPid != 0 && Pid(ts, i) == videoPid && Pusi(ts, i) && PesPts(ts.AsSpan(i, PacketSize)) is { } pts)
            {
                return pts;
            }
        }
        return null;
    }

    /// <summary>The PMT's streams (stream_type, PID), from the first PMT of a segment.</summary>
    public static IReadOnlyList<(byte Type, int Pid)> Streams(byte[] ts)
    {
        var packets = Packets(ts);
        var pmtPid = PmtPid(ts, packets) ?? throw new FormatException("no PAT with a program in the segment");
        var pmt = packets.First(i => Pid(ts, i) == pmtPid && Pusi(ts, i));
        return ReadPmt(ts, pmt).Streams;
    }

    /// <summary>The PES packets (PTS, payload) of one PID, reassembled: how tests and tools read the ID3 stream back.</summary>
    public static IReadOnlyList<(long? Pts, byte[] Payload)> ReadPes(ReadOnlySpan<byte> ts, int pid)
    {
        var result = new List<(long?, byte[])>();
        List<byte>? current = null;
        foreach (var i in Packets(ts))
        {
            if (Pid(ts, i) != pid)
            {
                continue;
            }
            var packet = ts.Slice(i, PacketSize);
            var payload = packet[PayloadOffset(packet)..];
            if (Pusi(ts, i))
            {
                if (current is not null)
                {
                    result.Add(Finish(current));
                }
                current = [.. payload.ToArray()];
            }
            else
            {
                current?.AddRange(payload.ToArray());
            }
        }
        if (current is not null)
        {
            result.Add(Finish(current));
        }
        return result;

        static (long?, byte[]) Finish(List<byte> pes)
        {
            var bytes = pes.ToArray();
            var length = (bytes[4] << 8) | bytes[5];
            var headerLength = bytes[8];
            long? pts = (bytes[7] & 0x80) != 0 ? ReadPts(bytes.AsSpan(9)) : null;
            var start = 9 + headerLength;
            var end = length == 0 ? bytes.Length : Math.Min(bytes.Length, 6 + length);
            return (pts, bytes[start..end]);
        }
    }

    /// <summary>The MPEG-2 CRC32 of PSI sections (polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected, no final XOR).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= (uint)b << 24;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 0x80000000u) != 0 ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
            }
        }
        return crc;
    }

    private static List<int> Packets(ReadOnlySpan<byte> ts)
    {
        if (ts.Length % PacketSize != 0)
        {
            throw new FormatException($"an MPEG-TS segment is a whole number of {PacketSize}-byte packets ({ts.Length} bytes)");
        }
        var list = new List<int>(ts.Length / PacketSize);
        for (var i = 0; i < ts.Length; i += PacketSize)
        {
            if (ts[i] != 0x47)
            {
                throw new FormatException($"no sync byte at {i}");
            }
            list.Add(i);
        }
        return list;
    }

    private static int Pid(ReadOnlySpan<byte> ts, int i) => ((ts[i + 1] & 0x1F) << 8) | ts[i + 2];

    private static bool Pusi(ReadOnlySpan<byte> ts, int i) => (ts[i + 1] & 0x40) != 0;

    /// <summary>Where a packet's payload starts (after the adaptation field, when there is one).</summary>
    private static int PayloadOffset(ReadOnlySpan<byte> packet) =>
        (packet[3] & 0x20) != 0 ? Math.Min(PacketSize, 5 + packet[4]) : 4;

    /// <summary>The PSI section a packet starts (after its pointer field).</summary>
    private static ReadOnlySpan<byte> Section(ReadOnlySpan<byte> ts, int i)
    {
        var packet = ts.Slice(i, PacketSize);
        var at = PayloadOffset(packet);
        at += 1 + packet[at];
        var length = ((packet[at + 1] & 0x0F) << 8) | packet[at + 2];
        if (at + 3 + length > PacketSize)
        {
            throw new FormatException("a PSI section longer than one TS packet");
        }
        return packet.Slice(at, 3 + length);
    }

    private static int? PmtPid(ReadOnlySpan<byte> ts, List<int> packets)
    {
        foreach (var i in packets)
        {
            if (Pid(ts, i) != 0 || !Pusi(ts, i))
            {
                continue;
            }
            var pat = Section(ts, i);
            for (var at = 8; at + 4 <= pat.Length - 4; at += 4)
            {
                var program = (pat[at] << 8) | pat[at + 1];
                if (program != 0)
                {
                    return ((pat[at + 2] & 0x1F) << 8) | pat[at + 3];
                }
            }
        }
        return null;
    }

    private static (byte[] Section, List<(byte Type, int Pid)> Streams) ReadPmt(ReadOnlySpan<byte> ts, int i)
    {
        var section = Section(ts, i).ToArray();
        var programInfo = ((section[10] & 0x0F) << 8) | section[11];
        var streams = new List<(byte, int)>();
        for (var at = 12 + programInfo; at + 5 <= section.Length - 4;)
        {
            var esInfo = ((section[at + 3] & 0x0F) << 8) | section[at + 4];
            streams.Add((section[at], ((section[at + 1] & 0x1F) << 8) | section[at + 2]));
            at += 5 + esInfo;
        }
        return (section, streams);
    }

    /// <summary>The PMT section with the metadata pointer descriptor in its program info and the ID3 stream added.</summary>
    internal static byte[] WithId3Stream(ReadOnlySpan<byte> section, int id3Pid)
    {
        var programNumber = (section[3] << 8) | section[4];
        var programInfo = ((section[10] & 0x0F) << 8) | section[11];
        var pointer = new List<byte> { 0x25, 15, 0xFF, 0xFF };
        pointer.AddRange(Id3Format);
        pointer.Add(0xFF);
        pointer.AddRange(Id3Format);
        pointer.Add(0); // metadata_service_id
        pointer.Add(0x1F); // metadata_locator_record_flag 0, MPEG_carriage_flags 0 (same transport stream), reserved
        pointer.Add((byte)(programNumber >> 8));
        pointer.Add((byte)programNumber);
        var descriptor = new List<byte> { 0x26, 13, 0xFF, 0xFF };
        descriptor.AddRange(Id3Format);
        descriptor.Add(0xFF);
        descriptor.AddRange(Id3Format);
        descriptor.Add(0); // metadata_service_id
        descriptor.Add(0x0F); // decoder_config_flags 0, DSM-CC_flag 0, reserved

        var body = new List<byte>();
        body.AddRange(section[3..10].ToArray()); // program_number .. PCR_PID
        var newInfo = programInfo + pointer.Count;
        body.Add((byte)(0xF0 | (newInfo >> 8)));
        body.Add((byte)newInfo);
        body.AddRange(section.Slice(12, programInfo).ToArray());
        body.AddRange(pointer);
        body.AddRange(section[(12 + programInfo)..^4].ToArray()); // the streams
        body.Add(MetadataStreamType);
        body.Add((byte)(0xE0 | (id3Pid >> 8)));
        body.Add((byte)id3Pid);
        body.Add((byte)(0xF0 | (descriptor.Count >> 8)));
        body.Add((byte)descriptor.Count);
        body.AddRange(descriptor);

        var length = body.Count + 4; // + CRC
        var result = new byte[3 + length];
        result[0] = section[0];
        result[1] = (byte)((section[1] & 0xF0) | (length >> 8));
        result[2] = (byte)length;
        body.CopyTo(result, 3);
        var crc = Crc32(result.AsSpan(0, result.Length - 4));
        result[^4] = (byte)(crc >> 24);
        result[^3] = (byte)(crc >> 16);
        result[^2] = (byte)(crc >> 8);
        result[^1] = (byte)crc;
        return result;
    }

    /// <summary>The PTS of a packet that starts a PES with one, else null.</summary>
    private static long? PesPts(ReadOnlySpan<byte> packet)
    {
        var at = PayloadOffset(packet);
        if (at + 14 > PacketSize || packet[at] != 0 || packet[at + 1] != 0 || packet[at + 2] != 1 || (packet[at + 7] & 0x80) == 0)
        {
            return null;
        }
        return ReadPts(packet[(at + 9)..]);
    }

    private static long ReadPts(ReadOnlySpan<byte> p) =>
        ((long)(p[0] & 0x0E) << 29) | ((long)p[1] << 22) | ((long)(p[2] & 0xFE) << 14) | ((long)p[3] << 7) | ((long)p[4] >> 1);

    /// <summary>One tag as a PES packet in TS packets of <paramref name="pid"/>; the last one padded with an
    /// adaptation field.</summary>
    private static void WritePes(Stream output, int pid, TimedTag tag, ref int continuity)
    {
        var pts = tag.Pts & 0x1FFFFFFFFL;
        var pesLength = 3 + 5 + tag.Tag.Length;
        if (pesLength > 0xFFFF)
        {
            throw new ArgumentException($"an ID3 tag of {tag.Tag.Length} bytes does not fit in one PES packet", nameof(tag));
        }
        var pes = new byte[6 + pesLength];
        pes[2] = 1;
        pes[3] = PrivateStream1;
        pes[4] = (byte)(pesLength >> 8);
        pes[5] = (byte)pesLength;
        pes[6] = 0x84; // '10', data_alignment_indicator
        pes[7] = 0x80; // PTS only
        pes[8] = 5;
        pes[9] = (byte)(0x21 | ((pts >> 29) & 0x0E));
        pes[10] = (byte)(pts >> 22);
        pes[11] = (byte)(((pts >> 14) & 0xFE) | 1);
        pes[12] = (byte)(pts >> 7);
        pes[13] = (byte)(((pts << 1) & 0xFE) | 1);
        tag.Tag.CopyTo(pes, 14);

        var packet = new byte[PacketSize];
        for (var at = 0; at < pes.Length;)
        {
            var left = pes.Length - at;
            packet[0] = 0x47;
            packet[1] = (byte)((at == 0 ? 0x40 : 0) | (pid >> 8));
            packet[2] = (byte)pid;
            int payloadAt;
            if (left >= 184)
            {
                packet[3] = (byte)(0x10 | continuity);
                payloadAt = 4;
            }
            else
            {
                packet[3] = (byte)(0x30 | continuity);
                var adaptation = 183 - left;
                packet[4] = (byte)adaptation;
                if (adaptation > 0)
                {
                    packet[5] = 0; // no flags
                    packet.AsSpan(6, adaptation - 1).Fill(0xFF);
                }
                payloadAt = 5 + adaptation;
            }
            var n = PacketSize - payloadAt;
            pes.AsSpan(at, n).CopyTo(packet.AsSpan(payloadAt));
            at += n;
            continuity = (continuity + 1) & 0x0F;
            output.Write(packet);
        }
    }
}
