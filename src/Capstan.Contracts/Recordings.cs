using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Contracts;

public sealed class AudioConfig
{
    public string? Codec { get; set; }
    public string? Channel { get; set; }
    public bool? ExportFile { get; set; }
}

public sealed class WatermarkSize
{
    public int? Width { get; set; }
    public int? Height { get; set; }
}

public sealed class WatermarkConfig
{
    public string? Url { get; set; }
    public string? Position { get; set; }
    public WatermarkSize? Size { get; set; }
}

public sealed class VideoConfig
{
    public string? Codec { get; set; }
    public int? Width { get; set; }
    public int? Height { get; set; }
    public bool? ExportFile { get; set; }
    public WatermarkConfig? Watermark { get; set; }
}

public sealed class BucketConfig
{
    public bool? Enabled { get; set; }
}

public sealed class RtmpConfig
{
    public string? RtmpUrl { get; set; }
}

public sealed class InteractiveConfig
{
    public string? Type { get; set; }
}

/// <summary>A storage destination. Secrets (<c>access_key</c>, <c>secret</c>, <c>password</c>,
/// <c>private_key</c>) are accepted in requests and never written in responses.</summary>
public sealed class StorageConfig
{
    public string? Type { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? AccessKey { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; set; }

    public string? Bucket { get; set; }
    public string? Region { get; set; }
    public string? Path { get; set; }
    public string? AuthMethod { get; set; }
    public string? Username { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Password { get; set; }

    public string? Host { get; set; }
    public int? Port { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PrivateKey { get; set; }

    /// <summary>A copy without any secret field.</summary>
    public StorageConfig WithoutSecrets() => new()
    {
        Type = Type, Bucket = Bucket, Region = Region, Path = Path, AuthMethod = AuthMethod,
        Username = Username, Host = Host, Port = Port,
    };
}

/// <summary>The meeting-level <c>recording_config</c> (also the app default).</summary>
public sealed class RecordingConfig
{
    public AudioConfig? AudioConfig { get; set; }
    public VideoConfig? VideoConfig { get; set; }
    public string? FileNamePrefix { get; set; }
    public RtmpConfig? LiveStreamingConfig { get; set; }
    public int? MaxSeconds { get; set; }
    public BucketConfig? RealtimekitBucketConfig { get; set; }
    public StorageConfig? StorageConfig { get; set; }
}

public sealed class StartRecordingRequest
{
    public string? MeetingId { get; set; }
    public bool? AllowMultipleRecordings { get; set; }
    public AudioConfig? AudioConfig { get; set; }
    public string? FileNamePrefix { get; set; }
    public InteractiveConfig? InteractiveConfig { get; set; }
    public int? MaxSeconds { get; set; }
    public BucketConfig? RealtimekitBucketConfig { get; set; }
    public RtmpConfig? RtmpOutConfig { get; set; }
    public StorageConfig? StorageConfig { get; set; }
    public string? Url { get; set; }
    public VideoConfig? VideoConfig { get; set; }
}

public sealed class RecordingActionRequest
{
    public string? Action { get; set; }
}

public sealed class TrackLayerOutput
{
    public string? Type { get; set; }
    public StorageConfig? StorageConfig { get; set; }
}

public sealed class TrackLayer
{
    public string? MediaKind { get; set; }
    public string? FileNamePrefix { get; set; }
    public IList<TrackLayerOutput>? Outputs { get; set; }
}

/// <summary>Both generations of the track-recording body (SDK 6.4+ and the legacy 6.0-6.3 shape).
/// <c>max_seconds</c> is a number, or a numeric string as Dyte-v2 declared it.</summary>
public sealed class TrackRecordingRequest
{
    public string? MeetingId { get; set; }
    public IDictionary<string, TrackLayer>? Layers { get; set; }
    public IList<string>? UserIds { get; set; }
    public JsonElement? MaxSeconds { get; set; }
}

public sealed class CallerDto
{
    public required string Type { get; init; }

    [JsonPropertyName("user_Id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? UserId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }
}

public sealed class ReasonDto
{
    public required string Reason { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CallerDto? Caller { get; init; }
}

public sealed class RecordingDto
{
    public required string Id { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? AudioDownloadUrl { get; init; }

    /// <summary>A URL string for composite recordings; for TRACK recordings, the array of layers.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public object? DownloadUrl { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public DateTime? DownloadUrlExpiry { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public long? FileSize { get; init; }
    public DateTime InvokedTime { get; init; }
    public required string OutputFileName { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? SessionId { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public DateTime? StartedTime { get; init; }
    public required string Status { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public DateTime? StoppedTime { get; init; }
    public long RecordingDuration { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MeetingId { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ReasonDto? StartReason { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ReasonDto? StopReason { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public StorageConfig? StorageConfig { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MeetingDto? Meeting { get; init; }

    /// <summary>Capstan extension: SHA-256 (hex) of the delivered file, once uploaded.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Sha256 { get; init; }

    /// <summary>Capstan extension: SHA-256 (hex) of the separate audio file.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? AudioSha256 { get; init; }

    /// <summary>Capstan extension: why an ERRORED recording failed (which destination, what it said).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ErrorMessage { get; init; }

    /// <summary>Capstan extension: the stretches of the meeting a composite recording missed while it was on (a
    /// capture process that died and was restarted, a recorder that was killed and took the recording back), each
    /// from the last frame before it to the first frame after it. The file holds no such stretch: like a pause, it is
    /// joined over. Empty when there was none.</summary>
    [System.ComponentModel.Description("Capstan extension: stretches of the meeting the recording missed while it was on (a capture restart, a recorder killed and restarted), each from the last frame before it to the first frame after it; joined over in the file like a pause. Empty when there was none.")]
    public IReadOnlyList<RecordingGap> Gaps { get; init; } = [];

    /// <summary>Capstan extension: how a composite recording is composited, <c>native</c> (GStreamer, no browser)
    /// or <c>browser</c> (Chromium on the recorder view or the custom <c>url</c>); on single recordings, not in lists
    /// (which do not read the recording's config); absent on track recordings.</summary>
    [System.ComponentModel.Description("Capstan extension: how a composite recording is composited: native (a GStreamer compositor fed by Janus's forwarders, no browser) or browser (Chromium on the recorder view or the custom url, grabbed). A custom url always uses the browser (rtmp_out_config works with both). On single recordings (start, get, active, actions), not in lists; absent on track recordings.")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Compositor { get; init; }

    /// <summary>Capstan extension: while the recording waits for a recorder (INVOKED, no worker has claimed it), its
    /// place in the queue (1: the next one claimed; first come, first served); absent once claimed. On single
    /// recordings (start, get), not in lists.</summary>
    [System.ComponentModel.Description("Capstan extension: while the recording waits for a recorder (INVOKED, not yet claimed by a worker), its place in the queue of its type (1: the next one claimed; first come, first served). Absent once claimed. On start and get, not in lists.")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? QueuePosition { get; init; }
}

/// <summary>A stretch of a meeting that a recording missed: <c>start</c> and <c>end</c> are wall-clock instants.</summary>
public sealed record RecordingGap(
    [property: System.ComponentModel.Description("Wall-clock time of the last frame before the gap (ISO 8601, UTC)")] DateTime Start,
    [property: System.ComponentModel.Description("Wall-clock time of the first frame after the gap (ISO 8601, UTC)")] DateTime End);

public sealed record TrackRecordingResponse(RecordingDto Recording);

public sealed record TrackLayerDownloads(string LayerName, IReadOnlyDictionary<string, TrackFileDownload> DownloadUrls);

public sealed record TrackFileDownload(string DownloadUrl);
