using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Security;

namespace Capstan.Server.Domain;

/// <summary>What the recorder follows: the start request merged over the meeting's <c>recording_config</c> over
/// the app defaults, with defaults filled in. Stored as JSON on the recording (secrets encrypted).</summary>
public sealed class EffectiveRecordingConfig
{
    public string VideoCodec { get; set; } = "H264";
    public int Width { get; set; } = 1280;
    public int Height { get; set; } = 720;
    public bool VideoExport { get; set; } = true;
    public WatermarkConfig? Watermark { get; set; }
    public string AudioCodec { get; set; } = "AAC";
    public string AudioChannel { get; set; } = "stereo";
    public bool AudioExport { get; set; }
    public string? FileNamePrefix { get; set; }
    public int MaxSeconds { get; set; } = RecordingConfigs.DefaultMaxSeconds;
    public bool DefaultBucket { get; set; } = true;
    public string? RtmpUrl { get; set; }
    public string? Url { get; set; }
    public string? InteractiveType { get; set; }
    public bool AllowMultiple { get; set; }
    public StoredStorageConfig? Storage { get; set; }

    /// <summary>How a composite recording is composited, chosen when it is started (<see cref="ChooseCompositor"/>):
    /// <c>native</c> or <c>browser</c>; null for track recordings and for composite ones started before the choice was
    /// kept (the worker then chooses as it would now).</summary>
    public string? Compositor { get; set; }

    /// <summary>Adjustments made to the request (for example odd sizes rounded down to even).</summary>
    public List<string> Notes { get; set; } = [];

    public TrackRecordingConfig? Track { get; set; }

    /// <summary>The compositor of a composite recording: a custom <c>url</c> is a page only a browser can show;
    /// otherwise <c>Recorder:Compositor</c> (both compositors push RTMP out).</summary>
    public static string ChooseCompositor(EffectiveRecordingConfig c, string? configured)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.Url is null && configured == Recorder.RecorderOptions.NativeCompositor
            ? Recorder.RecorderOptions.NativeCompositor
            : Recorder.RecorderOptions.BrowserCompositor;
    }

    /// <summary>The delivered video file's extension: a tar of HLS segments and playlist for an interactive recording
    /// (<see cref="Recorder.Interactive.InteractiveOutput"/>), else <see cref="VideoExtension"/>.</summary>
    public string OutputExtension => InteractiveType is not null ? "tar" : VideoExtension;

    /// <summary>MP4 for H264, WebM for VP8/VP9 (decisions.md).</summary>
    public string VideoExtension => VideoCodec == "H264" ? "mp4" : "webm";

    /// <summary>The separate audio file: AAC in .m4a, MP3 in .mp3, Vorbis (VP8/VP9 recordings) in .ogg.</summary>
    public string AudioExtension => VideoCodec != "H264" ? "ogg" : AudioCodec == "MP3" ? "mp3" : "m4a";
}

public sealed class TrackRecordingConfig
{
    public List<TrackLayerConfig> Layers { get; set; } = [];

    /// <summary>Custom participant ids to record; empty means everyone.</summary>
    public List<string> UserIds { get; set; } = [];

    public bool LegacyShape { get; set; }
}

public sealed class TrackLayerConfig
{
    public required string Name { get; set; }
    public required string MediaKind { get; set; }
    public required string FileNamePrefix { get; set; }
    public bool DefaultBucket { get; set; } = true;
    public StoredStorageConfig? Storage { get; set; }
}

/// <summary>A meeting's or app's <c>recording_config</c> as stored: the public config plus its storage secrets.</summary>
public sealed class StoredRecordingConfig
{
    public required RecordingConfig Config { get; init; }
    public StoredStorageConfig? Storage { get; init; }
}

public static class RecordingConfigs
{
    public const int MinMaxSeconds = 60;
    public const int DefaultMaxSeconds = 86400;
    public static readonly IReadOnlyList<string> VideoCodecs = ["H264", "VP8", "VP9"];
    public static readonly IReadOnlyList<string> AudioCodecs = ["AAC", "MP3"];
    public static readonly IReadOnlyList<string> Channels = ["mono", "stereo"];
    public static readonly IReadOnlyList<string> WatermarkPositions = ["left top", "right top", "left bottom", "right bottom"];
    public static readonly IReadOnlyList<string> InteractiveTypes = ["ID3"];

