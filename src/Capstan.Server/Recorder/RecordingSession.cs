using System.Globalization;
using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Processes;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>What a recording session needs from its worker.</summary>
public sealed record RecorderContext(
    RecorderOptions Options, IServiceScopeFactory Scopes, PulseServer Pulse, DefaultBucket Bucket, HttpClient Http,
    RecorderSignals Signals, TimeProvider Time, ILogger Logger, string Owner, string ServerUrl, string WorkDir, WarmPool Pool,
    Storage.UploadSpool Spool, Security.SecretProtector Protector, ProcessLedger Ledger, ProcessUser User, Hosting.CapstanMetrics? Metrics, CancellationToken Stopping);

/// <summary>One recording, start to finish: its own X display, audio sink and Chromium on the recorder view (or
/// the custom <c>url</c>), capture segments (a GStreamer pipeline each, <see cref="MediaArgs.Capture"/>) that follow
/// pause and resume, restarts when the capture or Chromium dies, then the segments joined without re-encoding, the audio file cut from it, and delivery to the
/// default bucket.
/// <para>Time: each segment is stamped on the wall clock from an origin of its own (see
/// <see cref="MediaArgs.Capture"/>), so its first grabbed frame is the recording's <c>started_time</c> exactly, and
/// where one segment ended and the next began is known to the frame. A segment that ends other than by a pause or
/// the stop (the capture or Chromium died and was restarted, or the worker was killed and took the recording back when it
/// started again) leaves a gap, from its last frame to the next segment's first: listed in <c>gaps</c> and, like a
/// pause, joined over in the file.</para></summary>
public sealed partial class RecordingSession(RecorderJobRow job, RecorderContext ctx) : IAsyncDisposable
{
    /// <summary>The recording's page is ready. <c>Page.navigate</c> answers before the new document replaces the
    /// surface's blank page (<see cref="MediaArgs.BlankApp"/>, a <c>data:</c> URL, itself complete): until the
    /// document is no longer that one, it is not ready (without this check, with <c>Recorder:ReadyTimeout</c> set, the
    /// blank page itself counted as ready at once).</summary>
    private const string ReadyExpression =
        "(!document.URL.startsWith('data:') && (window.capstanRecorder ? (window.capstanRecorder.ready === true || !!window.capstanRecorder.error) : document.readyState === 'complete'))";

    private readonly string _dir = Path.Combine(ctx.WorkDir, job.RecordingId.ToString("D"));
    private readonly RecordingJobStore _store = new(ctx.Scopes, job);
    private readonly List<string> _segments = [];
    private RecordingRow _recording = null!;
    private EffectiveRecordingConfig _config = null!;
    private CaptureSurface? _surface;
    private ICompositeCapture? _native;
    private ChildProcess? _capture;
    private ChildProcess? _rtmp;
    private int? _rtmpPort;
    private DateTime _rtmpRetryAt;
    private Guid? _recorderParticipant;
    private string? _watermark;
    private double _recordedSeconds;
    private Segment? _current;
    private bool _started;
    private bool _replenish;
    private int _restarts;
    private List<RecordingGap> _gaps = [];

    // The last frame of a segment that ended unexpectedly: the gap closes at the next segment's first frame.
    private DateTime? _gapFrom;

    // Where the time to the first frame went: the session began, the surface was ready, the capture launched (its
    // first frame follows); the page (the recorder's token, the navigation) opens before the launch, within "capture launched".
    private DateTime _claimedAt, _surfaceAt, _pageAt, _launchedAt;

    // What runs the current segment's capture: the surface's warm capture host, gst-launch, or the native compositor.
    private string _captureBy = "gst-launch";

    // A capture host launched when the recording pauses, warming while it is paused, for the segment that resumes it.
    private WarmCapture? _resumeHost;

    public async Task RunAsync(CancellationToken stopping)
    {
        Directory.CreateDirectory(_dir);
        // Capstan's folder; the capture, running as the recorder's user, writes only the segment files made for it.
        ctx.User.ShareDirectory(_dir);
        using var scopeLog = ctx.Logger.BeginScope(new Dictionary<string, object> { ["RecordingId"] = job.RecordingId, ["JobId"] = job.Id });
        // The lease is renewed in the background for the whole session (capture, joining, uploads); losing it
        // (the job was taken over) cancels the session.
        await JobLease.RunAsync(ctx.Scopes, job, ctx.Owner, ctx.Options.Lease, ctx.Time, ctx.Logger, RunLeasedAsync,
            // The worker is stopping, or another worker owns the job now: leave it; segments stay on disk.
            interrupted: byStop => Log(ctx.Logger, byStop ? "worker stopping; the recording continues when the job is claimed again" : "lease lost: another worker owns this recording now"),
            failed: async e =>
            {
                LogFailed(ctx.Logger, e);
                await FailAsync("the recorder failed: " + e.Message, CancellationToken.None);
            },
            stopping);
    }

    private async Task RunLeasedAsync(CancellationToken ct)
    {
        _claimedAt = ctx.Time.GetUtcNow().UtcDateTime;
        await LoadAsync(ct);
        if (_recording.Status is RecordingStatus.Uploaded or RecordingStatus.Errored)
        {
            await FinishJobAsync(JobStates.Done, ct);
            return;
        }
        await ResumeFromDiskAsync(ct);
        if (_recording.Status != RecordingStatus.Uploading && !await CaptureAsync(ct))
        {
            return;
        }
        await TeardownAsync();
        await DeliverAsync(ct);
    }

