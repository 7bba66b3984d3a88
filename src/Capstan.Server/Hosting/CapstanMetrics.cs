using System.Data.Common;
using System.Diagnostics.Metrics;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Hosting;

/// <summary>Capstan's own instruments, all on one <see cref="Meter"/> named <c>Capstan</c>. Instrument names and
/// units are chosen so that OpenTelemetry's Prometheus exporter (which turns dots into underscores, appends the unit
/// and <c>_total</c> for counters) scrapes exactly as:
/// <list type="bullet">
/// <item><c>capstan_recordings{status,type}</c>: recordings in the database by status and type (observable gauge).</item>
/// <item><c>capstan_recording_start_seconds</c>: histogram of started_time - invoked_time, recorded where a recording becomes RECORDING.</item>
/// <item><c>capstan_recording_stop_to_uploaded_seconds</c>: histogram of UPLOADED time - stopped_time.</item>
/// <item><c>capstan_recorder_slots{node}</c>, <c>capstan_recorder_busy{node}</c>: this process's recorder (each node exports its own).</item>
/// <item><c>capstan_recorder_queue_depth</c>: recorder jobs waiting for a worker: QUEUED (the recording is INVOKED), or
/// CLAIMED by a worker whose lease lapsed, of recordings not yet UPLOADED or ERRORED.</item>
/// <item><c>capstan_capture_frames_dropped_total</c>, <c>capstan_capture_restarts_total</c>: reported by the capture code.</item>
/// <item><c>capstan_uploads_total{destination_type,result}</c>, <c>capstan_upload_bytes_total{destination_type}</c>.</item>
/// <item><c>capstan_webhook_deliveries_total{result}</c>: every delivery attempt (delivered, retry, failed).</item>
/// <item><c>capstan_janus_rooms</c>, <c>capstan_janus_participants</c>: live rooms and peers in them (from the database).</item>
/// </list>
/// The database-backed gauges share one snapshot, read at most once per <see cref="SnapshotTtl"/> and from the
/// scrape itself (no background polling); when the database does not answer they are left out of the scrape
/// instead of failing it. The Meter comes from <see cref="IMeterFactory"/>, so it lives and dies with its host.</summary>
public sealed class CapstanMetrics
{
    public const string MeterName = "Capstan";

    /// <summary>Upload results (label <c>result</c>).</summary>
    public const string Success = "success";
    public const string Retry = "retry";
    public const string Refused = "refused";
    public const string Failed = "failed";

    /// <summary>The <c>destination_type</c> of the default bucket (other destinations use their storage_config type).</summary>
    public const string DefaultBucketType = "default";

    private static readonly TimeSpan SnapshotTtl = TimeSpan.FromSeconds(1);

