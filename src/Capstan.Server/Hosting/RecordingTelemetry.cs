using System.Data.Common;
using System.Diagnostics;
using Capstan.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Hosting;

/// <summary>What a worker opens around one recording job: the <c>recording.session</c> span (with a short
/// <c>recorder.claim</c> child carrying the attempt and the lease owner) and a logging scope with
/// <c>RecordingId</c>, <c>MeetingId</c> and <c>JobId</c>, so every log line of the session (any logger of the host:
/// scopes are shared through the logger factory) names its recording.
/// The API call that created the recording is another trace (the job row carries no trace context); both carry
/// <c>capstan.recording_id</c>, which is how a trace backend joins them.</summary>
public static class RecordingTelemetry
{
    /// <summary>The recording's meeting and type, read before <see cref="Begin"/> (null when the database does not
    /// answer: the session reports that itself).</summary>
    public static async Task<(Guid? MeetingId, string? Type)> LookupAsync(RecorderJobRow job, IServiceScopeFactory scopes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(scopes);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var row = await db.Recordings.AsNoTracking().Where(r => r.Id == job.RecordingId).Select(r => new { r.MeetingId, r.Type }).FirstOrDefaultAsync(ct);
            return (row?.MeetingId, row?.Type);
        }
        catch (DbException)
        {
            return (null, null);
        }
    }

    /// <summary>Opens the span and the logging scope. Synchronous on purpose: both live in async-local state, which
    /// an async method's changes do not leave, so the caller must open them itself; it disposes them when the
    /// session ends. Usage: <c>using var observed = RecordingTelemetry.Begin(job, logger, owner, await RecordingTelemetry.LookupAsync(job, scopes, ct));</c></summary>
    public static IDisposable Begin(RecorderJobRow job, ILogger logger, string owner, (Guid? MeetingId, string? Type) recording)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(logger);
        var session = CapstanTelemetry.Source.StartActivity("recording.session");
        session?.SetTag("capstan.recording_id", job.RecordingId.ToString("D"));
        session?.SetTag("capstan.job_id", job.Id.ToString("D"));
        session?.SetTag("capstan.meeting_id", recording.MeetingId?.ToString("D"));
        session?.SetTag("capstan.recording_type", recording.Type);
        using (var claim = CapstanTelemetry.Source.StartActivity("recorder.claim"))
        {
            claim?.SetTag("capstan.job_id", job.Id.ToString("D"));
            claim?.SetTag("capstan.job_attempt", job.Attempts);
            claim?.SetTag("capstan.lease_owner", owner);
        }
        var logScope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["RecordingId"] = job.RecordingId.ToString("D"),
            ["MeetingId"] = recording.MeetingId?.ToString("D"),
            ["JobId"] = job.Id.ToString("D"),
        });
        return new Observation(session, logScope);
    }

    private sealed class Observation(Activity? session, IDisposable? logScope) : IDisposable
    {
        public void Dispose()
        {
            logScope?.Dispose();
            session?.Dispose();
        }
    }
}
