namespace Capstan.Server.Data;

// Persistence rows. Timestamps are UTC DateTime (SQLite cannot order DateTimeOffset); JSON documents
// (configs, reasons) are stored as text so that both providers share one model.

public sealed class Account
{
    public required string Id { get; set; }
    public DateTime CreatedAt { get; set; }
}

public sealed class ApiToken
{
    public Guid Id { get; set; }
    public required string AccountId { get; set; }

    /// <summary>SHA-256 of the token, hex. The token itself is never stored.</summary>
    public required string TokenHash { get; set; }

    public required string Hint { get; set; }
    public DateTime CreatedAt { get; set; }
}

public sealed class AppRow
{
    public Guid Id { get; set; }
    public required string AccountId { get; set; }
    public required string Name { get; set; }
    public DateTime CreatedAt { get; set; }

    /// <summary>App-level recording defaults (<c>recording_config</c> shape), secrets encrypted.</summary>
    public string? DefaultRecordingConfigJson { get; set; }
}

public sealed class MeetingRow
{
    public Guid Id { get; set; }
    public Guid AppId { get; set; }
    public string? Title { get; set; }
    public required string Status { get; set; }
    public bool RecordOnStart { get; set; }
    public bool LiveStreamOnStart { get; set; }
    public bool PersistChat { get; set; }
    public bool SummarizeOnEnd { get; set; }
    public bool TranscribeOnEnd { get; set; }
    public int SessionKeepAliveTimeInSecs { get; set; }
    public string? RecordingConfigJson { get; set; }
    public string? AiConfigJson { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }

    /// <summary>Recording guard: number of active (INVOKED, RECORDING, PAUSED) recordings.</summary>
    public int ActiveRecordings { get; set; }

    /// <summary>Recording guard: an active recording started without <c>allow_multiple_recordings</c> exists.</summary>
    public bool ExclusiveRecordingActive { get; set; }
}

