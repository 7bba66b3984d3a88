using System.Text.Json.Serialization;

namespace Capstan.Client.Models;

/// <summary>A composite or track recording.</summary>
public sealed class Recording : ApiObject
{
    /// <summary>Recording id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>Status: see <see cref="RecordingStatus"/>.</summary>
    public required string Status { get; init; }

    /// <summary>Once uploaded: the signed download link of the file (composite), or the files of each layer (track).</summary>
    public RecordingDownloadUrl? DownloadUrl { get; init; }

    /// <summary>Once uploaded with an <c>audio_config</c>: the separate audio file.</summary>
    public string? AudioDownloadUrl { get; init; }

    /// <summary>When the download links expire.</summary>
    public DateTimeOffset? DownloadUrlExpiry { get; init; }

    /// <summary>Size of the file in bytes.</summary>
    public long? FileSize { get; init; }

    /// <summary>When the start request arrived.</summary>
    public DateTimeOffset InvokedTime { get; init; }

    /// <summary>When capture began.</summary>
    public DateTimeOffset? StartedTime { get; init; }

    /// <summary>When the recording stopped.</summary>
    public DateTimeOffset? StoppedTime { get; init; }

    /// <summary>File name of the recording.</summary>
    public string? OutputFileName { get; init; }

    /// <summary>The meeting session being recorded.</summary>
    public string? SessionId { get; init; }

    /// <summary>Seconds recorded (pauses excluded).</summary>
    public long? RecordingDuration { get; init; }

    /// <summary>The meeting id (track recordings).</summary>
    public string? MeetingId { get; init; }

    /// <summary><c>TRACK</c> for track recordings.</summary>
    public string? Type { get; init; }

    /// <summary>Why it started.</summary>
    public RecordingReason? StartReason { get; init; }

    /// <summary>Why it stopped.</summary>
    public RecordingReason? StopReason { get; init; }

    /// <summary>The storage destination (without secrets).</summary>
    public StorageConfig? StorageConfig { get; init; }

    /// <summary>The meeting (list items).</summary>
    public Meeting? Meeting { get; init; }

    /// <summary>Capstan extension: SHA-256 (hex) of the file.</summary>
    public string? Sha256 { get; init; }

    /// <summary>Capstan extension: SHA-256 (hex) of the separate audio file.</summary>
    public string? AudioSha256 { get; init; }

    /// <summary>Capstan extension: why an ERRORED recording failed.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>True while the recording may still change (INVOKED, RECORDING, PAUSED, UPLOADING).</summary>
    [JsonIgnore]
    public bool IsInProgress => Status is RecordingStatus.Invoked or RecordingStatus.Recording or RecordingStatus.Paused or RecordingStatus.Uploading;
}

/// <summary>Values of <see cref="Recording.Status"/>.</summary>
public static class RecordingStatus
{
    /// <summary>Accepted, waiting for the recorder.</summary>
    public const string Invoked = "INVOKED";

    /// <summary>Capturing.</summary>
    public const string Recording = "RECORDING";

    /// <summary>Paused.</summary>
    public const string Paused = "PAUSED";

    /// <summary>Stopped; the file is being delivered.</summary>
    public const string Uploading = "UPLOADING";

    /// <summary>Done; download links are set.</summary>
    public const string Uploaded = "UPLOADED";

    /// <summary>Failed; no file.</summary>
    public const string Errored = "ERRORED";
}

/// <summary><c>start_reason</c> / <c>stop_reason</c>.</summary>
public sealed class RecordingReason : ApiObject
{
    /// <summary>e.g. <c>API_CALL</c>, <c>RECORD_ON_START</c>, <c>ALL_PEERS_LEFT</c>, <c>INTERNAL_ERROR</c>.</summary>
    public string? Reason { get; init; }

    /// <summary>Who caused it.</summary>
    public RecordingCaller? Caller { get; init; }
}

/// <summary>Who started or stopped a recording.</summary>
public sealed class RecordingCaller : ApiObject
{
    /// <summary><c>ORGANIZATION</c>, <c>USER</c> or <c>INTERNAL</c>.</summary>
    public string? Type { get; init; }

    /// <summary>The user (wire name <c>user_Id</c>).</summary>
    [JsonPropertyName("user_Id")]
    public string? UserId { get; init; }

    /// <summary>Name.</summary>
    public string? Name { get; init; }
}