    /// <summary>Segments left on disk by an earlier run of this job (a worker that was stopped or killed): they count
    /// toward <c>max_seconds</c>, and if the recording was running, the time from their last frame to the next first
    /// frame is a gap.</summary>
    private async Task ResumeFromDiskAsync(CancellationToken ct)
    {
        _segments.AddRange(Directory.GetFiles(_dir, "seg_*.mkv").Order(StringComparer.Ordinal));
        _gaps = _recording.GapsJson is { } gaps ? Mapping.Read<List<RecordingGap>>(gaps) : [];
        _started = _recording.StartedTime is not null;
        if (_segments.Count == 0)
        {
            return;
        }
        // What each segment holds, from the times kept beside it and the file's last write (the capture writes as
        // it goes): no need to read the segments through, which would keep the meeting waiting.
        foreach (var seg in _segments)
        {
            _recordedSeconds += SegmentFirstFrame(seg) is { } first
                ? Math.Max(0, (File.GetLastWriteTimeUtc(seg) - first).TotalSeconds)
                : (await SpanAsync(seg, ct))?.Seconds ?? 0;
        }
        var (desired, status, _) = await _store.ReadStateAsync(ct);
        if (status == RecordingStatus.Recording && desired == JobStates.DesiredRecord)
        {
            _gapFrom = File.GetLastWriteTimeUtc(_segments[^1]);
        }
        LogResumed(ctx.Logger, _segments.Count, _recordedSeconds);
    }