    // Start latency is sub-second to tens of seconds; stop-to-uploaded is seconds to an hour (retries).
    private static readonly double[] StartBuckets = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120];
    private static readonly double[] UploadBuckets = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];

    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _time;
    private readonly Lock _snapshotLock = new();
    private readonly Histogram<double> _startSeconds;
    private readonly Histogram<double> _stopToUploadedSeconds;
    private readonly Counter<long> _framesDropped;
    private readonly Counter<long> _captureRestarts;
    private readonly Counter<long> _uploads;
    private readonly Counter<long> _uploadBytes;
    private readonly Counter<long> _webhookDeliveries;
    private Snapshot? _snapshot;
    private Func<RecorderLoad>? _recorder;

    public CapstanMetrics(IMeterFactory meters, IServiceScopeFactory scopes, TimeProvider time, IOptions<MetricsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(options);
        _scopes = scopes;
        _time = time;
        Node = options.Value.EffectiveNode;
        var meter = meters.Create(MeterName);
        _startSeconds = meter.CreateHistogram("capstan.recording.start", "s", "Time from invoked_time to started_time (first encoded frame)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = StartBuckets });
        _stopToUploadedSeconds = meter.CreateHistogram("capstan.recording.stop_to_uploaded", "s", "Time from stopped_time to UPLOADED",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = UploadBuckets });
        _framesDropped = meter.CreateCounter<long>("capstan.capture.frames_dropped", null, "Frames the capture dropped");
        _captureRestarts = meter.CreateCounter<long>("capstan.capture.restarts", null, "Capture restarts after ffmpeg or the browser died");
        _uploads = meter.CreateCounter<long>("capstan.uploads", null, "File uploads by destination type and result (success, retry, refused, failed)");
        _uploadBytes = meter.CreateCounter<long>("capstan.upload", "By", "Bytes uploaded by destination type");
        _webhookDeliveries = meter.CreateCounter<long>("capstan.webhook.deliveries", null, "Webhook delivery attempts by result (delivered, retry, failed)");
        // Counters without labels are exported from the start, so a dashboard sees 0 rather than no series.
        _framesDropped.Add(0);
        _captureRestarts.Add(0);

        meter.CreateObservableGauge("capstan.recordings", () => Read().Recordings, null, "Recordings in the database by status and type");
        meter.CreateObservableGauge("capstan.recorder.queue_depth", () => Read().Queue, null, "Recorder jobs waiting for a worker (queued, or their worker lost)");
        meter.CreateObservableGauge("capstan.janus.rooms", () => Read().Rooms, null, "Janus rooms of meetings with a live session");
        meter.CreateObservableGauge("capstan.janus.participants", () => Read().Participants, null, "Peers joined to the Janus rooms (recorders included)");
        meter.CreateObservableGauge("capstan.recorder.slots", () => RecorderMeasure(l => l.Slots), null, "Recordings this node's recorder runs at once");
        meter.CreateObservableGauge("capstan.recorder.busy", () => RecorderMeasure(l => l.Busy), null, "Recordings this node's recorder is running");
        // The measured capacity (Recorder.CostMeter): what the recordings may use (headroom applied) and use now.
        meter.CreateObservableGauge("capstan.recorder.cpu_capacity", () => CapacityMeasure(c => c.CpuCores), "cores", "Cores this node's recordings may use");
        meter.CreateObservableGauge("capstan.recorder.cpu_used", () => CapacityMeasure(c => c.CpuUsed), "cores", "Cores this node's recordings use (measured, or estimated until measured)");
        meter.CreateObservableGauge("capstan.recorder.memory_capacity", () => CapacityMeasure(c => c.MemoryBytes), "By", "Memory this node's recordings may use");
        meter.CreateObservableGauge("capstan.recorder.memory_used", () => CapacityMeasure(c => c.MemoryUsedBytes), "By", "Memory this node's recordings use (measured, or estimated until measured)");
    }

    /// <summary>The label of this process's recorder (<c>Metrics:Node</c>, default the machine name).</summary>
    public string Node { get; }

    /// <summary>A recording became RECORDING.</summary>
    public void RecordingStarted(DateTime invokedTime, DateTime startedTime) =>
        _startSeconds.Record(Math.Max(0, (startedTime - invokedTime).TotalSeconds));

    /// <summary>A recording became UPLOADED.</summary>
    public void RecordingUploaded(DateTime? stoppedTime, DateTime uploadedTime)
    {
        if (stoppedTime is { } stopped)
        {
            _stopToUploadedSeconds.Record(Math.Max(0, (uploadedTime - stopped).TotalSeconds));
        }
    }

    /// <summary>For the capture code: frames it dropped (ffmpeg's <c>drop=</c>, for example), as a delta.</summary>
    public void CaptureFramesDropped(long frames)
    {
        if (frames > 0)
        {
            _framesDropped.Add(frames);
        }
    }

    /// <summary>For the capture code: one capture restart.</summary>
    public void CaptureRestarted() => _captureRestarts.Add(1);

    /// <summary>One file upload attempt to <paramref name="destinationType"/> (<c>aws</c>, <c>sftp</c>, ...,
    /// <see cref="DefaultBucketType"/>) with its result; bytes count only on success.</summary>
    public void Upload(string? destinationType, string result, long bytes)
    {
        var type = new KeyValuePair<string, object?>("destination_type", (destinationType ?? "unknown").ToLowerInvariant());
        _uploads.Add(1, type, new KeyValuePair<string, object?>("result", result));
        if (result == Success && bytes > 0)
        {
            _uploadBytes.Add(bytes, type);
        }
    }

    /// <summary>One webhook delivery attempt: <c>delivered</c>, <c>retry</c> (will be tried again) or <c>failed</c> (final).</summary>
    public void WebhookDelivery(string result) => _webhookDeliveries.Add(1, new KeyValuePair<string, object?>("result", result));

    /// <summary>Called by the recorder worker of this process: its slots and how many recordings it runs.</summary>
    public void AttachRecorder(Func<RecorderLoad> load, string? owner = null)
    {
        _recorder = load;
        RecorderOwner = owner;
    }

    /// <summary>The lease owner name of this process's recorder worker (its row in the nodes table), once it runs.</summary>
    public string? RecorderOwner { get; private set; }

    /// <summary>This process's recorder now, or null when no worker runs here (yet).</summary>
    public RecorderLoad? Recorder => _recorder?.Invoke();

    private IEnumerable<Measurement<double>> CapacityMeasure(Func<Recorder.NodeCapacity, double> pick) =>
        _recorder?.Invoke().Capacity is { } c ? [new Measurement<double>(pick(c), new KeyValuePair<string, object?>("node", Node))] : [];

    private IEnumerable<Measurement<long>> RecorderMeasure(Func<RecorderLoad, int> pick)
    {
        if (_recorder is not { } load)
        {
            return [];
        }
        return [new Measurement<long>(pick(load()), new KeyValuePair<string, object?>("node", Node))];
    }

    private Snapshot Read()
    {
        lock (_snapshotLock)
        {
            var now = _time.GetUtcNow();
            if (_snapshot is { } s && now - s.At < SnapshotTtl)
            {
                return s;
            }
            _snapshot = Query(now);
            return _snapshot;
        }
    }

    /// <summary>Synchronous queries: observable instruments are read on the scrape's thread, which waits anyway.</summary>
    private Snapshot Query(DateTimeOffset now)
    {
        try
        {
            using var scope = _scopes.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var recordings = db.Recordings.AsNoTracking().GroupBy(r => new { r.Status, r.Type })
                .Select(g => new { g.Key.Status, g.Key.Type, Count = g.LongCount() }).ToList();
            // Claimable jobs (QUEUED, or CLAIMED with a lapsed lease: its worker is gone) of recordings not yet finished.
            var nowUtc = now.UtcDateTime;
            var queue = db.RecorderJobs.AsNoTracking()
                .Where(j => j.State == JobStates.Queued || (j.State == JobStates.Claimed && j.LeaseExpiresAt < nowUtc))
                .LongCount(j => db.Recordings.Any(r => r.Id == j.RecordingId && r.Status != RecordingStatus.Uploaded && r.Status != RecordingStatus.Errored));
            var rooms = db.MeetingRooms.AsNoTracking().LongCount();
            var participants = db.SessionPeers.AsNoTracking().LongCount(p => p.LeftAt == null);
            // Every status and type is exported, 0 included, so a series does not vanish when its last recording moves on.
            var byKey = recordings.ToDictionary(r => (r.Status, r.Type), r => r.Count);
            var all = new List<Measurement<long>>();
            foreach (var type in new[] { RecordingTypes.Composite, RecordingTypes.Track })
            {
                foreach (var status in new[] { RecordingStatus.Invoked, RecordingStatus.Recording, RecordingStatus.Paused, RecordingStatus.Uploading, RecordingStatus.Uploaded, RecordingStatus.Errored })
                {
                    all.Add(new Measurement<long>(byKey.GetValueOrDefault((status, type)), new("status", status), new("type", type)));
                }
            }
            return new Snapshot(now, all, [new(queue)], [new(rooms)], [new(participants)]);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException)
        {
            return new Snapshot(now, [], [], [], []);
        }
    }

    private sealed record Snapshot(
        DateTimeOffset At, IReadOnlyList<Measurement<long>> Recordings, IReadOnlyList<Measurement<long>> Queue,
        IReadOnlyList<Measurement<long>> Rooms, IReadOnlyList<Measurement<long>> Participants);
}