    public static void ValidateAudio(AudioConfig? a, string field, Validation v)
    {
        if (a is null)
        {
            return;
        }
        v.OneOf(a.Codec, AudioCodecs, $"{field}.codec");
        v.OneOf(a.Channel, Channels, $"{field}.channel");
    }

    public static void ValidateVideo(VideoConfig? c, string field, Validation v)
    {
        if (c is null)
        {
            return;
        }
        v.OneOf(c.Codec, VideoCodecs, $"{field}.codec");
        v.Range(c.Width, 1, 1920, $"{field}.width");
        v.Range(c.Height, 1, 1920, $"{field}.height");
        if (c.Watermark is { } w)
        {
            v.Required(w.Url, $"{field}.watermark.url");
            v.Url(w.Url, $"{field}.watermark.url", "http", "https");
            v.OneOf(w.Position, WatermarkPositions, $"{field}.watermark.position");
            if (w.Size is { } s)
            {
                v.Range(s.Width, 1, 1920, $"{field}.watermark.size.width");
                v.Range(s.Height, 1, 1920, $"{field}.watermark.size.height");
            }
        }
    }

    /// <summary>Validates a meeting-level (or app-level) <c>recording_config</c>.</summary>
    public static void ValidateMeetingConfig(RecordingConfig? c, string field, Validation v, IReadOnlySet<string> storageAliases)
    {
        if (c is null)
        {
            return;
        }
        ValidateAudio(c.AudioConfig, $"{field}.audio_config", v);
        ValidateVideo(c.VideoConfig, $"{field}.video_config", v);
        v.FileNamePrefix(c.FileNamePrefix, $"{field}.file_name_prefix");
        v.Range(c.MaxSeconds, MinMaxSeconds, DefaultMaxSeconds, $"{field}.max_seconds");
        if (c.RealtimekitBucketConfig is { Enabled: null })
        {
            v.Add($"{field}.realtimekit_bucket_config.enabled is required");
        }
        v.Url(c.LiveStreamingConfig?.RtmpUrl, $"{field}.live_streaming_config.rtmp_url", "rtmp", "rtmps");
        StorageConfigs.Validate(c.StorageConfig, $"{field}.storage_config", v, storageAliases);
    }

    public static void ValidateStart(StartRecordingRequest r, Validation v, IReadOnlySet<string> storageAliases)
    {
        ValidateAudio(r.AudioConfig, "audio_config", v);
        ValidateVideo(r.VideoConfig, "video_config", v);
        v.FileNamePrefix(r.FileNamePrefix, "file_name_prefix");
        v.Range(r.MaxSeconds, MinMaxSeconds, DefaultMaxSeconds, "max_seconds");
        if (r.RealtimekitBucketConfig is { Enabled: null })
        {
            v.Add("realtimekit_bucket_config.enabled is required");
        }
        v.Url(r.RtmpOutConfig?.RtmpUrl, "rtmp_out_config.rtmp_url", "rtmp", "rtmps");
        v.Url(r.Url, "url", "http", "https");
        v.OneOf(r.InteractiveConfig?.Type, InteractiveTypes, "interactive_config.type");
        StorageConfigs.Validate(r.StorageConfig, "storage_config", v, storageAliases);
    }

    public static StoredRecordingConfig Store(RecordingConfig config, SecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(config);
        var storage = config.StorageConfig is { } s ? StorageConfigs.Protect(s, protector) : null;
        var publicConfig = JsonSerializer.Deserialize<RecordingConfig>(JsonSerializer.Serialize(config, CapstanJson.Options), CapstanJson.Options)!;
        publicConfig.StorageConfig = storage?.Public;
        return new StoredRecordingConfig { Config = publicConfig, Storage = storage };
    }

