using System.Globalization;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>What a recording job's runner needs from the worker that claimed the job.</summary>
public sealed record RecordingJobContext(
    RecorderOptions Options, IServiceScopeFactory Scopes, DefaultBucket Bucket, Storage.UploadSpool Spool, Security.SecretProtector Protector,
    RecorderSignals Signals, TimeProvider Time, ILogger Logger, string Owner, Hosting.CapstanMetrics? Metrics);

/// <summary>What the API wants of a running recording, read from the job's desired state (the command the API
/// wrote) and the recording's status: the one transition table of every capture.</summary>
public enum CaptureCommand
{
    /// <summary>Stopped before it started: the capture ends, nothing is delivered (decisions.md: cancelled).</summary>
    Cancel,

    /// <summary>Stopped (by the API, kick-all, all peers left, max_seconds): the capture ends, the files are delivered.</summary>
    Stop,

    /// <summary>Paused: the capture ends its current part at the instant the pause was seen; the file joins over it.</summary>
    Pause,

    /// <summary>Invoked, recording or resumed: capture.</summary>
    Record,
}

/// <summary>The transition table: (desired state, status) to the capture's command.</summary>
public static class CaptureCommands
{
    public static CaptureCommand Decide(string desired, string status) =>
        status == RecordingStatus.Errored ? CaptureCommand.Cancel
        : status == RecordingStatus.Uploading || desired == JobStates.DesiredStop ? CaptureCommand.Stop
        : status == RecordingStatus.Paused || desired == JobStates.DesiredPause ? CaptureCommand.Pause
        : CaptureCommand.Record;
}

/// <summary>The recording a job runs, as last read or written by its runner; shared with its capture.</summary>
public sealed class RecordingJobRecord(RecorderJobRow job, RecordingJobStore store)
{
    public RecorderJobRow Job { get; } = job;

    public RecordingJobStore Store { get; } = store;

    public RecordingRow Recording { get; internal set; } = null!;

    public EffectiveRecordingConfig Config { get; internal set; } = null!;
}

/// <summary>What a capture says about itself on each turn of the runner's loop.</summary>
/// <param name="FirstFrame">The instant the current capture's media begins, once known (the first grabbed frame of
/// a composite segment; the instant a track recording switched the room's recording on).</param>
/// <param name="Lost">The capture died (a process exited, the browser or display went); it can be restarted.</param>
/// <param name="LastFrame">The last instant the lost capture holds (a gap opens there).</param>
public readonly record struct CaptureCheck(DateTime? FirstFrame = null, bool Lost = false, DateTime? LastFrame = null);

/// <summary>The files a capture made for delivery (kept in <c>delivery.json</c> beside them, so that a worker that
/// takes the job back resumes the delivery where it stopped) and where each goes.</summary>
public sealed class CaptureDelivery
{
    public List<CaptureFile> Files { get; set; } = [];

    /// <summary>The recording's <c>duration</c> in seconds (the file's, or the recorded time for track files).</summary>
    public double DurationSeconds { get; set; }

    public bool DefaultBucketDone { get; set; }

    /// <summary>The destinations (<see cref="CaptureDestination.Name"/>) already delivered.</summary>
    public List<string> DestinationsDone { get; set; } = [];
}

/// <summary>A delivered file: <see cref="Role"/> says what it is (<c>video</c>, <c>audio</c>, <c>track</c>,
/// <c>manifest</c>), <see cref="Layer"/> which track layer it belongs to (null: every layer's).</summary>
public sealed class CaptureFile
{
    public string Role { get; set; } = string.Empty;

    public string? Layer { get; set; }

    public required string Path { get; set; }

    public required string Name { get; set; }

    public long Size { get; set; }

    public required string Sha256 { get; set; }

    public static async Task<CaptureFile> DescribeAsync(string role, string? layer, string path, string name, CancellationToken ct)
    {
        var item = await Storage.UploadItem.ForFileAsync(path, name, ct);
        return new CaptureFile { Role = role, Layer = layer, Path = path, Name = name, Size = item.Size, Sha256 = item.Sha256Hex };
    }
}

/// <summary>Where a recording's files go: the default bucket (signed links) and/or a storage destination, with the
/// files it takes and the object name each gets there.</summary>
public sealed record CaptureDestination(string Name, bool DefaultBucket, StoredStorageConfig? Storage, Func<CaptureFile, bool> Takes, Func<CaptureFile, string> ObjectName);

