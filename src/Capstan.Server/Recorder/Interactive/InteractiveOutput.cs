using System.Formats.Tar;
using System.Globalization;
using System.Text;

namespace Capstan.Server.Recorder.Interactive;

/// <summary>One stretch of the joined file recorded without a break (a capture segment: pauses and gaps are
/// joined over in the file): it starts at <see cref="FileStart"/> seconds into the file, which showed the meeting at
/// wall-clock <see cref="WallStart"/>, and lasts <see cref="Seconds"/>.</summary>
public sealed record TimelinePart(DateTime WallStart, double FileStart, double Seconds);

/// <summary>An <c>ID3Data</c> message for the recording: when the server received it, and its payload (JSON).</summary>
public sealed record MetadataMessage(DateTime ReceivedAt, string PayloadJson);

/// <summary>A cut of the joined file: where an HLS segment starts (a keyframe), and whether the recording resumed
/// there (after a pause or a gap: <c>#EXT-X-DISCONTINUITY</c>).</summary>
public readonly record struct HlsCut(double At, bool Discontinuity);

/// <summary>An interactive recording's output (<c>interactive_config: {type: "ID3"}</c>): the joined H.264/AAC file
/// cut into MPEG-TS segments with a timed ID3 stream, a VOD playlist, packed in one tar.
/// <para>Segments: cut without re-encoding on the file's keyframes (the capture puts one every 2 s), about
/// <see cref="RecorderOptions.HlsSegmentSeconds"/> (10 s) each: the cuts are chosen here from the keyframes
/// (<see cref="Cuts"/>: the last keyframe within the target plus 0.45 s, so a segment is at most 10.45 s, which
/// rounds to <c>EXT-X-TARGETDURATION</c> 10) and where the recording resumed after a pause or a gap, and ffmpeg's
/// segment muxer cuts there. (ffmpeg's <c>-f hls -hls_time 10</c> cuts at the first keyframe after 10 s, up to a
/// keyframe interval later, and cannot mark a pause inside the file as a discontinuity; the playlist is written here.)</para>
/// <para>Metadata: each <c>ID3Data</c> message received between <c>started_time</c> and <c>stopped_time</c>, before a
/// <c>CLOSE_TRANSPORT</c> message received in that span (<see cref="Select"/>), is one ID3v2.4 tag with a PRIV frame
/// (<see cref="Id3Tag.PrivOwner"/>, the payload's JSON as data) at the PTS of the instant the message reached the
/// server on the recording's timeline (<see cref="FileTime"/>: server time less the recording's start and the
/// pauses before it; a message received while paused is placed where the recording resumed), in the segment that
/// holds that instant (<see cref="TsId3Injector"/>).</para>
/// <para>The tar (<see cref="Pack"/>): <c>playlist.m3u8</c> first, then <c>segment_00000.ts</c>, <c>segment_00001.ts</c>, ...
/// beside it at the top level (the playlist names them relative to itself): unpack and play <c>playlist.m3u8</c>.</para></summary>
public static class InteractiveOutput
{
    public const string PlaylistName = "playlist.m3u8";

    /// <summary>How much longer than the target a segment may be (rounded, it is still the target).</summary>
    public const double SegmentTolerance = 0.45;