public sealed class ParticipantRow
{
    public Guid Id { get; set; }
    public Guid AppId { get; set; }
    public Guid MeetingId { get; set; }
    public required string CustomParticipantId { get; set; }
    public required string PresetName { get; set; }
    public string? Name { get; set; }
    public string? Picture { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

public sealed class SessionRow
{
    public Guid Id { get; set; }
    public Guid AppId { get; set; }
    public Guid MeetingId { get; set; }
    public string? MeetingTitle { get; set; }
    public required string Status { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime? EndedAt { get; set; }

    /// <summary>When the last participant left; the session ends after the keep-alive from here.</summary>
    public DateTime? EmptySince { get; set; }

    public int MaxConcurrentParticipants { get; set; }
}

public sealed class SessionPeerRow
{
    public Guid Id { get; set; }
    public Guid SessionId { get; set; }
    public Guid AppId { get; set; }
    public Guid? ParticipantId { get; set; }
    public string? CustomParticipantId { get; set; }
    public string? DisplayName { get; set; }
    public string? PresetName { get; set; }
    public bool Hidden { get; set; }
    public DateTime JoinedAt { get; set; }
    public DateTime? LeftAt { get; set; }
    public string? LeaveReason { get; set; }

    /// <summary>When this peer shared a screen: a JSON list of <see cref="Domain.ScreenShareSpan"/> (null: never).</summary>
    public string? ScreenSharesJson { get; set; }
}

/// <summary>A broadcast message sent in a session (<c>broadcastMessage(type, payload)</c> on the meeting page, or the
/// REST extension): kept with the session, with the server's time of receipt (an interactive recording's ID3 data is
/// placed on the recording's timeline by it).</summary>
public sealed class SessionBroadcastRow
{
    public Guid Id { get; set; }
    public Guid SessionId { get; set; }
    public Guid MeetingId { get; set; }
    public Guid AppId { get; set; }

    /// <summary>The sending peer (null: sent through the REST API).</summary>
    public Guid? PeerId { get; set; }

    public required string Type { get; set; }

    /// <summary>The payload as JSON.</summary>
    public required string PayloadJson { get; set; }

    /// <summary>When the server received it.</summary>
    public DateTime ReceivedAt { get; set; }
}

public sealed class RecordingRow
{
    public Guid Id { get; set; }
    public Guid AppId { get; set; }
    public Guid MeetingId { get; set; }
    public Guid? SessionId { get; set; }

    /// <summary><c>COMPOSITE</c> or <c>TRACK</c>.</summary>
    public required string Type { get; set; }

    public required string Status { get; set; }
    public bool AllowMultiple { get; set; }
    public required string OutputFileName { get; set; }
    public string? AudioFileName { get; set; }

    /// <summary>The effective, merged config the recorder follows (secrets encrypted).</summary>
    public required string ConfigJson { get; set; }

    /// <summary>The destination as shown in responses (no secrets), or null.</summary>
    public string? StorageConfigJson { get; set; }

    public string? StartReasonJson { get; set; }
    public string? StopReasonJson { get; set; }
    public DateTime InvokedTime { get; set; }
    public DateTime? StartedTime { get; set; }
    public DateTime? StoppedTime { get; set; }
    public long? FileSize { get; set; }
    public long DurationSeconds { get; set; }
    public string? DownloadUrl { get; set; }
    public string? AudioDownloadUrl { get; set; }
    public DateTime? DownloadUrlExpiry { get; set; }

    /// <summary>For TRACK recordings after upload: the layer list of decisions.md, as JSON.</summary>
    public string? TrackDownloadsJson { get; set; }

    public string? ErrorMessage { get; set; }

    /// <summary>SHA-256 (hex) of the delivered file (the video file, or the audio file of an audio-only recording).</summary>
    public string? Sha256 { get; set; }

    public string? AudioSha256 { get; set; }

    /// <summary>Stretches of the meeting the recording missed while it was on (a capture restart, a recorder that
    /// was killed and took the recording back): a JSON list of <c>{start, end}</c>, null when there was none.</summary>
    public string? GapsJson { get; set; }

    public DateTime UpdatedAt { get; set; }
}

public sealed class RecorderJobRow
{
    public Guid Id { get; set; }
    public Guid RecordingId { get; set; }

    /// <summary><c>QUEUED</c>, <c>CLAIMED</c>, <c>DONE</c> or <c>CANCELLED</c>.</summary>
    public required string State { get; set; }

    /// <summary>What the API wants the worker to do: <c>RECORD</c>, <c>PAUSE</c>, <c>STOP</c>.</summary>
    public required string DesiredState { get; set; }

    public string? StopReasonJson { get; set; }
    public string? LeaseOwner { get; set; }
    public DateTime? LeaseExpiresAt { get; set; }
    public int Attempts { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

public sealed class WebhookRow
{
    public Guid Id { get; set; }
    public Guid AppId { get; set; }
    public required string Name { get; set; }
    public required string Url { get; set; }

    /// <summary>Event names, comma separated.</summary>
    public required string Events { get; set; }

    public bool Enabled { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>An event waiting for delivery to the app's webhooks (the outbox).</summary>
public sealed class OutboxEventRow
{
    public long Id { get; set; }
    public Guid EventId { get; set; }
    public Guid AppId { get; set; }
    public required string EventName { get; set; }
    public required string PayloadJson { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? DispatchedAt { get; set; }
}

/// <summary>RSA keys that sign participant tokens; old keys stay valid for verification until retired.</summary>
public sealed class SigningKeyRow
{
    public required string Kid { get; set; }
    public required string Purpose { get; set; }

    /// <summary>PKCS#8 private key, encrypted with the data protection key.</summary>
    public required string PrivateKeyProtected { get; set; }

    public required string PublicKeyPem { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? RetiredAt { get; set; }
}

/// <summary>The Janus VideoRoom of a meeting while it has a live session. The pin is what a browser needs to
/// join; it is handed out only to holders of a valid participant token. The secret manages the room.</summary>
public sealed class MeetingRoomRow
{
    public Guid MeetingId { get; set; }
    public long RoomId { get; set; }
    public required string JanusUrl { get; set; }
    public required string Pin { get; set; }
    public required string Secret { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>A Janus feed id handed to a participant's page: when Janus reports that id in the room, the server
/// knows which participant joined.</summary>
public sealed class JanusFeedRow
{
    public long FeedId { get; set; }
    public Guid MeetingId { get; set; }
    public long RoomId { get; set; }
    public Guid ParticipantId { get; set; }
    public bool Hidden { get; set; }

    /// <summary>The session peer once Janus confirmed the join.</summary>
    public Guid? PeerId { get; set; }

    public DateTime CreatedAt { get; set; }
}

/// <summary>One event to one webhook: delivered at least once, retried with backoff on 5xx and network errors.
/// Its id is the <c>rtk-uuid</c> header (the same on every attempt, for deduplication).</summary>
public sealed class WebhookDeliveryRow
{
    public Guid Id { get; set; }
    public long OutboxEventId { get; set; }
    public Guid WebhookId { get; set; }
    public Guid AppId { get; set; }
    public required string EventName { get; set; }

    /// <summary><c>PENDING</c>, <c>DELIVERED</c> or <c>FAILED</c>.</summary>
    public required string Status { get; set; }

    public int Attempts { get; set; }
    public DateTime NextAttemptAt { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? DeliveredAt { get; set; }
}

/// <summary>Every attempt of a delivery, kept for listing.</summary>
public sealed class WebhookAttemptRow
{
    public long Id { get; set; }
    public Guid DeliveryId { get; set; }
    public DateTime AttemptedAt { get; set; }
    public int? StatusCode { get; set; }
    public string? Error { get; set; }
    public int DurationMs { get; set; }
}

/// <summary>A recorder worker as it last reported itself (every few seconds while it runs; removed when it stops
/// cleanly): what the dashboard's System page lists as the nodes.</summary>
public sealed class RecorderNodeRow
{
    /// <summary>The worker's lease owner name (<see cref="Recorder.NodeIdentity.Owner"/>).</summary>
    public required string Owner { get; set; }

    /// <summary>The <c>node</c> label of its metrics (<c>Metrics:Node</c>, default the machine name).</summary>
    public required string Node { get; set; }

    public int Slots { get; set; }
    public int Busy { get; set; }
    public int Warm { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime SeenAt { get; set; }

    /// <summary>When the node began draining (told to stop: it claims nothing new, lets its recordings finish,
    /// then hands the rest over); null while it claims.</summary>
    public DateTime? DrainingSince { get; set; }

    /// <summary>Its measured capacity (<see cref="Recorder.CostMeter"/>): the cores and memory its recordings may use
    /// (headroom applied) and what they use now; null from a node that does not measure.</summary>
    public double? CpuCores { get; set; }
    public double? CpuUsed { get; set; }
    public long? MemoryBytes { get; set; }
    public long? MemoryUsedBytes { get; set; }

    /// <summary>The estimate per cost class, JSON: <c>{"browser:720p30": {"cores", "memory_bytes", "measured", "samples"}}</c>.</summary>
    public string? CostClassesJson { get; set; }
}