/// <summary>What the recording says once delivered, from the capture's files and their signed links.</summary>
public sealed record DeliveredRecording(long Size, long Seconds, string Sha256, string? AudioSha256 = null, string? DownloadUrl = null,
    string? AudioDownloadUrl = null, string? TrackDownloadsJson = null);

/// <summary>A capture behind the job runner: the browser composite, the native composite, or Janus recording the
/// room's tracks. The runner reads the API's commands and calls these; the capture does the media.</summary>
public interface IRecordingCapture : IAsyncDisposable
{
    /// <summary>The folder of the job's files on this node.</summary>
    string Dir { get; }

    /// <summary>What captures (<c>browser</c>, <c>native</c>, <c>janus</c>), for the trace and the logs.</summary>
    string Kind { get; }

    /// <summary>Adds what the capture knows to the trace's <c>recording.capture</c> span.</summary>
    void Tag(System.Diagnostics.Activity span);

    /// <summary>Still capturing although the recording's status says it ended (track: the room still records
    /// into this recording's folder): the runner ends it before delivering.</summary>
    bool Capturing { get; }

    /// <summary>The seconds captured so far (toward <c>max_seconds</c>).</summary>
    double RecordedSeconds { get; }

    /// <summary>How soon the runner looks again (sooner while a first frame is awaited).</summary>
    TimeSpan NextCheck(bool awaitingFrame);

    /// <summary>Picks up what an earlier run of this job left on disk. Returns the instant its capture was lost
    /// when the recording was running then (a gap opens there), else null.</summary>
    Task<DateTime?> ResumeAsync(bool wasRecording, CancellationToken ct);

    /// <summary>Before the first command: the display, browser and page, or the room's handle.</summary>
    Task OpenAsync(bool gapOpen, CancellationToken ct);

    /// <summary>Record: starts capturing if it is not (a new segment, the room's recording switched on).</summary>
    Task RecordAsync(CancellationToken ct);

    /// <summary>Pause, seen at <paramref name="at"/>: what is captured ends there.</summary>
    Task PauseAsync(DateTime at, CancellationToken ct);

    /// <summary>Stop (or cancel): the capture ends; its files are complete.</summary>
    Task StopAsync(CancellationToken ct);

    /// <summary>Each turn: the capture's health and first frame. With <paramref name="awaitingFrame"/> the runner
    /// waits for a first frame (the recording's start, or the end of a gap).</summary>
    Task<CaptureCheck> CheckAsync(bool awaitingFrame, CancellationToken ct);

    /// <summary>A lost capture, restarted (what died is launched again; the next <see cref="RecordAsync"/> captures):
    /// the <paramref name="restart"/>th restart of the job; <paramref name="gapOpen"/> when the recording was running
    /// (the capture starts again at once rather than after the page).</summary>
    Task RestartAsync(int restart, bool gapOpen, CancellationToken ct);

    /// <summary>The tail of the lost capture's output, for the log when the runner gives up.</summary>
    string Tail();

    /// <summary>Logs the first frame: of the recording (<paramref name="gap"/> null) or of a part after a gap.</summary>
    void LogFirstFrame(DateTime first, RecordingGap? gap);

    /// <summary>Makes the files to deliver (null: nothing was captured).</summary>
    Task<CaptureDelivery?> ProduceAsync(CancellationToken ct);

    /// <summary>The files are made and kept (<c>delivery.json</c>): what only made them can go.</summary>
    void Produced();

    /// <summary>Why nothing was delivered, for the recording's ERRORED reason.</summary>
    string NothingCaptured { get; }

    /// <summary>Where the files go.</summary>
    IReadOnlyList<CaptureDestination> Destinations { get; }

    /// <summary>The recording's fields once delivered; <paramref name="links"/> holds each file's signed link in the default bucket.</summary>
    DeliveredRecording Describe(CaptureDelivery delivery, IReadOnlyDictionary<string, string> links);

    /// <summary>Deletes the job's files on this node (all delivered).</summary>
    void CleanUp();
}

