using System.Text.Json.Serialization;

namespace Capstan.Server.Recorder;

/// <summary>The sync manifest delivered beside a track recording's files (<c>manifest.json</c>). Every time is on
/// the session's clock: milliseconds since <see cref="SessionStartedAtMs"/>, the moment the meeting's session
/// started (the same wall clock as every recording's <c>started_time</c>). A file's media time <c>t</c> (seconds)
/// maps to the session clock through its <see cref="TrackManifestFile.Segments"/>: the segment with
/// <c>file_offset_ms &lt;= t*1000 &lt; file_offset_ms + duration_ms</c> puts it at
/// <c>start_ms + (t*1000 - file_offset_ms)</c>. A composite recording of the same session starts at
/// <c>started_time - session_started_at</c> on that clock (minus its own pauses), so the two can be lined up.</summary>
public sealed class TrackManifest
{
    public int Version { get; set; } = 1;

    public required string RecordingId { get; set; }

    public required string MeetingId { get; set; }

    public string? SessionId { get; set; }

    /// <summary>The session clock's zero, as an ISO time and as Unix epoch milliseconds.</summary>
    public DateTime SessionStartedAt { get; set; }

    public long SessionStartedAtMs { get; set; }

    /// <summary>The intervals the recording was on (pauses are the gaps), on the session clock.</summary>
    public List<TrackManifestInterval> Recorded { get; set; } = [];

    public List<TrackManifestFile> Files { get; set; } = [];
}

public sealed class TrackManifestInterval
{
    public long StartMs { get; set; }

    public long EndMs { get; set; }
}

public sealed class TrackManifestFile
{
    public required string Layer { get; set; }

    public required string FileName { get; set; }

    /// <summary>The participant's custom id (the id <c>user_ids</c> matches), or its id when it has none.</summary>
    public required string UserId { get; set; }

    public string? ParticipantId { get; set; }

    public required string PeerId { get; set; }

    public string? DisplayName { get; set; }

    /// <summary><c>webcam</c> (the meeting page publishes its camera and microphone) or <c>screenshare</c> (a shared
    /// screen, its own feed: its video, and its audio when it has any).</summary>
    public required string StreamKind { get; set; }

    /// <summary><c>audio</c> or <c>video</c>.</summary>
    public required string MediaKind { get; set; }

    /// <summary>The codec in the file (<c>opus</c>, <c>vp8</c>, <c>vp9</c>).</summary>
    public required string Codec { get; set; }

    /// <summary>Codec as the participant sent it, when it had to be re-encoded for WebM (H.264).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SourceCodec { get; set; }

    /// <summary>First and last media of the file on the session clock.</summary>
    public long StartMs { get; set; }

    public long EndMs { get; set; }

    /// <summary>The file's own length (the pauses excluded).</summary>
    public long DurationMs { get; set; }

    public List<TrackManifestSegment> Segments { get; set; } = [];

    public long Size { get; set; }

    public required string Sha256 { get; set; }
}

/// <summary>One continuous stretch of a file: where it lies in the file and on the session clock.</summary>
public sealed class TrackManifestSegment
{
    public long FileOffsetMs { get; set; }

    public long StartMs { get; set; }

    public long DurationMs { get; set; }
}