    /// <summary>Merges request over meeting over app, field by field inside <c>audio_config</c> and
    /// <c>video_config</c>; <c>storage_config</c> is taken whole from the first level that has one.</summary>
    public static EffectiveRecordingConfig Merge(StartRecordingRequest request, StoredRecordingConfig? meeting, StoredRecordingConfig? app, SecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(request);
        var m = meeting?.Config;
        var a = app?.Config;
        var e = new EffectiveRecordingConfig();

        var video = new[] { request.VideoConfig, m?.VideoConfig, a?.VideoConfig };
        e.VideoCodec = First(video.Select(x => x?.Codec)) ?? "H264";
        var width = FirstValue(video.Select(x => x?.Width)) ?? 1280;
        var height = FirstValue(video.Select(x => x?.Height)) ?? 720;
        e.Width = Even(width, "width", e.Notes);
        e.Height = Even(height, "height", e.Notes);
        e.VideoExport = FirstValue(video.Select(x => x?.ExportFile)) ?? true;
        e.Watermark = video.Select(x => x?.Watermark).FirstOrDefault(x => x is not null);
        if (e.Watermark is { } w)
        {
            w.Position ??= "left top";
        }

        var audio = new[] { request.AudioConfig, m?.AudioConfig, a?.AudioConfig };
        var anyAudio = audio.Any(x => x is not null);
        e.AudioChannel = First(audio.Select(x => x?.Channel)) ?? "stereo";
        if (e.VideoCodec == "H264")
        {
            e.AudioCodec = First(audio.Select(x => x?.Codec)) ?? "AAC";
        }
        else
        {
            e.AudioCodec = "VORBIS";
            if (First(audio.Select(x => x?.Codec)) is { } asked)
            {
                e.Notes.Add($"audio_config.codec {asked} ignored: {e.VideoCodec} recordings carry Vorbis audio");
            }
        }
        e.AudioExport = anyAudio && (FirstValue(audio.Select(x => x?.ExportFile)) ?? true);

        e.FileNamePrefix = request.FileNamePrefix ?? m?.FileNamePrefix ?? a?.FileNamePrefix;
        e.MaxSeconds = request.MaxSeconds ?? m?.MaxSeconds ?? a?.MaxSeconds ?? DefaultMaxSeconds;
        e.DefaultBucket = request.RealtimekitBucketConfig?.Enabled ?? m?.RealtimekitBucketConfig?.Enabled ?? a?.RealtimekitBucketConfig?.Enabled ?? true;
        e.RtmpUrl = request.RtmpOutConfig?.RtmpUrl ?? m?.LiveStreamingConfig?.RtmpUrl ?? a?.LiveStreamingConfig?.RtmpUrl;
        e.Url = request.Url;
        e.InteractiveType = request.InteractiveConfig?.Type;
        e.AllowMultiple = request.AllowMultipleRecordings ?? false;
        e.Storage = request.StorageConfig is { } rs ? StorageConfigs.Protect(rs, protector) : meeting?.Storage ?? app?.Storage;

        if (e.InteractiveType is not null && e.VideoCodec != "H264")
        {
            throw CapstanException.Invalid($"interactive_config needs video_config.codec H264: an interactive recording is HLS with MPEG-TS segments, which cannot carry {e.VideoCodec}");
        }
        if (e.InteractiveType is not null && !e.VideoExport)
        {
            throw CapstanException.Invalid("interactive_config needs the video file (video_config.export_file is false): an interactive recording is delivered as HLS video");
        }
        if (!e.VideoExport && !e.AudioExport)
        {
            throw CapstanException.Invalid("video_config.export_file is false and no audio file is exported (pass audio_config): the recording would produce no file");
        }
        if (!e.DefaultBucket && e.Storage is null)
        {
            throw CapstanException.Invalid("realtimekit_bucket_config.enabled is false and there is no storage_config (request, meeting or app): the recording would be delivered nowhere");
        }
        return e;
    }

    private static T? First<T>(IEnumerable<T?> values)
        where T : class => values.FirstOrDefault(v => v is not null);

    private static T? FirstValue<T>(IEnumerable<T?> values)
        where T : struct => values.FirstOrDefault(v => v.HasValue);

    /// <summary>decisions.md: odd sizes are rounded down to even for the encoder, and the stored config says so.</summary>
    private static int Even(int value, string name, List<string> notes)
    {
        var even = Math.Max(2, value - (value % 2));
        if (even != value)
        {
            notes.Add($"video_config.{name} {value} rounded to {even} (the encoder needs even sizes)");
        }
        return even;
    }
}
