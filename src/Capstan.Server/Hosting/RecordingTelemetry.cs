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
    public static async Task<IDisposable> BeginAsync(RecorderJobRow job, IServiceScopeFactory scopes, ILogger logger, string owner, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(scopes);
        ArgumentNullException.ThrowIfNull(logger);
        var session = CapstanTelemetry.Source.StartActivity("recording.session");
        Guid? meetingId = null;
        string? type = null;
        using (var claim = CapstanTelemetry.Source.StartActivity("recorder.claim"))
        {
            claim?.SetTag("capstan.job_id", job.Id.ToString("D"));
            claim?.SetTag("capstan.job_attempt", job.Attempts);
            claim?.SetTag("capstan.lease_owner", owner);
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
                var row = await db.Recordings.AsNoTracking().Where(r => r.Id == job.RecordingId).Select(r => new { r.MeetingId, r.Type }).FirstOrDefaultAsync(ct);
                (meetingId, type) = (row?.MeetingId, row?.Type);
            }
            catch (DbException)
            {
                // The session itself reports the database; the ids below still name recording and job.
            }
        }
        session?.SetTag("capstan.recording_id", job.RecordingId.ToString("D"));
        session?.SetTag("capstan.job_id", job.Id.ToString("D"));
        session?.SetTag("capstan.meeting_id", meetingId?.ToString("D"));
        session?.SetTag("capstan.recording_type", type);
        var logScope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["RecordingId"] = job.RecordingId.ToString("D"),
            ["MeetingId"] = meetingId?.ToString("D"),
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
