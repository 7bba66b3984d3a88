using System.Formats.Tar;
using System.Text;
using Capstan.Server.Recorder;
using Capstan.Server.Recorder.Interactive;
using Capstan.Testing;

namespace Capstan.Server.Tests;

/// <summary>The interactive output's parts: ID3 tags, the MPEG-TS injector (read back by ffprobe), the keyframe
/// cuts, the recording's timeline, which messages count, the playlist and the tar; and the whole of it on a file
/// ffmpeg makes (two parts, as after a pause).</summary>
public sealed class InteractiveOutputTests
{
    private static readonly DateTime T0 = new(2026, 12, 6, 5, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Id3Tag_Priv_IsAnId3v24TagWithSyncsafeSizes_AndReadsBack()
    {
        var data = Encoding.UTF8.GetBytes(new string('x', 300)); // sizes over 127 need the syncsafe form
        var tag = Id3Tag.Priv(Id3Tag.PrivOwner, data);
        Assert.Equal("ID3"u8.ToArray(), tag[..3]);
        Assert.Equal(4, tag[3]);
        Assert.Equal(tag.Length - 10, (tag[6] << 21) | (tag[7] << 14) | (tag[8] << 7) | tag[9]);
        Assert.All(tag[6..10], b => Assert.True(b < 0x80));
        var (owner, read) = Assert.Single(Id3Tag.ReadPriv(tag));
        Assert.Equal(Id3Tag.PrivOwner, owner);
        Assert.Equal(data, read);
        Assert.Equal((Id3Tag.PrivOwner, new string('x', 300)), Assert.Single(HlsProbe.PrivFrames(tag)));
    }

    [Fact]
    public void Crc32_IsTheMpeg2Crc()
    {
        // The CRC-32/MPEG-2 check value.
        Assert.Equal(0x0376E6E7u, TsId3Injector.Crc32("123456789"u8));
    }

    [Fact]
    public void Select_TakesId3DataWhileRecording_UntilCloseTransport()
    {
        var started = T0;
        var stopped = T0.AddSeconds(20);
        var messages = new (string, DateTime, string)[]
        {
            ("ID3Data", T0.AddSeconds(-1), "\"before\""),
            ("CLOSE_TRANSPORT", T0.AddSeconds(-0.5), "{}"), // before the recording: not this recording's
            ("ID3Data", T0.AddSeconds(3), "\"a\""),
            ("chat", T0.AddSeconds(4), "\"other\""),
            ("ID3Data", T0.AddSeconds(5), "\"b\""),
            ("CLOSE_TRANSPORT", T0.AddSeconds(6), "{}"),
            ("ID3Data", T0.AddSeconds(7), "\"after close\""),
        };
        Assert.Equal(["\"a\"", "\"b\""], InteractiveOutput.Select(messages, started, stopped).Select(m => m.PayloadJson));
        Assert.Equal(["\"a\""], InteractiveOutput.Select(messages, started, T0.AddSeconds(4.5)).Select(m => m.PayloadJson));
    }

    [Fact]
    public void FileTime_IsTheRecordingsTimeline_PausesLeftOut()
    {
        // 0-4 s of the file recorded from T0; paused 6 s; 4-6.5 s from T0+10.
        TimelinePart[] parts = [new(T0, 0, 4), new(T0.AddSeconds(10), 4, 2.5)];
        Assert.Equal(1.5, InteractiveOutput.FileTime(parts, T0.AddSeconds(1.5))!.Value, 6);
        Assert.Equal(4, InteractiveOutput.FileTime(parts, T0.AddSeconds(7))!.Value, 6); // paused: where it resumed
        Assert.Equal(5, InteractiveOutput.FileTime(parts, T0.AddSeconds(11))!.Value, 6);
        Assert.Equal(6.5, InteractiveOutput.FileTime(parts, T0.AddSeconds(30))!.Value, 6);
        Assert.Equal(0, InteractiveOutput.FileTime(parts, T0.AddSeconds(-1))!.Value, 6);
        Assert.Null(InteractiveOutput.FileTime([], T0));
    }

    [Fact]
    public void Cuts_OnKeyframes_AtMostTheTargetPlusTolerance_AndAtEachPart()
    {
        // Keyframes every 2 s (the capture's), a second part from 23.1 s (a new capture: a keyframe there).
        var keyframes = Enumerable.Range(0, 12).Select(i => i * 2.0).Append(23.1).Concat(Enumerable.Range(1, 10).Select(i => 23.1 + (i * 2.0))).ToList();
        TimelinePart[] parts = [new(T0, 0, 23.1), new(T0.AddSeconds(40), 23.1, 20)];
        var cuts = InteractiveOutput.Cuts(keyframes, parts, 10, 43.1);
        Assert.Equal([0, 10, 20, 23.1, 33.1], cuts.Select(c => Math.Round(c.At, 3)));
        Assert.Equal([false, false, false, true, false], cuts.Select(c => c.Discontinuity));
        // Each cut is asked for halfway after the keyframe before it, so the segment muxer cuts at the keyframe itself.
        Assert.Equal([9, 19, 22.55, 32.1], InteractiveOutput.SegmentTimes(cuts, keyframes).Select(t => Math.Round(t, 3)));

        // Keyframes further apart than the target: the next keyframe.
        Assert.Equal([0, 12], InteractiveOutput.Cuts([0, 12, 24], [new(T0, 0, 30)], 10, 15).Select(c => c.At));
        // A jittered keyframe just past the target still counts within the tolerance.
        Assert.Equal([0, 10.3], InteractiveOutput.Cuts([0, 2, 4, 6, 8, 10.3, 12.3], [new(T0, 0, 14)], 10, 14).Select(c => c.At));
    }

    [Fact]
    public void Playlist_IsVod_WithDiscontinuityAndTargetDuration()
    {
        var text = InteractiveOutput.Playlist([("segment_00000.ts", 10.0, false), ("segment_00001.ts", 3.1, false), ("segment_00002.ts", 10.4, true)], 10);
        Assert.Equal(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            + "#EXTINF:10.000000,\nsegment_00000.ts\n#EXTINF:3.100000,\nsegment_00001.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:10.400000,\nsegment_00002.ts\n#EXT-X-ENDLIST\n",
            text);
    }

    /// <summary>The whole output on a real file: 4 s recorded, a 6 s pause, 2.5 s more (keyframes every 1 s), 2 s
    /// segments; tags at 1.5 s, during the pause (at the resume, 4 s) and at 5.5 s; ffprobe reads the ID3 stream.</summary>
    [Fact]
    public async Task MakeAsync_CutsTagsAndPacks_FfprobeReadsTheTimedId3()
    {
        var dir = Directory.CreateTempSubdirectory("capstan-hls-test-");
        try
        {
            var joined = Path.Combine(dir.FullName, "joined.mp4");
            await Tool.RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=30:duration=6.5",
                "-f", "lavfi", "-i", "sine=frequency=440:duration=6.5", "-c:v", "libx264", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
                "-bf", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", joined], ct: Ct);
            TimelinePart[] parts = [new(T0, 0, 4), new(T0.AddSeconds(10), 4, 2.5)];
            MetadataMessage[] messages = [new(T0.AddSeconds(1.5), "{\"n\":1}"), new(T0.AddSeconds(7), "{\"n\":2}"), new(T0.AddSeconds(11.5), "{\"n\":3,\"s\":\"é\"}")];
            var tar = Path.Combine(dir.FullName, "out.tar");
            var written = await InteractiveOutput.MakeAsync(joined, parts, messages, Path.Combine(dir.FullName, "hls"), tar, new RecorderOptions { HlsSegmentSeconds = 2 }, Ct);
            Assert.Equal(3, written);

            // The tar: the playlist first, the segments beside it.
            var unpacked = Directory.CreateDirectory(Path.Combine(dir.FullName, "unpacked"));
            var names = new List<string>();
            await using (var file = File.OpenRead(tar))
            await using (var reader = new TarReader(file))
            {
                while (await reader.GetNextEntryAsync(cancellationToken: Ct) is { } entry)
                {
                    names.Add(entry.Name);
                    await entry.ExtractToFileAsync(Path.Combine(unpacked.FullName, entry.Name), overwrite: false, Ct);
                }
            }
            Assert.Equal(InteractiveOutput.PlaylistName, names[0]);
            Assert.All(names.Skip(1), n => Assert.Matches(@"^segment_\d{5}\.ts$", n));
            var playlist = await File.ReadAllTextAsync(Path.Combine(unpacked.FullName, InteractiveOutput.PlaylistName), Ct);
            Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD", playlist, StringComparison.Ordinal);
            Assert.Contains("#EXT-X-TARGETDURATION:2\n", playlist, StringComparison.Ordinal);
            Assert.Equal(names.Skip(1), playlist.Split('\n').Where(l => l.EndsWith(".ts", StringComparison.Ordinal)));
            // The discontinuity comes before the segment that starts at 4 s (the third: 0-2, 2-4, 4-6, 6-6.5).
            var lines = playlist.Split('\n').ToList();
            Assert.Equal("#EXT-X-DISCONTINUITY", Assert.Single(lines, l => l.StartsWith("#EXT-X-DISCONTINUITY", StringComparison.Ordinal)));
            Assert.Equal("segment_00002.ts", lines[lines.IndexOf("#EXT-X-DISCONTINUITY") + 2]);

            var segments = names.Skip(1).Select(n => Path.Combine(unpacked.FullName, n)).ToList();
            var firstPts = (await HlsProbe.FirstVideoPacketAsync(segments[0])).Pts;
            var found = new List<(double Seconds, string Data)>();
            foreach (var s in segments)
            {
                Assert.Contains(("data", "timed_id3"), await HlsProbe.StreamsAsync(s));
                Assert.True((await HlsProbe.FirstVideoPacketAsync(s)).Key, $"{Path.GetFileName(s)} starts with a keyframe");
                foreach (var (pts, data) in await HlsProbe.Id3PacketsAsync(s))
                {
                    var frames = HlsProbe.PrivFrames(data);
                    Assert.True(frames.Count == 1, "one PRIV frame in " + Convert.ToHexString(data));
                    var (owner, payload) = frames[0];
                    Assert.Equal(Id3Tag.PrivOwner, owner);
                    found.Add(((pts - firstPts) / 90000.0, payload));
                    // In the segment whose time span holds it.
                    var start = (await HlsProbe.FirstVideoPacketAsync(s)).Pts;
                    Assert.True(pts >= start, $"tag at {pts} before its segment's start {start}");
                }
            }
            Assert.Equal(["{\"n\":1}", "{\"n\":2}", "{\"n\":3,\"s\":\"é\"}"], found.Select(f => f.Data));
            // The whole tags as written (ffprobe 5.1 drops their first 5 bytes: HlsProbe.WholeTag), read from the TS packets.
            var written3 = segments.SelectMany(s =>
            {
                var bytes = File.ReadAllBytes(s);
                var pid = TsId3Injector.Streams(bytes).Single(x => x.Type == TsId3Injector.MetadataStreamType).Pid;
                return TsId3Injector.ReadPes(bytes, pid);
            }).ToList();
            Assert.Equal(found.Select(f => f.Data), written3.Select(p => Encoding.UTF8.GetString(Assert.Single(Id3Tag.ReadPriv(p.Payload)).Data)));
            Assert.Equal([1.5, 4.0, 5.5], found.Select(f => Math.Round(f.Seconds, 3)));

            // The playlist plays through, as long as the file.
            var decoded = await Tool.RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-i", Path.Combine(unpacked.FullName, InteractiveOutput.PlaylistName), "-f", "null", "-"], stderr: true, ct: Ct);
            Assert.DoesNotContain("rror", decoded, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(10, true)]
    [InlineData(2, true)]
    [InlineData(1.5, false)]
    [InlineData(61, false)]
    public void HlsSegmentSeconds_IsValidated(double seconds, bool valid)
    {
        var result = new RecorderOptionsValidator().Validate(null, new RecorderOptions { HlsSegmentSeconds = seconds, Enabled = false });
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Recorder:HlsSegmentSeconds", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Inject_WithoutTags_StillAnnouncesTheStream_AndRejectsWhatIsNotTs()
    {
        Assert.Throws<FormatException>(() => TsId3Injector.Inject(new byte[100], []));
        var notSynced = new byte[188];
        Assert.Throws<FormatException>(() => TsId3Injector.Inject(notSynced, []));
    }
}