/// <summary>A recorder's capacity and load at one moment; <see cref="Capacity"/>: its measured capacity
/// (<see cref="Recorder.CostMeter"/>), null where nothing measures.</summary>
public readonly record struct RecorderLoad(int Slots, int Busy, int Warm, Recorder.NodeCapacity? Capacity = null)
{
    /// <summary>When the node began draining (SIGTERM: no new claims, its recordings finish or are handed over;
    /// <see cref="Recorder.RecorderDrain"/>); null while it claims.</summary>
    public DateTime? DrainingSince { get; init; }
}

/// <summary>One upload's span and its <c>capstan_uploads_total</c> sample: <c>success</c> (with its bytes) when
/// <see cref="Succeeded"/> was called before disposal, <c>failed</c> otherwise.</summary>
public sealed class UploadObservation : IDisposable
{
    private readonly CapstanMetrics? _metrics;
    private readonly string _type;
    private readonly long _bytes;
    private readonly System.Diagnostics.Activity? _span;
    private bool _ok;

    private UploadObservation(CapstanMetrics? metrics, string type, string key, long bytes)
    {
        (_metrics, _type, _bytes) = (metrics, type, bytes);
        _span = CapstanTelemetry.StartUpload(type, key, bytes);
    }

    public static UploadObservation Start(CapstanMetrics? metrics, string destinationType, string key, long bytes) => new(metrics, destinationType, key, bytes);

    public void Succeeded() => _ok = true;

    public void Dispose()
    {
        _metrics?.Upload(_type, _ok ? CapstanMetrics.Success : CapstanMetrics.Failed, _bytes);
        if (!_ok)
        {
            _span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
        }
        _span?.Dispose();
    }
}