/// <summary>One recording job, whatever captures it: keeps the job's lease, follows the API's commands
/// (<see cref="CaptureCommands.Decide"/>: what happens on pause, stop and cancel is here), stops the recording
/// with its reason (<c>max_seconds</c>, the capture given up), restarts a lost capture and lists the gap it
/// leaves, marks <c>started_time</c>, then delivers the files to the default bucket and the destination and marks
/// the recording UPLOADED (or ERRORED). The media is the capture's (<see cref="IRecordingCapture"/>).</summary>
public sealed partial class RecordingJob
{
    private readonly RecordingJobContext _ctx;
    private readonly RecordingJobRecord _record;
    private readonly IRecordingCapture _capture;
    private bool _started;
    private int _restarts;
    private List<RecordingGap> _gaps = [];

    // The last frame of a capture that ended unexpectedly: the gap closes at the next first frame.
    private DateTime? _gapFrom;

    public RecordingJob(RecorderJobRow job, RecordingJobContext ctx, Func<RecordingJobRecord, IRecordingCapture> capture)
    {
        ArgumentNullException.ThrowIfNull(capture);
        _ctx = ctx;
        _record = new RecordingJobRecord(job, new RecordingJobStore(ctx.Scopes, job));
        _capture = capture(_record);
    }

    private RecorderJobRow Job => _record.Job;

    private RecordingRow Recording => _record.Recording;

    public async Task RunAsync(CancellationToken stopping)
    {
        await using var capture = _capture;
        Directory.CreateDirectory(_capture.Dir);
        using var scopeLog = _ctx.Logger.BeginScope(new Dictionary<string, object> { ["RecordingId"] = Job.RecordingId, ["JobId"] = Job.Id });
        // The lease is renewed in the background for the whole job (capture, files, uploads); losing it (the job
        // was taken over) cancels the job. What was captured stays on disk (and Janus keeps recording a room).
        var handOver = false;
        await JobLease.RunAsync(_ctx.Scopes, Job, _ctx.Owner, _ctx.Options.Lease, _ctx.Time, _ctx.Logger, RunLeasedAsync,
            interrupted: byStop =>
            {
                handOver = byStop;
                LogInterrupted(_ctx.Logger, byStop ? "the worker is stopping: the recording is handed over" : "lease lost: another worker owns this recording now");
            },
            failed: async e =>
            {
                LogFailed(_ctx.Logger, e);
                await FailAsync("the recorder failed: " + e.Message, CancellationToken.None);
            },
            stopping);
        if (handOver)
        {
            await HandOverAsync();
        }
    }

