using Capstan.Server.Data;

namespace Capstan.Server.Domain;

/// <summary>Webhook events. Each is written to the outbox in the same transaction as the change it reports;
/// delivery to the app's webhooks reads the outbox (at least once).</summary>
public static class WebhookEvents
{
    public const string MeetingStarted = "meeting.started";
    public const string MeetingEnded = "meeting.ended";
    public const string ParticipantJoined = "meeting.participantJoined";
    public const string ParticipantLeft = "meeting.participantLeft";
    public const string ChatSynced = "meeting.chatSynced";
    public const string RecordingStatusUpdate = "recording.statusUpdate";
    public const string LivestreamingStatusUpdate = "livestreaming.statusUpdate";
    public const string Transcript = "meeting.transcript";
    public const string Summary = "meeting.summary";

    public static readonly IReadOnlyList<string> All =
        [MeetingStarted, MeetingEnded, ParticipantJoined, ParticipantLeft, ChatSynced, RecordingStatusUpdate, LivestreamingStatusUpdate, Transcript, Summary];

    /// <summary>Adds the event to the outbox of the context (saved with the caller's SaveChanges).</summary>
    public static void Enqueue(CapstanDbContext db, Guid appId, string eventName, object payload, DateTime now)
    {
        ArgumentNullException.ThrowIfNull(db);
        db.OutboxEvents.Add(new OutboxEventRow
        {
            EventId = Guid.NewGuid(),
            AppId = appId,
            EventName = eventName,
            PayloadJson = System.Text.Json.JsonSerializer.Serialize(payload),
            CreatedAt = now,
        });
    }

    /// <summary>The <c>meeting</c> object of every event (section 2.6).</summary>
    public static object MeetingPayload(MeetingRow meeting, SessionRow? session) => new Dictionary<string, object?>
    {
        ["id"] = Ids.Format(meeting.Id),
        ["sessionId"] = session is null ? null : Ids.Format(session.Id),
        ["title"] = meeting.Title,
        ["roomName"] = Ids.Format(meeting.Id),
        ["status"] = session?.Status ?? "LIVE",
        ["createdAt"] = Iso(meeting.CreatedAt),
        ["startedAt"] = session is null ? null : Iso(session.StartedAt),
        ["endedAt"] = session?.EndedAt is { } e ? Iso(e) : null,
        ["organizedBy"] = new Dictionary<string, object?> { ["id"] = Ids.Format(meeting.AppId), ["name"] = null },
    };

    public static object RecordingPayload(RecordingRow r, MeetingRow meeting, SessionRow? session)
    {
        var recording = new Dictionary<string, object?>
        {
            ["id"] = Ids.Format(r.Id),
            ["recordingId"] = Ids.Format(r.Id),
            ["status"] = r.Status,
            ["meetingId"] = Ids.Format(r.MeetingId),
            ["organizationId"] = Ids.Format(r.AppId),
            ["roomUUID"] = r.SessionId is { } s ? Ids.Format(s) : null,
            ["outputFileName"] = r.OutputFileName,
            ["invokedTime"] = Iso(r.InvokedTime),
            ["startedTime"] = r.StartedTime is { } st ? Iso(st) : null,
        };
        if (r.Status is RecordingStatus.Uploading or RecordingStatus.Uploaded or RecordingStatus.Errored)
        {
            recording["stoppedTime"] = r.StoppedTime is { } sp ? Iso(sp) : null;
            recording["fileSize"] = r.FileSize;
            recording["recordingDuration"] = r.DurationSeconds;
            recording["stopReason"] = r.StopReasonJson is null ? null : System.Text.Json.JsonDocument.Parse(r.StopReasonJson).RootElement.Clone();
        }
        if (r.Status == RecordingStatus.Uploaded)
        {
            recording["downloadUrl"] = r.DownloadUrl;
            recording["audioDownloadUrl"] = r.AudioDownloadUrl;
            recording["downloadUrlExpiry"] = r.DownloadUrlExpiry is { } x ? Iso(x) : null;
        }
        return new Dictionary<string, object?>
        {
            ["event"] = RecordingStatusUpdate,
            ["recording"] = recording,
            ["meeting"] = MeetingPayload(meeting, session),
        };
    }

    public static string Iso(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