/// <summary>Options of <c>Recordings.StartRecordingsAsync</c>; unset fields are not sent.</summary>
public sealed class StartRecordingOptions
{
    /// <summary>The meeting to record (required).</summary>
    public required string MeetingId { get; set; }

    /// <summary>Allow another recording of the same meeting at the same time.</summary>
    public bool? AllowMultipleRecordings { get; set; }

    /// <summary>Audio; also produces a separate audio file.</summary>
    public AudioConfig? AudioConfig { get; set; }

    /// <summary>Prefix of the file name (<c>[A-Za-z0-9_]{1,64}</c>).</summary>
    public string? FileNamePrefix { get; set; }

    /// <summary>Interactive recording.</summary>
    public InteractiveConfig? InteractiveConfig { get; set; }

    /// <summary>Stop after this many seconds (60..86400, default 86400).</summary>
    public int? MaxSeconds { get; set; }

    /// <summary>Default bucket on or off.</summary>
    [JsonPropertyName("realtimekit_bucket_config")]
    public BucketConfig? RealtimeKitBucketConfig { get; set; }

    /// <summary>Also push to RTMP.</summary>
    public RtmpConfig? RtmpOutConfig { get; set; }

    /// <summary>Storage destination (overrides meeting and app).</summary>
    public StorageConfig? StorageConfig { get; set; }

    /// <summary>A custom recording page.</summary>
    public string? Url { get; set; }

    /// <summary>Video.</summary>
    public VideoConfig? VideoConfig { get; set; }
}

/// <summary>Options of <c>Recordings.PauseResumeStopRecordingAsync</c>.</summary>
public sealed class RecordingActionOptions
{
    /// <summary><c>pause</c>, <c>resume</c> or <c>stop</c> (see <see cref="RecordingAction"/>).</summary>
    public required string Action { get; set; }
}

/// <summary>Values of <see cref="RecordingActionOptions.Action"/>.</summary>
public static class RecordingAction
{
    /// <summary>Pause a RECORDING recording.</summary>
    public const string Pause = "pause";

    /// <summary>Resume a PAUSED recording.</summary>
    public const string Resume = "resume";

    /// <summary>Stop (an INVOKED one ends ERRORED; a RECORDING/PAUSED one goes UPLOADING).</summary>
    public const string Stop = "stop";
}

/// <summary>Options of <c>Recordings.StartTrackRecordingAsync</c>.</summary>
public sealed class StartTrackRecordingOptions
{
    /// <summary>The meeting (required); it must have a live session.</summary>
    public required string MeetingId { get; set; }

    /// <summary>Layers by name (the docs use <c>default</c>).</summary>
    public IDictionary<string, TrackLayer>? Layers { get; set; }

    /// <summary>Record only these participant user ids (at most 100).</summary>
    public IList<string>? UserIds { get; set; }
}

/// <summary>A layer of a track recording.</summary>
public sealed class TrackLayer
{
    /// <summary><c>audio</c> (Capstan also accepts <c>video</c>).</summary>
    public string? MediaKind { get; set; }

    /// <summary>Prefix of this layer's files.</summary>
    public string? FileNamePrefix { get; set; }
}

/// <summary>Options of <c>Recordings.GetRecordingsAsync</c>.</summary>
public sealed class RecordingListOptions : ListOptions
{
    /// <summary>Only this meeting's recordings.</summary>
    public string? MeetingId { get; set; }

    /// <summary>Only expired (true) or unexpired (false) default-bucket recordings.</summary>
    public bool? Expired { get; set; }

    /// <summary>Match on meeting id, title or file name.</summary>
    public string? Search { get; set; }

    /// <summary><c>invokedTime</c> (the only value).</summary>
    public string? SortBy { get; set; }

    /// <summary><c>ASC</c> or <c>DESC</c> (default).</summary>
    public string? SortOrder { get; set; }

    /// <summary>Invoked at or after.</summary>
    public DateTimeOffset? StartTime { get; set; }

    /// <summary>Invoked at or before.</summary>
    public DateTimeOffset? EndTime { get; set; }

    /// <summary>Only these statuses.</summary>
    public IList<string>? Status { get; set; }

    internal override Query AddFilters(Query query) => query
        .Add("meeting_id", MeetingId).Add("expired", Expired).Add("search", Search).Add("sort_by", SortBy).Add("sort_order", SortOrder)
        .Add("start_time", StartTime).Add("end_time", EndTime).Add("status", Status);
}