    /// <summary>Runs the capture until the recording stops. False when there is nothing to deliver (stopped
    /// before it started, or the job was taken over).</summary>
    private async Task<bool> CaptureAsync(CancellationToken ct)
    {
        using var span = Hosting.CapstanTelemetry.Source.StartActivity("recording.capture");
        await StartBrowserAsync(ct);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var (desired, status, _) = await _store.ReadStateAsync(ct);
            if (status == RecordingStatus.Errored)
            {
                // Stopped before it started (decisions.md: cancelled, no file).
                await StopSegmentAsync();
                await TeardownAsync();
                await FinishJobAsync(JobStates.Cancelled, ct);
                CleanUp();
                return false;
            }
            if (status == RecordingStatus.Uploading || desired == JobStates.DesiredStop)
            {
                await StopSegmentAsync();
                return true;
            }
            if (status == RecordingStatus.Paused || desired == JobStates.DesiredPause)
            {
                if (_capture is not null)
                {
                    // The file ends where the pause was seen, not where the capture stopped after being told to.
                    var pausedAt = ctx.Time.GetUtcNow().UtcDateTime;
                    WarmResumeHost();
                    await StopSegmentAsync(pausedAt);
                }
            }
            else if (_capture is null)
            {
                await StartSegmentAsync(ct);
            }

            if (_capture is not null && _current is { } seg)
            {
                // The first frame's wall-clock instant is fixed from a few frames' lines (their least delay).
                if (seg.Grabs >= 5 && seg.FirstFrameAt is { } first && (!_started || _gapFrom is not null))
                {
                    SaveOrigin(seg);
                    await OnFirstFrameAsync(first, ct);
                }
                if (seg.Grabs > 0)
                {
                    ReplenishPool();
                }
                await StartRtmpAsync();
                if (_recordedSeconds + seg.Seconds >= _config.MaxSeconds)
                {
                    await StopSegmentAsync();
                    await StopRecordingAsync(new ReasonDto { Reason = StopReasons.ApiCall, Caller = new CallerDto { Type = "INTERNAL", Name = "max_seconds" } }, ct);
                    return true;
                }
                if (_capture.HasExited)
                {
                    _gapFrom = seg.LastFrameAt ?? _gapFrom;
                    if (!await RecoverAsync(ct))
                    {
                        await StopRecordingAsync(new ReasonDto { Reason = StopReasons.InternalError, Caller = new CallerDto { Type = "INTERNAL" } }, ct);
                        return true;
                    }
                    continue;
                }
            }
            if (_surface is { Healthy: false })
            {
                _gapFrom = _current?.LastFrameAt ?? _gapFrom;
            }
            if (_surface is { Healthy: false } && !await RecoverAsync(ct))
            {
                await StopSegmentAsync();
                await StopRecordingAsync(new ReasonDto { Reason = StopReasons.InternalError, Caller = new CallerDto { Type = "INTERNAL" } }, ct);
                return true;
            }
            var waitingForFrame = _capture is not null && (!_started || _gapFrom is not null);
            await ctx.Signals.WaitAsync(waitingForFrame ? TimeSpan.FromMilliseconds(20) : ctx.Options.PollInterval, ct);
        }
    }

    /// <summary>A segment's first frame: the recording's <c>started_time</c> if it is the first, the end of a gap if
    /// one is open.</summary>
    private async Task OnFirstFrameAsync(DateTime first, CancellationToken ct)
    {
        if (!_started)
        {
            _started = true;
            await UpdateRecordingAsync((r, l, c) => l.MarkStartedAsync(r, first, c), ct);
            LogStarted(ctx.Logger, Ms(first - _recording.InvokedTime), Ms(_claimedAt - _recording.InvokedTime), Ms(_surfaceAt - _claimedAt),
                Ms(_launchedAt - _surfaceAt), Ms(first - _launchedAt), Ms(_pageAt - _surfaceAt), _captureBy);
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
            LogGap(ctx.Logger, (gap.End - gap.Start).TotalSeconds, gap.Start.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), gap.End.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), Ms(_claimedAt - from), Ms(_surfaceAt - _claimedAt), Ms(_launchedAt - _surfaceAt), Ms(first - _launchedAt), Ms(_pageAt - _surfaceAt));
        }
    }

    /// <summary>A capture process died: keep what the segment holds, restart what died, and go on in a new
    /// segment. False once the restarts are used up.</summary>
    private async Task<bool> RecoverAsync(CancellationToken ct)
    {
        var captureTail = _capture?.Tail();
        await StopSegmentAsync();
        if (++_restarts > ctx.Options.MaxCaptureRestarts)
        {
            LogGaveUp(ctx.Logger, _restarts - 1, captureTail ?? _surface?.Chromium.Tail() ?? string.Empty);
            return false;
        }
        ctx.Metrics?.CaptureRestarted();
        LogRestart(ctx.Logger, _restarts, _surface is { Healthy: false } ? "chromium or Xvfb" : "the capture");
        try
        {
            if (_surface is { Healthy: false })
            {
                await TeardownAsync();
                await StartBrowserAsync(ct);
            }
            return true;
        }
        catch (Exception e) when (e is ChildProcessException or TimeoutException or IOException)
        {
            LogFailed(ctx.Logger, e);
            return false;
        }
    }

    private async Task StartBrowserAsync(CancellationToken ct)
    {
        // Both compositors draw the watermark (the native one with gdkpixbufoverlay): fetched before either starts.
        if (_config.Watermark is { Url: { } wmUrl } && _watermark is null)
        {
            _watermark = await FetchWatermarkAsync(wmUrl, ct);
        }
        // The built-in layout without a browser (Recorder:Compositor = native): NativeComposite.cs.
        if ((_config.Compositor ?? EffectiveRecordingConfig.ChooseCompositor(_config, ctx.Options.Compositor)) == RecorderOptions.NativeCompositor)
        {
            _native ??= await NativeComposite.OpenAsync(ctx.Scopes, ctx.Http, _recording.MeetingId, ctx.Options.CompositorHost ?? NativeComposite.DefaultHostPath(), ctx.Ledger, ctx.Logger, ct);
            // No surface and no page: "surface" is the time the room's forwarders took to open.
            _surfaceAt = _pageAt = ctx.Time.GetUtcNow().UtcDateTime;
            return;
        }
        var w = _config.Width;
        var h = _config.Height;
        var token = await RecorderTokenAsync(ct);
        var url = _config.Url is { } custom
            ? custom + (custom.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "authToken=" + Uri.EscapeDataString(token) + "&config=" + Uri.EscapeDataString(PublicConfigJson())
            : $"{ctx.ServerUrl.TrimEnd('/')}/meeting?authToken={Uri.EscapeDataString(token)}";

        // A warm surface (display, sink, browser) when one is ready; otherwise launch one now.
        // The pool launches its next warm surface once this capture has its first frame (ReplenishPool), not now:
        // a browser launched beside the page and the capture took the cores from both (measured on a restart: the
        // capture's first frame 1.0 to 1.2 s after its launch).
        _surface = await ctx.Pool.TakeAsync(ct) ?? await CaptureSurface.LaunchAsync(ctx.Options, ctx.Pulse, ctx.Http, Path.Combine(_dir, "surface"), ctx.Ledger, ctx.User, ctx.Time, ct);
        _replenish = true;
        _surfaceAt = ctx.Time.GetUtcNow().UtcDateTime;
        // A recording that was running when its capture was lost (a gap is open: taken back after a restart, or a
        // browser that died) captures again while the page opens: the gap closes at its first frame, which comes
        // later than the page's navigation either way. A recording's first start waits for the page, so that it
        // turns RECORDING with the page on screen.
        var show = _surface.ShowAsync(url, w, h, ct);
        if (_gapFrom is not null)
        {
            await StartSegmentAsync(ct);
        }
        await show;
        _pageAt = ctx.Time.GetUtcNow().UtcDateTime;
        var deadline = ctx.Time.GetUtcNow() + ctx.Options.ReadyTimeout;
        while (ctx.Time.GetUtcNow() < deadline)
        {
            try
            {
                if ((await _surface.Cdp.EvaluateAsync(ReadyExpression, ct))?.GetValue<bool>() == true)
                {
                    break;
                }
            }
            catch (InvalidOperationException)
            {
                // the page is navigating
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), ctx.Time, ct);
        }
    }

    private async Task StartSegmentAsync(CancellationToken ct)
    {
        var index = _segments.Count + 1;
        var output = Path.Combine(_dir, $"seg_{index:D4}.mkv");
        var seg = new Segment(output, ctx.Time);
        if (_native is not null)
        {
            _launchedAt = ctx.Time.GetUtcNow().UtcDateTime;
            _captureBy = "native compositor";
            _rtmpPort = _config.RtmpUrl is null ? null : FreeUdpPort();
            _capture = _native.StartSegment(new Media.Compositor.CompositorSpec(_config.Width, _config.Height, ctx.Options.FrameRate, _config.VideoCodec, _config.AudioCodec,
                MediaArgs.Channels(_config), output, WatermarkFile: _watermark, WatermarkPosition: _config.Watermark?.Position,
                WatermarkWidth: _config.Watermark?.Size?.Width ?? 120, WatermarkHeight: _config.Watermark?.Size?.Height ?? 60, RtmpPort: _rtmpPort),
                Path.Combine(_dir, "capture.log"), seg.OnLine);
            _current = seg;
            _segments.Add(output);
            await StartRtmpAsync();
            return;
        }
        var surface = _surface ?? throw new InvalidOperationException("no capture surface");
        _rtmpPort = _config.RtmpUrl is null ? null : FreeUdpPort();
        var spec = new CaptureSpec(surface.Display, surface.Sink, _config.Width, _config.Height, ctx.Options.FrameRate, _config.VideoCodec, _config.AudioCodec,
            MediaArgs.Channels(_config), output, _watermark, _config.Watermark?.Position,
            _config.Watermark?.Size?.Width ?? 120, _config.Watermark?.Size?.Height ?? 60, _rtmpPort);
        ctx.User.CreateOwnedFile(output);
        _launchedAt = ctx.Time.GetUtcNow().UtcDateTime;
        // The surface's warm capture host when it has one ready (the first segment), else gst-launch: one pipeline.
        var warm = surface.TakeCapture() ?? await TakeResumeHostAsync();
        _captureBy = warm is null ? "gst-launch" : "warm host";
        _capture = warm is not null
            ? warm.Begin(MediaArgs.Capture(spec), seg.OnLine)
            : ctx.Ledger.Track(ChildProcess.Start("gst-launch", ctx.Options.GstLaunch, MediaArgs.Capture(spec), Path.Combine(_dir, "capture.log"),
                ctx.Pulse.Environment, seg.OnLine, logFilter: l => !MediaArgs.IsGrabLine(l), runAs: ctx.User));
        _current = seg;
        _segments.Add(output);
        await StartRtmpAsync();
    }

    /// <summary>The RTMP pusher of the current segment (when the recording streams out): started with the segment,
    /// and again, at most every 2 s, when it exits while the segment runs (the target was down, or refused).</summary>
    private async Task StartRtmpAsync()
    {
        if (_config.RtmpUrl is not { } url || _rtmpPort is not { } port || _capture is null || _rtmp is { HasExited: false } || ctx.Time.GetUtcNow().UtcDateTime < _rtmpRetryAt)
        {
            return;
        }
        if (_rtmp is not null)
        {
            await _rtmp.DisposeAsync();
        }
        _rtmpRetryAt = ctx.Time.GetUtcNow().UtcDateTime.AddSeconds(2);
        _rtmp = ctx.Ledger.Track(ChildProcess.Start("ffmpeg-rtmp", ctx.Options.Ffmpeg, MediaArgs.RtmpPush(port, url), Path.Combine(_dir, "rtmp.log"), runAs: ctx.User));
    }

    private static int FreeUdpPort()
    {
        using var socket = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.Client.LocalEndPoint!).Port;
    }

    /// <summary>The wall-clock origin of a segment's timestamps, from the file kept beside it.</summary>
    private static DateTime? SegmentOrigin(string segment) => SegmentTime(segment, 0);

    /// <summary>The wall-clock instant of a segment's first frame, from the file kept beside it.</summary>
    private static DateTime? SegmentFirstFrame(string segment) => SegmentTime(segment, 1);

    private static DateTime? SegmentTime(string segment, int index)
    {
        var file = segment + ".origin";
        if (!File.Exists(file))
        {
            return null;
        }
        var parts = File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > index && long.TryParse(parts[index], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks) ? new DateTime(ticks, DateTimeKind.Utc) : null;
    }

    /// <summary>Ends the current segment cleanly: SIGINT (gst-launch <c>-e</c> turns it into end-of-stream, which
    /// finishes the file), then kill after 5 s. Its clock origin is kept beside it, for a worker that takes the
    /// recording back.</summary>
    private async Task StopSegmentAsync(DateTime? cutAt = null)
    {
        if (_capture is null)
        {
            return;
        }
        var capture = _capture;
        _capture = null;
        await capture.StopAsync(TimeSpan.FromSeconds(5), p =>
        {
            p.Signal(2);
            return Task.CompletedTask;
        });
        await capture.DisposeAsync();
        if (_rtmp is not null)
        {
            await _rtmp.DisposeAsync();
            _rtmp = null;
        }
        if (_current is { } seg)
        {
            _recordedSeconds += seg.Seconds;
            SaveOrigin(seg, cutAt);
            LogSegment(ctx.Logger, Path.GetFileName(seg.Path), seg.Seconds, seg.Grabs, seg.ExpectedFrames(ctx.Options.FrameRate), Math.Round(seg.OriginRefinedMs, 1),
                seg.PlayingAt is { } playing ? Ms(playing - seg.LaunchedAt) : -1, seg.FirstFrameAt is { } firstFrame ? Ms(firstFrame - seg.LaunchedAt) : -1);
            ctx.Metrics?.CaptureFramesDropped(Math.Max(0, seg.ExpectedFrames(ctx.Options.FrameRate) - seg.Grabs));
        }
        _current = null;
    }

    /// <summary>Keeps the segment's clock origin and first frame beside it (<c>seg_N.mkv.origin</c>: two wall-clock
    /// tick counts, and a third when the file is to end before the segment does: the instant a pause was seen), for
    /// the join and for a worker that takes the recording back.</summary>
    private static void SaveOrigin(Segment seg, DateTime? cutAt = null)
    {
        if (seg.Origin is { } origin && seg.FirstFrameAt is { } first)
        {
            var ticks = new List<long> { origin.Ticks, first.Ticks };
            if (cutAt is { } cut)
            {
                ticks.Add(cut.Ticks);
            }
            File.WriteAllText(seg.Path + ".origin", string.Join(' ', ticks.Select(t => t.ToString(CultureInfo.InvariantCulture))));
        }
    }

    /// <summary>Launches a capture host for the segment that will resume a paused recording (a browser capture's):
    /// it loads GStreamer while the recording is paused, so that after a pause long enough for it to warm the resumed
    /// capture's first frame comes 0.07 to 0.13 s after the resume (measured, 2 s pauses), where a
    /// <c>gst-launch-1.0</c> started at the resume took 0.4 to 2 s here (a 1.5 s span after a quick resume held 0 to
    /// 6 frames), time the meeting went on unrecorded. After a shorter pause gst-launch is used (<see cref="TakeResumeHostAsync"/>).</summary>
    private void WarmResumeHost()
    {
        if (_resumeHost is not null || _native is not null || _surface is null)
        {
            return;
        }
        var hostPath = ctx.Options.CompositorHost ?? NativeComposite.DefaultHostPath();
        if (ctx.User.Switches && !RecorderWorker.PassableByOthers(hostPath))
        {
            return;
        }
        _resumeHost = WarmCapture.Start(hostPath, Path.Combine(_dir, "capture-host.log"), ctx.Pulse.Environment, ctx.Ledger, ctx.User);
    }

    /// <summary>The host <see cref="WarmResumeHost"/> launched if it is warm, else null (and the host is ended): a
    /// host still warming is not waited for, since a <c>gst-launch-1.0</c> started now plays sooner than it (the
    /// host is the server's own executable: measured under the media tests' load, a host launched at a pause was
    /// not warm 2.5 s later, where gst-launch played 0.7 to 2 s after its launch).</summary>
    private async Task<WarmCapture?> TakeResumeHostAsync()
    {
        if (_resumeHost is not { } host)
        {
            return null;
        }
        _resumeHost = null;
        if (host.Ready)
        {
            return host;
        }
        await host.DisposeAsync();
        return null;
    }

    /// <summary>Has the pool launch a warm surface for the one this session took, once (see StartBrowserAsync).</summary>
    private void ReplenishPool()
    {
        if (_replenish)
        {
            _replenish = false;
            ctx.Pool.Replenish(ctx.Options.Slots, ctx.Stopping);
        }
    }

    private async Task TeardownAsync()
    {
        ReplenishPool();
        await StopSegmentAsync();
        if (_resumeHost is not null)
        {
            await _resumeHost.DisposeAsync();
            _resumeHost = null;
        }
        if (_native is not null)
        {
            await _native.DisposeAsync();
            _native = null;
        }
        if (_surface is not null)
        {
            await _surface.DisposeAsync();
            _surface = null;
        }
    }

    /// <summary>Joins the segments, cuts the audio file, puts the files in the default bucket and marks the
    /// recording UPLOADED. With nothing captured the recording ends ERRORED.</summary>
    private async Task DeliverAsync(CancellationToken ct)
    {
        using var span = Hosting.CapstanTelemetry.Source.StartActivity("recording.postprocess");
        await RemoveRecorderParticipantAsync(ct);
        _recording = await _store.LoadAsync(ct);
        var outDir = Path.Combine(_dir, "out");
        var manifestPath = Path.Combine(_dir, "delivery.json");
        var delivery = File.Exists(manifestPath) ? Mapping.Read<Delivery>(await File.ReadAllTextAsync(manifestPath, ct)) : null;
        if (delivery is null)
        {
            await RefineStartedTimeAsync(ct);
            delivery = await ProduceAsync(outDir, ct);
            if (delivery is null)
            {
                await FailAsync("nothing was captured", ct);
                return;
            }
            await SaveAsync(manifestPath, delivery, ct);
            foreach (var seg in _segments.Where(File.Exists))
            {
                File.Delete(seg);
            }
        }

        // The default bucket: a copy on this machine, served through signed URLs.
        if (_config.DefaultBucket && !delivery.DefaultBucketDone)
        {
            foreach (var f in delivery.Files)
            {
                await ctx.Bucket.StoreAsync(_recording.AppId, _recording.Id, f.Path, f.Name, ct);
            }
            delivery.DefaultBucketDone = true;
            await SaveAsync(manifestPath, delivery, ct);
        }

        // The custom destination, through the spool: retried while unreachable, ERRORED when refused.
        string? destinationError = null;
        if (_config.Storage is { } stored && !delivery.DestinationDone)
        {
            var config = Domain.StorageConfigs.Unprotect(stored, ctx.Protector);
            var items = delivery.Files.Select(f => new Storage.UploadItem(f.Path, Storage.ObjectKeys.For(config, f.Name), Storage.ContentTypes.Of(f.Name), f.Size, f.Sha256)).ToList();
            try
            {
                await ctx.Spool.DeliverAsync(config, items, ct);
                delivery.DestinationDone = true;
                await SaveAsync(manifestPath, delivery, ct);
            }
            catch (Storage.StorageException e)
            {
                destinationError = e.Message;
            }
        }

        var expiry = ctx.Time.GetUtcNow().UtcDateTime + ctx.Bucket.Options.UrlExpiry;
        var video = delivery.Files.FirstOrDefault(f => f.Role == "video");
        var audio = delivery.Files.FirstOrDefault(f => f.Role == "audio");
        var main = video ?? audio!;
        var videoUrl = video is not null && _config.DefaultBucket ? await ctx.Bucket.SignedUrlAsync(_recording.AppId, _recording.Id, video.Name, expiry) : null;
        var audioUrl = audio is not null && _config.DefaultBucket ? await ctx.Bucket.SignedUrlAsync(_recording.AppId, _recording.Id, audio.Name, expiry) : null;
        var seconds = (long)Math.Round(delivery.DurationSeconds, MidpointRounding.AwayFromZero);
        await UpdateRecordingAsync(async (r, l, c) =>
        {
            r.Sha256 = main.Sha256;
            r.AudioSha256 = audio?.Sha256;
            if (destinationError is null)
            {
                await l.CompleteAsync(r, main.Size, seconds, videoUrl, audioUrl, _config.DefaultBucket ? expiry : null, c);
                return;
            }
            // The default-bucket copy is delivered even when the destination failed.
            r.FileSize = main.Size;
            r.DurationSeconds = seconds;
            r.DownloadUrl = videoUrl;
            r.AudioDownloadUrl = audioUrl;
            r.DownloadUrlExpiry = _config.DefaultBucket ? expiry : null;
            await l.FailAsync(r, "delivery failed: " + destinationError, c);
        }, ct);
        await FinishJobAsync(JobStates.Done, ct);
        LogDelivered(ctx.Logger, delivery.Files.Count, delivery.DurationSeconds, main.Size);
        if (destinationError is null || _config.DefaultBucket)
        {
            CleanUp();
            if (Directory.Exists(outDir))
            {
                Directory.Delete(outDir, recursive: true);
            }
            File.Delete(manifestPath);
        }
    }

    /// <summary><c>started_time</c> is published once the first segment has a few frames, from the least delay of
    /// their lines (<see cref="Segment.Origin"/>); the frames after it can only lower that delay, and with it the
    /// first frame's instant. Where the whole segment says the first frame came more than a frame earlier than
    /// published, <c>started_time</c> is corrected to it before the file is made, so that the file's first frame
    /// is its <c>started_time</c> and its duration <c>stopped_time - started_time</c>. Measured: usually a few ms
    /// (0.4 to 30 ms over 14 starts with the warm capture host), once 0.32 s with both cores busy. Never before
    /// <c>invoked_time</c>. (Decision: a correction of <c>started_time</c> at the stop, logged, rather than a file
    /// that starts before it.)</summary>
    private async Task RefineStartedTimeAsync(CancellationToken ct)
    {
        if (_recording.StartedTime is not { } published || _segments.FirstOrDefault(File.Exists) is not { } first
            || SegmentFirstFrame(first) is not { } measured)
        {
            return;
        }
        var refined = measured < _recording.InvokedTime ? _recording.InvokedTime : measured;
        if ((published - refined).TotalSeconds <= 1.0 / ctx.Options.FrameRate)
        {
            return;
        }
        await UpdateRecordingAsync((r, _, _) =>
        {
            r.StartedTime = refined;
            return Task.CompletedTask;
        }, ct);
        _recording = await _store.LoadAsync(ct);
        LogStartRefined(ctx.Logger, Ms(published - refined));
    }

    /// <summary>Joins the segments without re-encoding and cuts the audio file: the files to deliver, with
    /// sizes and SHA-256, in <paramref name="outDir"/>. Null when nothing usable was captured.</summary>
    private async Task<Delivery?> ProduceAsync(string outDir, CancellationToken ct)
    {
        // Each segment is stamped on a clock of its own: the concat list gives each its span, so the next one
        // starts where its packets end (no gap, no overlap at a pause, a restart or a take-over).
        var usable = new List<(string File, MediaSpan Span)>();
        foreach (var s in _segments.Where(File.Exists))
        {
            if (await SpanAsync(s, ct) is { Seconds: > 0.2 } span)
            {
                usable.Add((s, span));
            }
        }
        if (usable.Count == 0)
        {
            return null;
        }
        Directory.CreateDirectory(outDir);
        var joined = Path.Combine(outDir, _recording.OutputFileName);
        if (!_config.VideoExport)
        {
            joined = Path.Combine(_dir, "joined." + _config.VideoExtension);
        }
        var list = Path.Combine(_dir, "segments.txt");
        var lines = new List<string>();
        for (var i = 0; i < usable.Count; i++)
        {
            var (file, span) = usable[i];
            lines.Add("file '" + file.Replace("'", "'\\''", StringComparison.Ordinal) + "'");
            // The file ends at stopped_time, and a segment a pause ended at the instant the pause was seen: each is
            // cut there (its clock is the wall clock from its origin), not where the capture happened to stop after
            // being told to. The next segment starts where this one's duration ends: the cut's, when there is one.
            var cut = SegmentTime(file, 2) ?? (i == usable.Count - 1 ? _recording.StoppedTime : null);
            if (cut is { } at && SegmentOrigin(file) is { } origin && span.CutOnFrame((at - origin).TotalSeconds, ctx.Options.FrameRate) is var end
                && end > span.Start + 0.2 && end < span.End)
            {
                lines.Add("duration " + (end - span.Start).ToString("F6", CultureInfo.InvariantCulture));
                lines.Add("outpoint " + end.ToString("F6", CultureInfo.InvariantCulture));
            }
            else
            {
                lines.Add("duration " + span.Seconds.ToString("F6", CultureInfo.InvariantCulture));
            }
        }
        await File.WriteAllLinesAsync(list, lines, ct);
        await RunToolAsync("ffmpeg", ctx.Options.Ffmpeg, MediaArgs.Join(list, joined, _config.VideoExtension,
            MediaArgs.SoundShiftSeconds(_config.AudioCodec, ctx.Options.FrameRate, grabbed: _native is null, meetingView: _config.Url is null, ctx.Options.AudioOffsetSeconds)), ct);
        var delivery = new Delivery { DurationSeconds = await ProbeDurationAsync(joined, ct) };
        if (_config.VideoExport)
        {
            delivery.Files.Add(await DescribeAsync("video", joined, _recording.OutputFileName, ct));
        }
        if (_config.AudioExport && _recording.AudioFileName is { } audioName)
        {
            var audioFile = Path.Combine(outDir, audioName);
            await RunToolAsync("ffmpeg", ctx.Options.Ffmpeg, MediaArgs.ExtractAudio(joined, audioFile), ct);
            delivery.Files.Add(await DescribeAsync("audio", audioFile, audioName, ct));
        }
        if (!_config.VideoExport)
        {
            File.Delete(joined);
        }
        return delivery;
    }

    private static async Task<DeliveredFile> DescribeAsync(string role, string path, string name, CancellationToken ct)
    {
        var item = await Storage.UploadItem.ForFileAsync(path, name, ct);
        return new DeliveredFile { Role = role, Path = path, Name = name, Size = item.Size, Sha256 = item.Sha256Hex };
    }

    private static async Task SaveAsync(string path, Delivery delivery, CancellationToken ct)
    {
        var tmp = path + ".tmp";
        await File.WriteAllTextAsync(tmp, Mapping.Write(delivery), ct);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>What a finished recording delivers, kept beside the files so that a restarted worker resumes the
    /// delivery where it stopped.</summary>
    private sealed class Delivery
    {
        public List<DeliveredFile> Files { get; set; } = [];

        public double DurationSeconds { get; set; }

        public bool DefaultBucketDone { get; set; }

        public bool DestinationDone { get; set; }
    }

    private sealed class DeliveredFile
    {
        public required string Role { get; set; }

        public required string Path { get; set; }

        public required string Name { get; set; }

        public long Size { get; set; }

        public required string Sha256 { get; set; }
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
            await TeardownAsync();
            await UpdateRecordingAsync(async (r, l, c) =>
            {
                if (r.Status is not RecordingStatus.Uploaded and not RecordingStatus.Errored)
                {
                    await l.FailAsync(r, message, c);
                }
            }, ct);
            await FinishJobAsync(JobStates.Done, ct);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or ChildProcessException)
        {
            LogFailed(ctx.Logger, e);
        }
    }

    private async Task LoadAsync(CancellationToken ct)
    {
        _recording = await _store.LoadAsync(ct);
        _config = Mapping.Read<EffectiveRecordingConfig>(_recording.ConfigJson);
    }

    private async Task UpdateRecordingAsync(Func<RecordingRow, RecordingLifecycle, CancellationToken, Task> change, CancellationToken ct) =>
        _recording = await _store.UpdateAsync(change, ct);

    private Task FinishJobAsync(string state, CancellationToken ct) => _store.FinishAsync(state, ct);

    private Task<T> WithScopeAsync<T>(Func<IServiceProvider, Task<T>> f) => _store.WithScopeAsync(f);

    /// <summary>A hidden participant with the recorder preset, and its token for the recorder view.</summary>
    private async Task<string> RecorderTokenAsync(CancellationToken ct)
    {
        await using var scope = ctx.Scopes.CreateAsyncScope();
        var meetings = scope.ServiceProvider.GetRequiredService<MeetingService>();
        // One recorder participant per recording: a worker that takes the recording back after a restart reuses the
        // one the earlier run added.
        var customId = "capstan-recorder-" + job.RecordingId.ToString("N")[..12];
        _recorderParticipant ??= (await meetings.FindParticipantByCustomIdAsync(_recording.AppId, _recording.MeetingId, customId, ct))?.Id;
        if (_recorderParticipant is { } existing)
        {
            return await meetings.RefreshTokenAsync(_recording.AppId, _recording.MeetingId, existing, ct);
        }
        var (participant, token) = await meetings.AddParticipantAsync(_recording.AppId, _recording.MeetingId,
            new AddParticipantRequest { CustomParticipantId = customId, PresetName = Presets.Recorder, Name = "Recorder" }, ct);
        _recorderParticipant = participant.Id;
        return token;
    }

    private async Task RemoveRecorderParticipantAsync(CancellationToken ct)
    {
        if (_recorderParticipant is not { } id)
        {
            return;
        }
        await using var scope = ctx.Scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        await db.Participants.Where(p => p.Id == id).ExecuteDeleteAsync(ct);
        _recorderParticipant = null;
    }

    /// <summary>The start config a custom recording app receives in <c>config</c> (no secrets).</summary>
    private string PublicConfigJson() => JsonSerializer.Serialize(new
    {
        video_config = new { codec = _config.VideoCodec, width = _config.Width, height = _config.Height, watermark = _config.Watermark },
        audio_config = new { codec = _config.AudioCodec, channel = _config.AudioChannel },
        max_seconds = _config.MaxSeconds,
        file_name_prefix = _config.FileNamePrefix,
    }, CapstanJson.Options);

    /// <summary>Fetches the watermark image once (at most 5 MB); the encoder places it.</summary>
    private async Task<string> FetchWatermarkAsync(string url, CancellationToken ct)
    {
        var file = Path.Combine(_dir, "watermark");
        using var r = await Security.OutboundServices.OutboundClient(ctx.Scopes).GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, ct);
        r.EnsureSuccessStatusCode();
        if (r.Content.Headers.ContentLength > 5 * 1024 * 1024)
        {
            throw new InvalidOperationException("the watermark image is larger than 5 MB");
        }
        await using var input = await r.Content.ReadAsStreamAsync(ct);
        await using var output = File.Create(file);
        var buffer = new byte[81920];
        long total = 0;
        int n;
        while ((n = await input.ReadAsync(buffer, ct)) > 0)
        {
            total += n;
            if (total > 5 * 1024 * 1024)
            {
                throw new InvalidOperationException("the watermark image is larger than 5 MB");
            }
            await output.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        ctx.User.ShareFile(file);
        return file;
    }

    private async Task<MediaSpan?> SpanAsync(string segment, CancellationToken ct)
    {
        try
        {
            return await MediaTools.SpanAsync(ctx.Options.Ffprobe, segment, ct);
        }
        catch (ChildProcessException)
        {
            return null;
        }
    }

    /// <summary>A segment's or file's duration; a Matroska segment from a killed capture has none in its header: then
    /// where its packets end (<see cref="MediaTools.SpanAsync"/>).</summary>
    private async Task<double> ProbeDurationAsync(string file, CancellationToken ct)
    {
        try
        {
            if (await MediaTools.DurationAsync(ctx.Options.Ffprobe, file, ct) is { } duration)
            {
                return duration;
            }
        }
        catch (ChildProcessException)
        {
            // no duration in the header
        }
        return (await SpanAsync(file, ct))?.End ?? 0;
    }

    private Task RunToolAsync(string name, string tool, IReadOnlyList<string> args, CancellationToken ct) =>
        MediaTools.RunAsync(name, tool, args, Path.Combine(_dir, name + "-post.log"), TimeSpan.FromMinutes(30), ct);

    private void CleanUp()
    {
        foreach (var f in _segments.SelectMany(s => new[] { s, s + ".origin" }).Where(File.Exists))
        {
            File.Delete(f);
        }
        foreach (var f in new[] { "watermark", "segments.txt" }.Select(f => Path.Combine(_dir, f)).Where(File.Exists))
        {
            File.Delete(f);
        }
    }

    public async ValueTask DisposeAsync() => await TeardownAsync();

    /// <summary>One capture segment, followed through the grabbed frames the pipeline prints
    /// (<see cref="MediaArgs.GrabLine"/>): each frame's time on the pipeline's running clock. The wall-clock
    /// instant of running time 0 (<see cref="Origin"/>) is the least, over the frames seen, of the time a frame's
    /// line arrived less the frame's time: a line can only arrive after its frame was grabbed.</summary>
    private sealed class Segment(string path, TimeProvider time)
    {
        private readonly Lock _gate = new();
        private double? _first;
        private double _last;
        private long _grabs;
        private DateTime? _origin;
        private DateTime? _originAtFirst;
        private DateTime? _playingAt;

        /// <summary>When the capture was launched.</summary>
        public DateTime LaunchedAt { get; } = time.GetUtcNow().UtcDateTime;

        /// <summary>When the pipeline said it was going to PLAYING (its sources start then).</summary>
        public DateTime? PlayingAt
        {
            get
            {
                lock (_gate)
                {
                    return _playingAt;
                }
            }
        }

        /// <summary>How far the clock's origin moved earlier after the first frame was placed (when
        /// <c>started_time</c> was published): the first frame's instant was that much late.</summary>
        public double OriginRefinedMs
        {
            get
            {
                lock (_gate)
                {
                    return _originAtFirst is { } a && _origin is { } o ? (a - o).TotalMilliseconds : 0;
                }
            }
        }

        public string Path { get; } = path;

        public DateTime? Origin
        {
            get
            {
                lock (_gate)
                {
                    return _origin;
                }
            }
        }

        /// <summary>The wall-clock instant of the segment's first frame, once grabbed.</summary>
        public DateTime? FirstFrameAt
        {
            get
            {
                lock (_gate)
                {
                    return _first is { } f && _origin is { } o ? o.AddSeconds(f) : null;
                }
            }
        }

        public DateTime? LastFrameAt
        {
            get
            {
                lock (_gate)
                {
                    return _first is not null && _origin is { } o ? o.AddSeconds(_last) : null;
                }
            }
        }

        /// <summary>Frames grabbed so far.</summary>
        public long Grabs => Interlocked.Read(ref _grabs);

        /// <summary>Seconds from the first frame to the last.</summary>
        public double Seconds
        {
            get
            {
                lock (_gate)
                {
                    return _first is { } f ? _last - f : 0;
                }
            }
        }

        /// <summary>The frames the segment's span calls for at <paramref name="fps"/>.</summary>
        public long ExpectedFrames(int fps) => Grabs == 0 ? 0 : (long)Math.Round(Seconds * fps) + 1;

        public void OnLine(string line)
        {
            var now = time.GetUtcNow().UtcDateTime;
            if (line.StartsWith("Setting pipeline to PLAYING", StringComparison.Ordinal))
            {
                lock (_gate)
                {
                    _playingAt ??= now;
                }
                return;
            }
            if (MediaArgs.GrabbedAtLine(line, out var at, out var pts))
            {
                // The host's own instant for the frame (its grab line follows): a bound the arrival cannot beat.
                lock (_gate)
                {
                    if (_origin is null || at.AddSeconds(-pts) < _origin)
                    {
                        _origin = at.AddSeconds(-pts);
                    }
                }
                return;
            }
            if (!MediaArgs.GrabLine(line, out var t))
            {
                return;
            }
            lock (_gate)
            {
                _last = Math.Max(_last, t);
                var origin = now.AddSeconds(-t);
                if (_origin is null || origin < _origin)
                {
                    _origin = origin;
                }
                if (_first is null)
                {
                    _first = t;
                    _originAtFirst = _origin;
                }
            }
            Interlocked.Increment(ref _grabs);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording started_time moved {Ms} ms earlier: the first segment's frames placed its first frame that much before the published instant")]
    private static partial void LogStartRefined(ILogger logger, long ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: took the recording back with {Segments} segments ({Seconds} s) on disk")]
    private static partial void LogResumed(ILogger logger, int segments, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording gap: {Seconds} s of the meeting were not recorded, {From} to {To} (session +{ClaimMs}, surface +{SurfaceMs}, capture launched +{LaunchMs}, first frame +{FrameMs} ms; the page opened {PageMs} ms after the surface)")]
    private static partial void LogGap(ILogger logger, double seconds, string from, string to, long claimMs, long surfaceMs, long launchMs, long frameMs, long pageMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Segment {Segment}: {Seconds} s, {Grabs} frames grabbed of {Expected}; clock origin refined by {OriginMs} ms after the first frame; PLAYING +{PlayingMs} ms, first frame +{FirstFrameMs} ms after launch")]
    private static partial void LogSegment(ILogger logger, string segment, double seconds, long grabs, long expected, double originMs, long playingMs, long firstFrameMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: {Message}")]
    private static partial void Log(ILogger logger, string message);

    private static long Ms(TimeSpan t) => (long)Math.Round(t.TotalMilliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording started: first frame {LatencyMs} ms after invoke (claimed +{ClaimMs}, surface +{SurfaceMs}, capture launched +{LaunchMs}, first frame +{FrameMs} ms; the page opened {PageMs} ms after the surface; capture by {Capture})")]
    private static partial void LogStarted(ILogger logger, long latencyMs, long claimMs, long surfaceMs, long launchMs, long frameMs, long pageMs, string capture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Capture restart {Count}: {What} died")]
    private static partial void LogRestart(ILogger logger, int count, string what);

    [LoggerMessage(Level = LogLevel.Error, Message = "Capture gave up after {Count} restarts: {Tail}")]
    private static partial void LogGaveUp(ILogger logger, int count, string tail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording delivered: {Files} files, {Seconds} s, {Bytes} bytes")]
    private static partial void LogDelivered(ILogger logger, int files, double seconds, long bytes);
}
