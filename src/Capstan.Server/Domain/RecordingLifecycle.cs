using Capstan.Contracts;
using Capstan.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Domain;

/// <summary>Every recording status change goes through here: it checks the transition, releases the meeting's
/// recording guard when a composite recording stops being active, and writes <c>recording.statusUpdate</c>
/// to the outbox. Callers run it inside a transaction and save.</summary>
public sealed class RecordingLifecycle(CapstanDbContext db, TimeProvider time, RecordingCounts? counts = null, Hosting.CapstanMetrics? metrics = null)
{
    public static readonly ReasonDto OrganizationCaller = new() { Reason = StopReasons.ApiCall, Caller = new CallerDto { Type = "ORGANIZATION" } };

    public async Task TransitionAsync(RecordingRow r, string to, string action, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        RecordingStatus.EnsureTransition(r.Status, to, action);
        var wasActive = RecordingStatus.IsActive(r.Status);
        r.Status = to;
        r.UpdatedAt = Now;
        counts?.Invalidate();
        if (wasActive && !RecordingStatus.IsActive(to) && r.Type == RecordingTypes.Composite)
        {
            await ReleaseGuardAsync(r, ct);
        }
        var meeting = await db.Meetings.AsNoTracking().FirstAsync(m => m.Id == r.MeetingId, ct);
        var session = r.SessionId is { } sid ? await db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == sid, ct) : null;
        WebhookEvents.Enqueue(db, r.AppId, WebhookEvents.RecordingStatusUpdate, WebhookEvents.RecordingPayload(r, meeting, session), Now);
    }

    /// <summary>Stop for any reason. An INVOKED recording has nothing captured: its job is cancelled and it ends
    /// ERRORED (decisions.md). A RECORDING or PAUSED one goes UPLOADING and its worker is told to stop.</summary>
    public async Task StopAsync(RecordingRow r, ReasonDto reason, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        var job = await db.RecorderJobs.FirstOrDefaultAsync(j => j.RecordingId == r.Id, ct);
        r.StopReasonJson = Mapping.Write(reason);
        if (r.Status == RecordingStatus.Invoked)
        {
            if (job is not null)
            {
                job.State = JobStates.Cancelled;
                job.DesiredState = JobStates.DesiredStop;
                job.StopReasonJson = r.StopReasonJson;
                job.UpdatedAt = Now;
            }
            r.ErrorMessage = "stopped before the recorder started";
            await TransitionAsync(r, RecordingStatus.Errored, RecordingActions.Stop, ct);
            return;
        }
        RecordingStatus.EnsureTransition(r.Status, RecordingStatus.Uploading, RecordingActions.Stop);
        r.StoppedTime = Now;
        if (job is not null)
        {
            job.DesiredState = JobStates.DesiredStop;
            job.StopReasonJson = r.StopReasonJson;
            job.UpdatedAt = Now;
        }
        await TransitionAsync(r, RecordingStatus.Uploading, RecordingActions.Stop, ct);
    }

    public async Task PauseAsync(RecordingRow r, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        RecordingStatus.EnsureTransition(r.Status, RecordingStatus.Paused, RecordingActions.Pause);
        await SetDesiredAsync(r.Id, JobStates.DesiredPause, ct);
        await TransitionAsync(r, RecordingStatus.Paused, RecordingActions.Pause, ct);
    }

    public async Task ResumeAsync(RecordingRow r, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Status != RecordingStatus.Paused)
        {
            throw CapstanException.Invalid($"cannot resume a recording whose status is {r.Status}");
        }
        await SetDesiredAsync(r.Id, JobStates.DesiredRecord, ct);
        await TransitionAsync(r, RecordingStatus.Recording, RecordingActions.Resume, ct);
    }

    /// <summary>Stops every active recording of a meeting (kick-all, session end).</summary>
    public async Task StopAllAsync(Guid meetingId, ReasonDto reason, CancellationToken ct)
    {
        var active = await db.Recordings.Where(r => r.MeetingId == meetingId && RecordingStatus.ActiveStates.Contains(r.Status)).ToListAsync(ct);
        foreach (var r in active)
        {
            await StopAsync(r, reason, ct);
        }
    }

    /// <summary>The recorder encoded its first frame: INVOKED becomes RECORDING with <c>started_time</c>.</summary>
    public async Task MarkStartedAsync(RecordingRow r, DateTime startedTime, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Status != RecordingStatus.Invoked)
        {
            r.StartedTime ??= startedTime;
            return;
        }
        r.StartedTime = startedTime;
        await TransitionAsync(r, RecordingStatus.Recording, "start", ct);
        // Recorded when the transition is accepted (the caller saves next): capstan_recording_start_seconds.
        metrics?.RecordingStarted(r.InvokedTime, startedTime);
    }

    /// <summary>The files are in place: UPLOADING becomes UPLOADED with sizes and download URLs.</summary>
    public async Task CompleteAsync(RecordingRow r, long fileSize, long durationSeconds, string? downloadUrl, string? audioDownloadUrl, DateTime? expiry, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        r.FileSize = fileSize;
        r.DurationSeconds = durationSeconds;
        r.DownloadUrl = downloadUrl;
        r.AudioDownloadUrl = audioDownloadUrl;
        r.DownloadUrlExpiry = expiry;
        await TransitionAsync(r, RecordingStatus.Uploaded, "complete", ct);
        metrics?.RecordingUploaded(r.StoppedTime, Now);
    }

    /// <summary>Nothing usable came out: ERRORED with a message.</summary>
    public async Task FailAsync(RecordingRow r, string message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(r);
        r.ErrorMessage = message.Length > 2000 ? message[..2000] : message;
        r.StoppedTime ??= Now;
        r.StopReasonJson ??= Mapping.Write(new ReasonDto { Reason = StopReasons.InternalError, Caller = new CallerDto { Type = "INTERNAL" } });
        await TransitionAsync(r, RecordingStatus.Errored, "fail", ct);
    }

    private async Task SetDesiredAsync(Guid recordingId, string desired, CancellationToken ct)
    {
        var job = await db.RecorderJobs.FirstOrDefaultAsync(j => j.RecordingId == recordingId, ct);
        if (job is not null)
        {
            job.DesiredState = desired;
            job.UpdatedAt = Now;
        }
    }

    private Task ReleaseGuardAsync(RecordingRow r, CancellationToken ct)
    {
        var exclusive = !r.AllowMultiple;
        return db.Meetings.Where(m => m.Id == r.MeetingId).ExecuteUpdateAsync(s => s
            .SetProperty(m => m.ActiveRecordings, m => m.ActiveRecordings > 0 ? m.ActiveRecordings - 1 : 0)
            .SetProperty(m => m.ExclusiveRecordingActive, m => exclusive ? false : m.ExclusiveRecordingActive), ct);
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