    /// <summary>The <c>ID3Data</c> messages that go in the recording, in order of receipt.</summary>
    public static IReadOnlyList<MetadataMessage> Select(IEnumerable<(string Type, DateTime ReceivedAt, string PayloadJson)> messages, DateTime started, DateTime stopped)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var selected = new List<MetadataMessage>();
        foreach (var m in messages.Where(m => m.ReceivedAt >= started && m.ReceivedAt <= stopped).OrderBy(m => m.ReceivedAt))
        {
            if (m.Type == Meetings.BroadcastService.CloseTransport)
            {
                break;
            }
            if (m.Type == Meetings.BroadcastService.Id3Data)
            {
                selected.Add(new MetadataMessage(m.ReceivedAt, m.PayloadJson));
            }
        }
        return selected;
    }

    /// <summary>Where in the file the meeting was at <paramref name="at"/>: within a part, its offset there; between
    /// parts (paused, or a gap), where the next part starts; before the first, its start; after the last, its end.
    /// Null without parts.</summary>
    public static double? FileTime(IReadOnlyList<TimelinePart> parts, DateTime at)
    {
        ArgumentNullException.ThrowIfNull(parts);
        foreach (var p in parts)
        {
            if (at < p.WallStart)
            {
                return p.FileStart;
            }
            var into = (at - p.WallStart).TotalSeconds;
            if (into < p.Seconds)
            {
                return p.FileStart + into;
            }
        }
        return parts.Count == 0 ? null : parts[^1].FileStart + parts[^1].Seconds;
    }

    /// <summary>Where the segments start: the first keyframe, each part's first keyframe (a discontinuity), and in
    /// between the last keyframe within <paramref name="segmentSeconds"/> + <see cref="SegmentTolerance"/> of the
    /// segment's start (the first one after, when the keyframes are further apart than that).</summary>
    public static IReadOnlyList<HlsCut> Cuts(IReadOnlyList<double> keyframes, IReadOnlyList<TimelinePart> parts, double segmentSeconds, double end)
    {
        ArgumentNullException.ThrowIfNull(keyframes);
        ArgumentNullException.ThrowIfNull(parts);
        var kf = keyframes.Order().Distinct().ToList();
        if (kf.Count == 0)
        {
            return [new HlsCut(0, false)];
        }
        // Each part starts at the keyframe nearest its start (a new capture starts with one).
        var starts = new List<double> { kf[0] };
        foreach (var p in parts.Skip(1))
        {
            var nearest = kf.MinBy(k => Math.Abs(k - p.FileStart));
            if (Math.Abs(nearest - p.FileStart) < 0.5 && nearest > starts[^1])
            {
                starts.Add(nearest);
            }
        }
        var cuts = new List<HlsCut>();
        for (var i = 0; i < starts.Count; i++)
        {
            var s = starts[i];
            cuts.Add(new HlsCut(s, i > 0));
            var partEnd = i + 1 < starts.Count ? starts[i + 1] : end;
            while (partEnd - s > segmentSeconds + SegmentTolerance)
            {
                var candidates = kf.Where(k => k > s + 0.1 && k < partEnd - 0.1).ToList();
                if (candidates.Count == 0)
                {
                    break;
                }
                var within = candidates.Where(k => k <= s + segmentSeconds + SegmentTolerance).ToList();
                s = within.Count > 0 ? within[^1] : candidates[0];
                cuts.Add(new HlsCut(s, false));
            }
        }
        return cuts;
    }

    /// <summary>The times to hand ffmpeg's segment muxer (<c>-segment_times</c>), which cuts at the first keyframe
    /// at or after each: halfway between each cut's keyframe and the keyframe before it, so that rounding, or the
    /// few milliseconds ffmpeg moves timestamps by, cannot move a cut to another keyframe.</summary>
    public static IReadOnlyList<double> SegmentTimes(IReadOnlyList<HlsCut> cuts, IReadOnlyList<double> keyframes)
    {
        ArgumentNullException.ThrowIfNull(cuts);
        ArgumentNullException.ThrowIfNull(keyframes);
        var kf = keyframes.Order().Distinct().ToList();
        return cuts.Skip(1).Select(c =>
        {
            var before = kf.LastOrDefault(k => k < c.At - 0.001, c.At - 0.5);
            return (before + c.At) / 2;
        }).ToList();
    }

    /// <summary>A VOD playlist (version 3) of the segments, with a discontinuity before each that resumes the recording.</summary>
    public static string Playlist(IReadOnlyList<(string Name, double Seconds, bool Discontinuity)> segments, double segmentSeconds)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var target = Math.Max((int)Math.Round(segmentSeconds, MidpointRounding.AwayFromZero),
            segments.Count == 0 ? 1 : segments.Max(s => (int)Math.Round(s.Seconds, MidpointRounding.AwayFromZero)));
        var b = new StringBuilder();
        b.Append("#EXTM3U\n#EXT-X-VERSION:3\n");
        b.Append(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{target}\n");
        b.Append("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n");
        foreach (var (name, seconds, discontinuity) in segments)
        {
            if (discontinuity)
            {
                b.Append("#EXT-X-DISCONTINUITY\n");
            }
            b.Append(CultureInfo.InvariantCulture, $"#EXTINF:{seconds:0.000000},\n{name}\n");
        }
        b.Append("#EXT-X-ENDLIST\n");
        return b.ToString();
    }

    /// <summary>The ffmpeg arguments that cut <paramref name="input"/> into MPEG-TS segments at <paramref name="times"/>
    /// (stream copy, timestamps kept), listing each segment's start and end in <paramref name="listFile"/> (CSV).</summary>
    public static IReadOnlyList<string> SegmentArgs(string input, IReadOnlyList<double> times, string outDir, string listFile)
    {
        ArgumentNullException.ThrowIfNull(times);
        var a = new List<string> { "-hide_banner", "-loglevel", "error", "-y", "-i", input, "-map", "0:v", "-map", "0:a?", "-c", "copy",
            "-f", "segment", "-segment_format", "mpegts", "-reset_timestamps", "0", "-segment_list", listFile, "-segment_list_type", "csv" };
        if (times.Count > 0)
        {
            a.AddRange(["-segment_times", string.Join(',', times.Select(t => t.ToString("0.000000", CultureInfo.InvariantCulture)))]);
        }
        else
        {
            a.AddRange(["-segment_time", "100000"]);
        }
        a.Add(Path.Combine(outDir, "segment_%05d.ts"));
        return a;
    }

    /// <summary>Makes the tar at <paramref name="tarPath"/> from the joined file; <paramref name="work"/> is a folder
    /// of its own for the segments (emptied first). Returns the number of tags written.</summary>
    public static async Task<int> MakeAsync(string joined, IReadOnlyList<TimelinePart> parts, IReadOnlyList<MetadataMessage> messages, string work, string tarPath,
        RecorderOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(options);
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }
        Directory.CreateDirectory(work);
        var keyframes = await KeyframesAsync(options.Ffprobe, joined, ct);
        var end = await MediaTools.DurationAsync(options.Ffprobe, joined, ct) ?? (parts.Count > 0 ? parts[^1].FileStart + parts[^1].Seconds : 0);
        var cuts = Cuts(keyframes, parts, options.HlsSegmentSeconds, end);
        var list = Path.Combine(work, "segments.csv");
        await MediaTools.RunAsync("ffmpeg", options.Ffmpeg, SegmentArgs(joined, SegmentTimes(cuts, keyframes), work, list), Path.Combine(work, "ffmpeg-hls.log"), TimeSpan.FromMinutes(30), ct);

        var segments = new List<(string Name, double Start, double End, byte[] Bytes, long? FirstPts)>();
        foreach (var line in (await File.ReadAllLinesAsync(list, ct)).Where(l => l.Length > 0))
        {
            var f = line.Split(',');
            var name = f[0];
            var bytes = await File.ReadAllBytesAsync(Path.Combine(work, name), ct);
            segments.Add((name, Parse(f[1]), Parse(f[2]), bytes, TsId3Injector.FirstVideoPts(bytes)));
        }
        if (segments.Count == 0 || segments[0].FirstPts is not { } basePts)
        {
            throw new InvalidOperationException("ffmpeg made no MPEG-TS segment with video");
        }

        // The tags, on the first segment's video PTS base (the segments keep the file's timestamps).
        var perSegment = segments.Select(_ => new List<TimedTag>()).ToList();
        var origin = keyframes.Count > 0 ? keyframes.Min() : 0;
        foreach (var m in messages)
        {
            if (FileTime(parts, m.ReceivedAt) is not { } t)
            {
                continue;
            }
            var pts = basePts + (long)Math.Round((t - origin) * 90000);
            var index = Math.Max(0, segments.FindLastIndex(s => s.FirstPts is { } first && first <= pts));
            // Received while paused (or in a gap): at the resumed part's start, which is the first frame of the segment
            // cut there; that keyframe may lie a few milliseconds after the part's start as the join placed it, so the
            // tag goes to that segment, at its first frame, not at the end of the segment before.
            if (parts.Skip(1).Any(p => p.FileStart == t && m.ReceivedAt < p.WallStart)
                && segments.FindIndex(s => s.FirstPts is { } first && Math.Abs(first - pts) < 45000) is var resumed and >= 0)
            {
                index = resumed;
                pts = Math.Max(pts, segments[resumed].FirstPts!.Value);
            }
            perSegment[index].Add(new TimedTag(pts, Id3Tag.Priv(Id3Tag.PrivOwner, Encoding.UTF8.GetBytes(m.PayloadJson))));
        }
        var entries = new List<(string Name, double Seconds, bool Discontinuity)>();
        for (var i = 0; i < segments.Count; i++)
        {
            var s = segments[i];
            await File.WriteAllBytesAsync(Path.Combine(work, s.Name), TsId3Injector.Inject(s.Bytes, perSegment[i]), ct);
            // The segment that starts where a part of the recording starts follows a pause or a gap.
            var discontinuity = i > 0 && cuts.Any(c => c.Discontinuity && Math.Abs(c.At - (s.Start - segments[0].Start + origin)) < 0.5);
            entries.Add((s.Name, s.End - s.Start, discontinuity));
        }
        var playlist = Path.Combine(work, PlaylistName);
        await File.WriteAllTextAsync(playlist, Playlist(entries, options.HlsSegmentSeconds), ct);
        await Pack(tarPath, playlist, entries.Select(e => Path.Combine(work, e.Name)).ToList(), ct);
        return perSegment.Sum(p => p.Count);
    }

    /// <summary>The tar: the playlist first, the segments after it, all at the top level.</summary>
    public static async Task Pack(string tarPath, string playlist, IReadOnlyList<string> segments, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var tmp = tarPath + ".tmp";
        await using (var file = File.Create(tmp))
        {
            await using var tar = new TarWriter(file, TarEntryFormat.Ustar, leaveOpen: false);
            await tar.WriteEntryAsync(playlist, PlaylistName, ct);
            foreach (var s in segments)
            {
                await tar.WriteEntryAsync(s, Path.GetFileName(s), ct);
            }
        }
        File.Move(tmp, tarPath, overwrite: true);
    }

    /// <summary>The video keyframes' times in seconds (packets flagged K: no decoding).</summary>
    public static async Task<IReadOnlyList<double>> KeyframesAsync(string ffprobe, string file, CancellationToken ct)
    {
        var text = await MediaTools.RunAsync("ffprobe", ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", file], null, TimeSpan.FromMinutes(5), ct);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(','))
            .Where(f => f.Length >= 2 && f[1].StartsWith('K') && double.TryParse(f[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            .Select(f => Parse(f[0])).Order().ToList();
    }

    private static double Parse(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
