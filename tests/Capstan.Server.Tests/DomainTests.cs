using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Api;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Security;

namespace Capstan.Server.Tests;

/// <summary>Pure domain rules: state machine, config merge, file names, paging, address classes, error text.</summary>
public sealed class DomainTests
{
    private static readonly SecretProtector Protector = new(new CapstanOptions { EncryptionKey = Convert.ToBase64String(new byte[32]) });

    [Theory]
    [InlineData("INVOKED", "RECORDING", true)]
    [InlineData("RECORDING", "PAUSED", true)]
    [InlineData("PAUSED", "RECORDING", true)]
    [InlineData("RECORDING", "UPLOADING", true)]
    [InlineData("PAUSED", "UPLOADING", true)]
    [InlineData("UPLOADING", "UPLOADED", true)]
    [InlineData("INVOKED", "ERRORED", true)]
    [InlineData("UPLOADING", "ERRORED", true)]
    [InlineData("INVOKED", "PAUSED", false)]
    [InlineData("INVOKED", "UPLOADING", false)]
    [InlineData("UPLOADED", "ERRORED", false)]
    [InlineData("ERRORED", "RECORDING", false)]
    [InlineData("UPLOADED", "RECORDING", false)]
    [InlineData("PAUSED", "PAUSED", false)]
    public void Transitions_FollowTheLifecycle(string from, string to, bool allowed)
    {
        Assert.Equal(allowed, RecordingStatus.CanTransition(from, to));
        if (!allowed)
        {
            var e = Assert.Throws<CapstanException>(() => RecordingStatus.EnsureTransition(from, to, "change"));
            Assert.Equal(400, e.HttpStatus);
            Assert.Contains(from, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Merge_RequestOverMeetingOverApp_WithDefaults()
    {
        var app = RecordingConfigs.Store(new RecordingConfig
        {
            VideoConfig = new VideoConfig { Width = 1920, Height = 1080 },
            MaxSeconds = 3600,
            FileNamePrefix = "app",
            StorageConfig = new StorageConfig { Type = "gcs", Bucket = "app-bucket", Secret = "{}" },
        }, Protector);
        var meeting = RecordingConfigs.Store(new RecordingConfig { VideoConfig = new VideoConfig { Height = 720 }, FileNamePrefix = "meeting", AudioConfig = new AudioConfig { Channel = "mono" } }, Protector);
        var e = RecordingConfigs.Merge(new StartRecordingRequest { MaxSeconds = 90 }, meeting, app, Protector);
        Assert.Equal((1920, 720, 90, "meeting", "mono", true), (e.Width, e.Height, e.MaxSeconds, e.FileNamePrefix, e.AudioChannel, e.AudioExport));
        Assert.Equal("app-bucket", e.Storage!.Public.Bucket);
        Assert.Equal(("H264", "AAC", "mp4", "m4a"), (e.VideoCodec, e.AudioCodec, e.VideoExtension, e.AudioExtension));

        var plain = RecordingConfigs.Merge(new StartRecordingRequest(), null, null, Protector);
        Assert.Equal((1280, 720, 86400, false, true, true), (plain.Width, plain.Height, plain.MaxSeconds, plain.AudioExport, plain.VideoExport, plain.DefaultBucket));
    }

    [Fact]
    public void Merge_Vp8ForcesVorbis_AndOddSizesRoundDown()
    {
        var e = RecordingConfigs.Merge(new StartRecordingRequest { VideoConfig = new VideoConfig { Codec = "VP8", Width = 641, Height = 1 }, AudioConfig = new AudioConfig { Codec = "MP3" } }, null, null, Protector);
        Assert.Equal(("VORBIS", "webm", "ogg", 640, 2), (e.AudioCodec, e.VideoExtension, e.AudioExtension, e.Width, e.Height));
        Assert.Equal(3, e.Notes.Count);
    }

    [Fact]
    public void Merge_AudioOnlyExport_AndNothingToProduceIsRefused()
    {
        var audioOnly = RecordingConfigs.Merge(new StartRecordingRequest { VideoConfig = new VideoConfig { ExportFile = false }, AudioConfig = new AudioConfig() }, null, null, Protector);
        Assert.Equal((false, true), (audioOnly.VideoExport, audioOnly.AudioExport));
        Assert.Throws<CapstanException>(() => RecordingConfigs.Merge(new StartRecordingRequest { VideoConfig = new VideoConfig { ExportFile = false } }, null, null, Protector));
    }

    [Theory]
    [InlineData("Physics: 9am / Room 4", "Physics-9am-Room-4")]
    [InlineData("  ", "{id}")]
    [InlineData("Réunion d'équipe", "Réunion-déquipe")]
    [InlineData("../../etc/passwd", "etc-passwd")]
    [InlineData("日本語 会議", "日本語-会議")]
    [InlineData("'!?*", "{id}")]
    public void Sanitize_MakesSafeFileStems(string title, string expected)
    {
        var id = Guid.NewGuid();
        Assert.Equal(expected.Replace("{id}", id.ToString(), StringComparison.Ordinal), RecordingService.Sanitize(title, id));
    }

    [Fact]
    public void FileNames_FollowDecisions()
    {
        var meeting = new MeetingRow { Id = Guid.NewGuid(), Status = "ACTIVE", Title = "Team" };
        var config = new EffectiveRecordingConfig { FileNamePrefix = "p1", AudioExport = true };
        var now = new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);
        var (output, audio) = RecordingService.FileNames(meeting, config, RecordingTypes.Composite, now);
        Assert.Equal("p1_Team_1767323045678.mp4", output);
        Assert.Equal("p1_Team_1767323045678.m4a", audio);
    }

    [Fact]
    public void FileNames_InteractiveRecording_IsATar()
    {
        var meeting = new MeetingRow { Id = Guid.NewGuid(), Status = "ACTIVE", Title = "Quiz" };
        var config = RecordingConfigs.Merge(new StartRecordingRequest { InteractiveConfig = new InteractiveConfig { Type = "ID3" } }, null, null, Protector);
        var now = new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);
        Assert.Equal(("Quiz_1767323045678.tar", null), RecordingService.FileNames(meeting, config, RecordingTypes.Composite, now));
        var e = Assert.Throws<CapstanException>(() => RecordingConfigs.Merge(new StartRecordingRequest { InteractiveConfig = new InteractiveConfig { Type = "ID3" }, VideoConfig = new VideoConfig { Codec = "VP8" } }, null, null, Protector));
        Assert.StartsWith("interactive_config", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 20, 45, 20, 1, 20)]
    [InlineData(3, 20, 45, 5, 41, 45)]
    [InlineData(4, 20, 45, 0, 0, 0)]
    public void Paging_OffsetsAreOneBasedInclusive(int page, int perPage, long total, int returned, long start, long end)
    {
        var p = new PageRequest(page, perPage).PagingFor(total, returned);
        Assert.Equal((total, start, end), (p.TotalCount, p.StartOffset, p.EndOffset));
    }

    [Fact]
    public void JsonErrors_NameTheField()
    {
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<StartRecordingRequest>("""{"video_config":{"width":"wide"}}""", CapstanJson.Options));
        Assert.Equal("video_config.width has the wrong type: expected an integer", ErrorHandler.DescribeJson(e));
    }