    /// <summary>The worker stops with this job still running (its drain ran out, <see cref="RecorderDrain"/>): the
    /// capture ends as on stop (its segments closed, complete on disk), then the job is released at once
    /// (<see cref="JobQueue.ReleaseAsync"/>) and the workers woken, so another worker claims it now instead of after
    /// the lease. The recording's status is left as it is: neither stopped nor errored. Choice: in that order, so that
    /// a worker on the same data folder that claims the job finds every segment finished
    /// (<see cref="IRecordingCapture.ResumeAsync"/>); a worker on another machine cannot read them until segments are
    /// shipped to shared storage, and delivers what it records itself.</summary>
    private async Task HandOverAsync()
    {
        try
        {
            await _capture.DisposeAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogFailed(_ctx.Logger, e);
        }
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var scope = _ctx.Scopes.CreateAsyncScope();
            var released = await scope.ServiceProvider.GetRequiredService<JobQueue>().ReleaseAsync(Job.Id, _ctx.Owner, cts.Token);
            if (released)
            {
                _ctx.Signals.Notify();
            }
            LogHandedOver(_ctx.Logger, released ? "released for another worker" : "no longer this worker's");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogHandOverFailed(_ctx.Logger, e.Message);
        }
    }

    private async Task RunLeasedAsync(CancellationToken ct)
    {
        await LoadAsync(ct);
        if (Recording.Status is RecordingStatus.Uploaded or RecordingStatus.Errored && !_capture.Capturing)
        {
            await _record.Store.FinishAsync(JobStates.Done, ct);
            return;
        }
        _gaps = Recording.GapsJson is { } gaps ? Mapping.Read<List<RecordingGap>>(gaps) : [];
        _started = Recording.StartedTime is not null;
        var (desired, status, _, _) = await _record.Store.ReadStateAsync(ct);
        _gapFrom = await _capture.ResumeAsync(status == RecordingStatus.Recording && desired == JobStates.DesiredRecord, ct);
        if ((Recording.Status != RecordingStatus.Uploading || _capture.Capturing) && !await FollowAsync(ct))
        {
            return;
        }
        await _capture.DisposeAsync();
        await DeliverAsync(ct);
    }

    /// <summary>Follows the API's commands until the recording stops. False when there is nothing to deliver
    /// (cancelled before it started).</summary>
    private async Task<bool> FollowAsync(CancellationToken ct)
    {
        using var span = Hosting.CapstanTelemetry.Source.StartActivity("recording.capture");
        span?.SetTag("capstan.capture", _capture.Kind);
        try
        {
            return await CommandLoopAsync(ct);
        }
        finally
        {
            span?.SetTag("capstan.recorded_seconds", Math.Round(_capture.RecordedSeconds, 3));
            if (span is not null)
            {
                _capture.Tag(span);
            }
        }
    }

    private async Task<bool> CommandLoopAsync(CancellationToken ct)
    {
        await _capture.OpenAsync(_gapFrom is not null, ct);
        CaptureCommand? last = null;
        // What ended the last wait, for the command line: a signal (LISTEN/NOTIFY across nodes, or this process's own),
        // the capture's next check (the poll that also finds a command whose signal was lost), or no wait at all.
        var after = "the start";
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            // Taken before the read: a command that comes while this turn reads and acts ends the wait below at once.
            var wake = _ctx.Signals.NextWake;
            var (desired, status, _, statusSince) = await _record.Store.ReadStateAsync(ct);
            var command = CaptureCommands.Decide(desired, status);
            if (command != last)
            {
                // The instant this worker saw the API's command, before acting on it: how long a command given on any API
                // node takes to reach the recording (LISTEN/NOTIFY, else the poll) is read from this line's timestamp.
                LogCommandSeen(_ctx.Logger, command, desired, status, wake.IsCompleted ? "a signal" : after); // (a signal during the read)
                last = command;
            }
            switch (command)
            {
                case CaptureCommand.Cancel:
                    await _capture.StopAsync(ct);
                    await _capture.DisposeAsync();
                    await _record.Store.FinishAsync(JobStates.Cancelled, ct);
                    _capture.CleanUp();
                    return false;
                case CaptureCommand.Stop:
                    await _capture.StopAsync(ct);
                    return true;
                case CaptureCommand.Pause:
                    // What is captured ends where the pause was asked for (the instant the API set PAUSED), as a stopped
                    // file ends at stopped_time: not where this worker saw it, up to a poll later (0.3 s and more on a
                    // loaded machine, where a file came out longer than its recorded time by that much), nor where
                    // the capture stopped after being told to.
                    await _capture.PauseAsync(PauseInstant(status, statusSince, _ctx.Time.GetUtcNow().UtcDateTime), ct);
                    break;
                default:
                    await _capture.RecordAsync(ct);
                    break;
            }

            var awaiting = !_started || _gapFrom is not null;
            var check = await _capture.CheckAsync(awaiting, ct);
            if (awaiting && check.FirstFrame is { } first)
            {
                await OnFirstFrameAsync(first, ct);
            }
            if (_capture.RecordedSeconds >= _record.Config.MaxSeconds)
            {
                // stopped_time is the instant the limit was reached, and the file ends there (as at an API stop), not
                // where the capture finished stopping.
                await StopRecordingAsync(new ReasonDto { Reason = StopReasons.ApiCall, Caller = new CallerDto { Type = "INTERNAL", Name = "max_seconds" } }, ct);
                await _capture.StopAsync(ct);
                return true;
            }
            if (check.Lost)
            {
                _gapFrom = check.LastFrame ?? _gapFrom;
                if (!await RestartAsync(ct))
                {
                    await _capture.StopAsync(ct);
                    await StopRecordingAsync(new ReasonDto { Reason = StopReasons.InternalError, Caller = new CallerDto { Type = "INTERNAL" } }, ct);
                    return true;
                }
                after = "a restart";
                continue;
            }
            await _ctx.Signals.WaitAsync(wake, _capture.NextCheck(!_started || _gapFrom is not null), ct);
            after = wake.IsCompleted ? "a signal" : "the next check";
        }
    }

    /// <summary>Where a paused capture's part ends: the instant the API set <c>PAUSED</c>, when that is what was read,
    /// and never later than <paramref name="now"/> (another node's clock may run ahead of this one's).</summary>
    internal static DateTime PauseInstant(string status, DateTime statusSince, DateTime now) =>
        status == RecordingStatus.Paused && statusSince < now ? statusSince : now;

    /// <summary>A lost capture: restarted, up to <see cref="RecorderOptions.MaxCaptureRestarts"/> times. False once
    /// the restarts are used up (or the restart itself failed).</summary>
    private async Task<bool> RestartAsync(CancellationToken ct)
    {
        var tail = _capture.Tail();
        await _capture.StopAsync(ct);
        if (++_restarts > _ctx.Options.MaxCaptureRestarts)
        {
            LogGaveUp(_ctx.Logger, _restarts - 1, tail);
            return false;
        }
        _ctx.Metrics?.CaptureRestarted();
        try
        {
            await _capture.RestartAsync(_restarts, _gapFrom is not null, ct);
            return true;
        }
        catch (Exception e) when (e is Processes.ChildProcessException or TimeoutException or IOException)
        {
            LogFailed(_ctx.Logger, e);
            return false;
        }
    }

    /// <summary>A first frame: the recording's <c>started_time</c> if it is the first, the end of a gap if one is open.</summary>
    private async Task OnFirstFrameAsync(DateTime first, CancellationToken ct)
    {
        if (!_started)
        {
            _started = true;
            await UpdateRecordingAsync((r, l, c) => l.MarkStartedAsync(r, first, c), ct);
            _capture.LogFirstFrame(first, null);
        }
        if (_gapFrom is { } from)
        {
            _gapFrom = null;
            var gap = new RecordingGap(from, first < from ? from : first);
            _gaps.Add(gap);
            var json = Mapping.Write(_gaps);
            await UpdateRecordingAsync((r, _, _) =>
            {
                r.GapsJson = json;
                return Task.CompletedTask;
            }, ct);
            _capture.LogFirstFrame(first, gap);
        }
    }

    /// <summary>Makes the files (once: kept in <c>delivery.json</c>), puts them in the default bucket and the
    /// destinations (each once), and marks the recording UPLOADED; ERRORED when nothing was captured or a
    /// destination refused the files (the default bucket's copy is delivered even then).</summary>
    private async Task DeliverAsync(CancellationToken ct)
    {
        using var span = Hosting.CapstanTelemetry.Source.StartActivity("recording.postprocess");
        await LoadAsync(ct);
        var manifestPath = Path.Combine(_capture.Dir, "delivery.json");
        var delivery = File.Exists(manifestPath) ? Mapping.Read<CaptureDelivery>(await File.ReadAllTextAsync(manifestPath, ct)) : null;
        if (delivery is null)
        {
            delivery = await _capture.ProduceAsync(ct);
            if (delivery is null)
            {
                await FailAsync(_capture.NothingCaptured, ct);
                _capture.CleanUp();
                return;
            }
            await SaveAsync(manifestPath, delivery, ct);
            _capture.Produced();
        }
        span?.SetTag("capstan.files", delivery.Files.Count);

        // The default bucket: a copy on this machine, served through signed URLs.
        var destinations = _capture.Destinations;
        var bucketed = destinations.Where(d => d.DefaultBucket).SelectMany(d => delivery.Files.Where(d.Takes)).DistinctBy(f => f.Name).ToList();
        if (!delivery.DefaultBucketDone && bucketed.Count > 0)
        {
            foreach (var f in bucketed)
            {
                await _ctx.Bucket.StoreAsync(Recording.AppId, Recording.Id, f.Path, f.Name, ct);
            }
            delivery.DefaultBucketDone = true;
            await SaveAsync(manifestPath, delivery, ct);
        }

        // The custom destinations, through the spool: retried while unreachable, ERRORED when refused.
        string? destinationError = null;
        foreach (var d in destinations.Where(d => d.Storage is not null && !delivery.DestinationsDone.Contains(d.Name)))
        {
            var config = StorageConfigs.Unprotect(d.Storage!, _ctx.Protector);
            var items = delivery.Files.Where(d.Takes).Select(f =>
            {
                var name = d.ObjectName(f);
                return new Storage.UploadItem(f.Path, Storage.ObjectKeys.For(config, name), Storage.ContentTypes.Of(name), f.Size, f.Sha256);
            }).ToList();
            try
            {
                await _ctx.Spool.DeliverAsync(config, items, ct);
                delivery.DestinationsDone.Add(d.Name);
                await SaveAsync(manifestPath, delivery, ct);
            }
            catch (Storage.StorageException e)
            {
                destinationError = e.Message;
            }
        }

        var anyBucket = bucketed.Count > 0;
        var expiry = _ctx.Time.GetUtcNow().UtcDateTime + _ctx.Bucket.Options.UrlExpiry;
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in bucketed)
        {
            links[f.Name] = await _ctx.Bucket.SignedUrlAsync(Recording.AppId, Recording.Id, f.Name, expiry);
        }
        var done = _capture.Describe(delivery, links);
        await UpdateRecordingAsync(async (r, l, c) =>
        {
            r.Sha256 = done.Sha256;
            r.AudioSha256 = done.AudioSha256;
            r.TrackDownloadsJson = done.TrackDownloadsJson;
            if (destinationError is null)
            {
                await l.CompleteAsync(r, done.Size, done.Seconds, done.DownloadUrl, done.AudioDownloadUrl, anyBucket ? expiry : null, c);
                return;
            }
            // The default-bucket copy is delivered even when the destination failed.
            r.FileSize = done.Size;
            r.DurationSeconds = done.Seconds;
            r.DownloadUrl = done.DownloadUrl;
            r.AudioDownloadUrl = done.AudioDownloadUrl;
            r.DownloadUrlExpiry = anyBucket ? expiry : null;
            await l.FailAsync(r, "delivery failed: " + destinationError, c);
        }, ct);
        await _record.Store.FinishAsync(JobStates.Done, ct);
        LogDelivered(_ctx.Logger, delivery.Files.Count, delivery.DurationSeconds, done.Size);
        if (destinationError is null || anyBucket)
        {
            _capture.CleanUp();
        }
    }

    private static async Task SaveAsync(string path, CaptureDelivery delivery, CancellationToken ct)
    {
        var tmp = path + ".tmp";
        await File.WriteAllTextAsync(tmp, Mapping.Write(delivery), ct);
        File.Move(tmp, path, overwrite: true);
    }

    private async Task StopRecordingAsync(ReasonDto reason, CancellationToken ct) =>
        await UpdateRecordingAsync(async (r, l, c) =>
        {
            if (RecordingStatus.IsActive(r.Status))
            {
                await l.StopAsync(r, reason, c);
            }
        }, ct);

    private async Task FailAsync(string message, CancellationToken ct)
    {
        try
        {
            await _capture.StopAsync(ct);
            await _capture.DisposeAsync();
            await UpdateRecordingAsync(async (r, l, c) =>
            {
                if (r.Status is not RecordingStatus.Uploaded and not RecordingStatus.Errored)
                {
                    await l.FailAsync(r, message, c);
                }
            }, ct);
            await _record.Store.FinishAsync(JobStates.Done, ct);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or Processes.ChildProcessException
            or Meetings.JanusException or HttpRequestException or IOException)
        {
            LogFailed(_ctx.Logger, e);
        }
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        _record.Recording = await _record.Store.LoadAsync(ct);
        _record.Config = Mapping.Read<EffectiveRecordingConfig>(_record.Recording.ConfigJson);
    }

    private async Task UpdateRecordingAsync(Func<RecordingRow, RecordingLifecycle, CancellationToken, Task> change, CancellationToken ct) =>
        _record.Recording = await _record.Store.UpdateAsync(change, ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: {Message}")]
    private static partial void LogInterrupted(ILogger logger, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: handed over, the job {Outcome}")]
    private static partial void LogHandedOver(ILogger logger, string outcome);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder: releasing the job failed ({Reason}); it waits for its lease to run out")]
    private static partial void LogHandOverFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: command {Command} seen (desired {Desired}, status {Status}) after {After}")]
    private static partial void LogCommandSeen(ILogger logger, CaptureCommand command, string desired, string status, string after);

    [LoggerMessage(Level = LogLevel.Error, Message = "Capture gave up after {Count} restarts: {Tail}")]
    private static partial void LogGaveUp(ILogger logger, int count, string tail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording delivered: {Files} files, {Seconds} s, {Bytes} bytes")]
    private static partial void LogDelivered(ILogger logger, int files, double seconds, long bytes);

    internal static string Hms(DateTime t) => t.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