    [Fact]
    public void SecretProtector_RoundTripsAndDetectsTampering()
    {
        var sealedText = Protector.Protect("hello");
        Assert.DoesNotContain("hello", sealedText, StringComparison.Ordinal);
        Assert.Equal("hello", Protector.Unprotect(sealedText));
        var bytes = Convert.FromBase64String(sealedText[3..]);
        bytes[^1] ^= 1;
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => Protector.Unprotect("v1:" + Convert.ToBase64String(bytes)));
    }

    [Fact]
    public void DatabaseProvider_IsChosenByConnectionString()
    {
        Assert.Equal(DatabaseProvider.Postgres, DatabaseSetup.DetectProvider("Host=db;Database=capstan;Username=u"));
        Assert.Equal(DatabaseProvider.Sqlite, DatabaseSetup.DetectProvider("Data Source=/tmp/x.db"));
    }

    [Fact]
    public void Presets_HaveStableDistinctIdsPerApp()
    {
        var a = Guid.NewGuid();
        var b = Guid.NewGuid();
        Assert.Equal(Presets.IdOf(a, Presets.Host), Presets.IdOf(a, Presets.Host));
        Assert.NotEqual(Presets.IdOf(a, Presets.Host), Presets.IdOf(b, Presets.Host));
        Assert.Equal(3, Presets.Names.Select(n => Presets.IdOf(a, n)).Distinct().Count());
        Assert.Equal(Presets.Recorder, Presets.NameOf(a, Presets.IdOf(a, Presets.Recorder)));
    }
}
