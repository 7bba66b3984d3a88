using Capstan.Gst;
using System.Globalization;
using System.Text.Json;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Processes;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>What a composite capture needs from its worker.</summary>
public sealed record RecorderContext(
    RecorderOptions Options, IServiceScopeFactory Scopes, PulseServer Pulse, DefaultBucket Bucket, HttpClient Http,
    RecorderSignals Signals, TimeProvider Time, ILogger Logger, string Owner, string ServerUrl, string WorkDir, WarmPool Pool,
    Storage.UploadSpool Spool, Security.SecretProtector Protector, ProcessLedger Ledger, ProcessUser User, Hosting.CapstanMetrics? Metrics, CancellationToken Stopping)
{
    /// <summary>What the job runner needs of it.</summary>
    public RecordingJobContext Job => new(Options, Scopes, Bucket, Spool, Protector, Signals, Time, Logger, Owner, Metrics);
}

/// <summary>The composite capture of one recording (run by <see cref="RecordingJob"/>, which says when to record,
/// pause, stop and restart): its own X display, audio sink and Chromium on the recorder view (or the custom
/// <c>url</c>), or the native compositor (<see cref="NativeComposite"/>) for the built-in layout; capture segments
/// (a GStreamer pipeline each, <see cref="MediaArgs.Capture"/>) that follow pause and resume, a new one after a
/// restart; then the segments joined without re-encoding and the audio file cut from it.
/// <para>Time: each segment is stamped on the wall clock from an origin of its own (see
/// <see cref="MediaArgs.Capture"/>), so its first grabbed frame is the recording's <c>started_time</c> exactly, and
/// where one segment ended and the next began is known to the frame. A segment that ends other than by a pause or
/// the stop (the capture or Chromium died and was restarted, or the worker was killed and took the recording back when it
/// started again) leaves a gap, from its last frame to the next segment's first: listed in <c>gaps</c> and, like a
/// pause, joined over in the file.</para></summary>
public sealed partial class CompositeCapture(RecordingJobRecord record, RecorderContext ctx) : IRecordingCapture
{
    /// <summary>The recording's page is ready. <c>Page.navigate</c> answers before the new document replaces the
    /// surface's blank page (<see cref="MediaArgs.BlankApp"/>, a <c>data:</c> URL, itself complete): until the
    /// document is no longer that one, it is not ready (without this check, with <c>Recorder:ReadyTimeout</c> set, the
    /// blank page itself counted as ready at once).</summary>
    private const string ReadyExpression =
        "(!document.URL.startsWith('data:') && (window.capstanRecorder ? (window.capstanRecorder.ready === true || !!window.capstanRecorder.error) : document.readyState === 'complete'))";

    private readonly string _dir = Path.Combine(ctx.WorkDir, record.Job.RecordingId.ToString("D"));
    private readonly List<string> _segments = [];
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
    private bool _replenish;

    // A gap is open (a lost capture, or a worker that took the recording back): the page is not waited for.
    private bool _gapOpen;

    // Where the time to the first frame went: the session began, the surface was ready, the capture launched (its
    // first frame follows); the page (the recorder's token, the navigation) opens before the launch, within "capture launched".
    private DateTime _claimedAt = ctx.Time.GetUtcNow().UtcDateTime, _surfaceAt, _pageAt, _launchedAt;
    private int _captureStop = GstLaunchStopSignal; // the current capture's clean stop (StopSegmentAsync)

    // What runs the current segment's capture: the surface's warm capture host, gst-launch, or the native compositor.
    private string _captureBy = "gst-launch";

    // A capture host launched when the recording pauses, warming while it is paused, for the segment that resumes it.
    private WarmCapture? _resumeHost;

    // Ships the segments to shared storage while they are written (null: no shared store configured). Resolved from
    // the services rather than passed in the worker's context, which other work changes at the same time.
    private readonly SegmentShipper? _shipper = ShippingOf(ctx.Scopes)?.For(record.Job.RecordingId);

    private static SegmentShipping? ShippingOf(IServiceScopeFactory scopes)
    {
        using var scope = scopes.CreateScope();
        return scope.ServiceProvider.GetService<SegmentShipping>();
    }

    private RecordingRow Recording => record.Recording;

    private EffectiveRecordingConfig Config => record.Config;

    public string Dir => _dir;

    public string Kind => Native ? "native" : "browser";

    /// <summary>A segment's capture is running (not paused, not between a restart's segments): what
    /// <see cref="CostMeter"/> learns a class's cost from.</summary>
    public bool Grabbing => _capture is { HasExited: false };

    private (Segment? Segment, long Grabs, double Seconds) _keptUp;

    /// <summary>Whether the capture got its frames since the last call (at least 95 % of them, or the first call of a
    /// segment): a starved capture uses less than it needs, and <see cref="CostMeter"/> must not learn that as its
    /// class's cost (8 recordings on 2 cores measured 0.17 core each while they dropped frames, and the meter
    /// admitted all of them).</summary>
    public bool KeepingUp()
    {
        if (_current is not { } seg)
        {
            return false;
        }
        var (grabs, seconds) = (seg.Grabs, seg.Seconds);
        var before = _keptUp;
        _keptUp = (seg, grabs, seconds);
        var window = seconds - before.Seconds;
        if (before.Segment != seg || window <= 0)
        {
            return false; // no window yet: the next sample judges
        }
        return grabs - before.Grabs >= 0.95 * window * ctx.Options.FrameRate;
    }

    /// <summary>The processes this recording runs now, the roots of the trees <see cref="CostMeter"/> measures: its
    /// surface's Xvfb and Chromium, the capture (a warm host, gst-launch or the native compositor's host), the RTMP
    /// pusher and a capture host warming for the resume.</summary>
    public IEnumerable<int> ProcessIds =>
        new[] { _surface?.Xvfb, _surface?.Chromium, _capture, _rtmp, _resumeHost?.Process }.Where(p => p is { HasExited: false }).Select(p => p!.Id).ToList();

    private bool Native => (Config.Compositor ?? EffectiveRecordingConfig.ChooseCompositor(Config, ctx.Options.Compositor)) == RecorderOptions.NativeCompositor;

    public bool Capturing => false;

    public double RecordedSeconds => _recordedSeconds + (_capture is not null ? _current?.Seconds ?? 0 : 0);

    public TimeSpan NextCheck(bool awaitingFrame) => awaitingFrame && _capture is not null ? TimeSpan.FromMilliseconds(20) : ctx.Options.PollInterval;

    public void Tag(System.Diagnostics.Activity span)
    {
        ArgumentNullException.ThrowIfNull(span);
        span.SetTag("capstan.segments", _segments.Count);
    }

    /// <summary>Segments left on disk by an earlier run of this job (a worker that was stopped or killed): they count
    /// toward <c>max_seconds</c>, and if the recording was running, the time from their last frame to the next first
    /// frame is a gap.</summary>
    public async Task<DateTime?> ResumeAsync(bool wasRecording, CancellationToken ct)
    {
        ctx.User.ShareDirectory(_dir); // Capstan's folder; the capture, running as the recorder's user, writes only the segment files made for it.
        if (_shipper is not null)
        {
            await FetchShippedAsync(_shipper, ct);
        }
        _segments.AddRange(Directory.GetFiles(_dir, "seg_*.mkv").Order(StringComparer.Ordinal));
        if (_segments.Count == 0)
        {
            // Started elsewhere and nothing of it here or in a shared store (none configured, or the node was lost
            // before its first piece went up): what was recorded there is missing from the file, a gap from the start.
            return wasRecording && Recording.StartedTime is { } started ? started : null;
        }
        if (_shipper is not null)
        {
            // What an earlier run here wrote after its last stored piece goes up too (in the background; a store
            // that cannot be listed now leaves it on this disk, as without shipping).
            try
            {
                await _shipper.ResumeAsync(_segments, ct);
            }
            catch (Exception e) when (e is IOException or Storage.StorageException or UnauthorizedAccessException or HttpRequestException)
            {
                LogFetchFailed(ctx.Logger, _shipper.Store.Description, e.Message);
            }
        }
        // What each segment holds, from the times kept beside it and the file's last write (the capture writes as
        // it goes): no need to read the segments through, which would keep the meeting waiting.
        foreach (var seg in _segments)
        {
            _recordedSeconds += SegmentFirstFrame(seg) is { } first
                ? Math.Max(0, (File.GetLastWriteTimeUtc(seg) - first).TotalSeconds)
                : (await SpanAsync(seg, ct))?.Seconds ?? 0;
        }
        LogResumed(ctx.Logger, _segments.Count, _recordedSeconds);
        return wasRecording ? File.GetLastWriteTimeUtc(_segments[^1]) : null;
    }

    /// <summary>A job taken over from another node (another machine, or another data folder): the segments it
    /// shipped are put back here before anything else (<see cref="ShippedPieces.FetchMissingAsync"/>), so they count
    /// toward <c>max_seconds</c>, open the gap at their end and are joined into the file. A store that cannot be read
    /// now is logged and the recording goes on with what is here (the meeting is not kept waiting for it).</summary>
    private async Task FetchShippedAsync(SegmentShipper shipper, CancellationToken ct)
    {
        try
        {
            var started = ctx.Time.GetTimestamp();
            var made = await ShippedPieces.FetchMissingAsync(shipper.Store, record.Job.RecordingId, _dir, ct);
            if (made.Count > 0)
            {
                LogFetched(ctx.Logger, made.Count, made.Sum(f => new FileInfo(f).Length), shipper.Store.Description, Ms(ctx.Time.GetElapsedTime(started)));
            }
        }
        catch (Exception e) when (e is IOException or Storage.StorageException or UnauthorizedAccessException or HttpRequestException)
        {
            LogFetchFailed(ctx.Logger, shipper.Store.Description, e.Message);
        }
    }

    public Task OpenAsync(bool gapOpen, CancellationToken ct)
    {
        _gapOpen = gapOpen;
        return StartBrowserAsync(ct);
    }

    public async Task RecordAsync(CancellationToken ct)
    {
        if (_capture is null)
        {
            await StartSegmentAsync(ct);
        }
    }

    public async Task PauseAsync(DateTime at, CancellationToken ct)
    {
        if (_capture is not null)
        {
            // The file ends where the pause was seen, not where the capture stopped after being told to.
            WarmResumeHost();
            await StopSegmentAsync(at);
        }
    }

    public Task StopAsync(CancellationToken ct) => StopSegmentAsync();

    public async Task<CaptureCheck> CheckAsync(bool awaitingFrame, CancellationToken ct)
    {
        DateTime? firstFrame = null;
        if (_capture is not null && _current is { } seg)
        {
            // The first frame's wall-clock instant is fixed from a few frames' lines (their least delay).
            if (awaitingFrame && seg.Grabs >= 5 && seg.FirstFrameAt is { } first)
            {
                SaveOrigin(seg);
                firstFrame = first;
            }
            if (seg.Grabs > 0)
            {
                ReplenishPool();
            }
            await StartRtmpAsync();
            if (_capture.HasExited)
            {
                return new CaptureCheck(firstFrame, Lost: true, LastFrame: seg.LastFrameAt);
            }
        }
        if (_surface is { Healthy: false })
        {
            return new CaptureCheck(firstFrame, Lost: true, LastFrame: _current?.LastFrameAt);
        }
        return new CaptureCheck(firstFrame);
    }

    public string Tail() => _capture?.Tail() ?? _surface?.Chromium.Tail() ?? string.Empty;

    /// <summary>A capture process died (the segment is ended by the runner first): what died is launched again
    /// (Chromium or Xvfb: the surface and page), and the next segment goes on.</summary>
    public async Task RestartAsync(int restart, bool gapOpen, CancellationToken ct)
    {
        _gapOpen = gapOpen;
        LogRestart(ctx.Logger, restart, _surface is { Healthy: false } ? "chromium or Xvfb" : "the capture");
        if (_surface is { Healthy: false })
        {
            await TeardownAsync();
            await StartBrowserAsync(ct);
        }
    }

    public void LogFirstFrame(DateTime first, RecordingGap? gap)
    {
        if (gap is null)
        {
            LogStarted(ctx.Logger, Ms(first - Recording.InvokedTime), Ms(_claimedAt - Recording.InvokedTime), Ms(_surfaceAt - _claimedAt),
                Ms(_launchedAt - _surfaceAt), Ms(first - _launchedAt), Ms(_pageAt - _surfaceAt), _captureBy);
            return;
        }
        LogGap(ctx.Logger, (gap.End - gap.Start).TotalSeconds, RecordingJob.Hms(gap.Start), RecordingJob.Hms(gap.End), Ms(_claimedAt - gap.Start), Ms(_surfaceAt - _claimedAt), Ms(_launchedAt - _surfaceAt), Ms(first - _launchedAt), Ms(_pageAt - _surfaceAt));
    }

    private async Task StartBrowserAsync(CancellationToken ct)
    {
        // Both compositors draw the watermark (the native one with gdkpixbufoverlay): fetched before either starts.
        if (Config.Watermark is { Url: { } wmUrl } && _watermark is null)
        {
            _watermark = await FetchWatermarkAsync(wmUrl, ct);
        }
        // The built-in layout without a browser (Recorder:Compositor = native): NativeComposite.cs.
        if ((Config.Compositor ?? EffectiveRecordingConfig.ChooseCompositor(Config, ctx.Options.Compositor)) == RecorderOptions.NativeCompositor)
        {
            _native ??= await NativeComposite.OpenAsync(ctx.Scopes, ctx.Http, Recording.MeetingId, ctx.Options.CompositorHost ?? NativeComposite.DefaultHostPath(), ctx.Ledger, ctx.Logger, ct);
            // No surface and no page: "surface" is the time the room's forwarders took to open.
            _surfaceAt = _pageAt = ctx.Time.GetUtcNow().UtcDateTime;
            return;
        }
        var w = Config.Width;
        var h = Config.Height;
        var token = await RecorderTokenAsync(ct);
        var url = Config.Url is { } custom
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
        if (_gapOpen)
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
            _rtmpPort = Config.RtmpUrl is null ? null : FreeUdpPort();
            _captureStop = HostStopSignal;
            _capture = _native.StartSegment(new Gst.Compositor.CompositorSpec(Config.Width, Config.Height, ctx.Options.FrameRate, Config.VideoCodec, Config.AudioCodec,
                MediaArgs.Channels(Config), output, WatermarkFile: _watermark, WatermarkPosition: Config.Watermark?.Position,
                WatermarkWidth: Config.Watermark?.Size?.Width ?? 120, WatermarkHeight: Config.Watermark?.Size?.Height ?? 60, RtmpPort: _rtmpPort),
                Path.Combine(_dir, "capture.log"), seg.OnLine);
            _current = seg;
            _segments.Add(output);
            _shipper?.Track(output);
            await StartRtmpAsync();
            return;
        }
        var surface = _surface ?? throw new InvalidOperationException("no capture surface");
        _rtmpPort = Config.RtmpUrl is null ? null : FreeUdpPort();
        var spec = new CaptureSpec(surface.Display, surface.Sink, Config.Width, Config.Height, ctx.Options.FrameRate, Config.VideoCodec, Config.AudioCodec,
            MediaArgs.Channels(Config), output, _watermark, Config.Watermark?.Position,
            Config.Watermark?.Size?.Width ?? 120, Config.Watermark?.Size?.Height ?? 60, _rtmpPort);
        ctx.User.CreateOwnedFile(output);
        _launchedAt = ctx.Time.GetUtcNow().UtcDateTime;
        // The surface's warm capture host when it has one ready (the first segment), else gst-launch: one pipeline.
        var warm = surface.TakeCapture() ?? await TakeResumeHostAsync();
        _captureBy = warm is null ? "gst-launch" : "warm host";
        _captureStop = warm is null ? GstLaunchStopSignal : HostStopSignal;
        _capture = warm is not null
            ? warm.Begin(MediaArgs.Capture(spec), seg.OnLine)
            : ctx.Ledger.Track(ChildProcess.Start("gst-launch", ctx.Options.GstLaunch, MediaArgs.Capture(spec), Path.Combine(_dir, "capture.log"),
                ctx.Pulse.Environment, seg.OnLine, logFilter: l => !GstArgs.IsGrabLine(l), runAs: ctx.User));
        _current = seg;
        _segments.Add(output);
        _shipper?.Track(output);
        await StartRtmpAsync();
    }

    /// <summary>The RTMP pusher of the current segment (when the recording streams out): started with the segment,
    /// and again, at most every 2 s, when it exits while the segment runs (the target was down, or refused).</summary>
    private async Task StartRtmpAsync()
    {
        if (Config.RtmpUrl is not { } url || _rtmpPort is not { } port || _capture is null || _rtmp is { HasExited: false } || ctx.Time.GetUtcNow().UtcDateTime < _rtmpRetryAt)
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

    /// <summary>The signal that ends a gst-launch capture cleanly: <c>-e</c> turns SIGINT into end-of-stream.</summary>
    internal const int GstLaunchStopSignal = 2;

    /// <summary>The signal that ends one of Capstan's own pipeline hosts cleanly (the compositor host, a warm capture
    /// host: <see cref="Gst.PipelineHost"/>): SIGTERM, not SIGINT. A .NET process keeps SIGINT ignored when it was
    /// ignored at its start, as it is for everything a non-interactive shell starts in the background (<c>cmd &amp;</c>,
    /// a CI runner's, a service script's) and passes on to its children: a server started so had every host ignore
    /// the SIGINT, run on until killed 5 s later, and lose its file's tail (measured: every native stop killed, a pause
    /// holding the recording's loop 5 s, max_seconds files 5.5 s too long). SIGTERM is never ignored so.</summary>
    internal const int HostStopSignal = 15;

    /// <summary>Ends the current segment cleanly: its stop signal (<see cref="GstLaunchStopSignal"/>,
    /// <see cref="HostStopSignal"/>: end-of-stream, which finishes the file), then kill after 5 s. Its clock origin is kept beside it, for a worker that takes the
    /// recording back.</summary>
    private async Task StopSegmentAsync(DateTime? cutAt = null)
    {
        if (_capture is null)
        {
            return;
        }
        var capture = _capture;
        _capture = null;
        var stopping = ctx.Time.GetTimestamp();
        _current?.Stopping();
        var killed = false;
        var signal = _captureStop;
        await capture.StopAsync(TimeSpan.FromSeconds(5), p =>
        {
            p.Signal(signal);
            return Task.CompletedTask;
        }, () => killed = true);
        var stopMs = Ms(ctx.Time.GetElapsedTime(stopping));
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
            var (seen, clock) = seg.SeenSpan;
            LogSegment(ctx.Logger, Path.GetFileName(seg.Path), Math.Round(seg.Seconds, 3), Math.Round(clock, 3), Math.Round(seen, 3), seg.Grabs, seg.ExpectedFrames(ctx.Options.FrameRate), Math.Round(seg.OriginRefinedMs, 1),
                seg.PlayingAt is { } playing ? Ms(playing - seg.LaunchedAt) : -1, seg.FirstFrameAt is { } firstFrame ? Ms(firstFrame - seg.LaunchedAt) : -1,
                stopMs, killed ? " (killed: it did not end within 5 s)" : string.Empty);
            ctx.Metrics?.CaptureFramesDropped(Math.Max(0, seg.ExpectedFrames(ctx.Options.FrameRate) - seg.Grabs));
            _shipper?.Close(seg.Path); // its last piece and its final sidecar go up now
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
        var hostPath = Media.Capture.CaptureHost.DefaultHostPath();
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
            ctx.Pool.Replenish(ctx.Options.WarmSurfaces, ctx.Stopping);
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

    /// <summary>The recorder participant goes, <c>started_time</c> is put right (<see cref="RefineStartedTimeAsync"/>),
    /// then the segments are joined and the audio file cut.</summary>
    public async Task<CaptureDelivery?> ProduceAsync(CancellationToken ct)
    {
        await RemoveRecorderParticipantAsync(ct);
        await RefineStartedTimeAsync(ct);
        return await ProduceAsync(Path.Combine(_dir, "out"), ct);
    }

    /// <summary>The segments go once the joined file is kept: a delivery taken back starts from the file.</summary>
    public void Produced()
    {
        foreach (var seg in _segments.Where(File.Exists))
        {
            File.Delete(seg);
        }
    }

    public string NothingCaptured => "nothing was captured";

    /// <summary>One destination: the default bucket (when the recording keeps a copy there) and the recording's storage config.</summary>
    public IReadOnlyList<CaptureDestination> Destinations =>
        [new("composite", Config.DefaultBucket, Config.Storage, _ => true, f => f.Name)];

    /// <summary>The video file's size, SHA-256 and link (the audio file's when there is no video), the audio file's link and SHA-256.</summary>
    public DeliveredRecording Describe(CaptureDelivery delivery, IReadOnlyDictionary<string, string> links)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentNullException.ThrowIfNull(links);
        var video = delivery.Files.FirstOrDefault(f => f.Role == "video");
        var audio = delivery.Files.FirstOrDefault(f => f.Role == "audio");
        var main = video ?? audio!;
        return new DeliveredRecording(main.Size, (long)Math.Round(delivery.DurationSeconds, MidpointRounding.AwayFromZero), main.Sha256, audio?.Sha256,
            video is not null ? links.GetValueOrDefault(video.Name) : null, audio is not null ? links.GetValueOrDefault(audio.Name) : null);
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
        if (Recording.StartedTime is not { } published || _segments.FirstOrDefault(File.Exists) is not { } first
            || SegmentFirstFrame(first) is not { } measured)
        {
            return;
        }
        var refined = measured < Recording.InvokedTime ? Recording.InvokedTime : measured;
        if ((published - refined).TotalSeconds <= 1.0 / ctx.Options.FrameRate)
        {
            return;
        }
        record.Recording = await record.Store.UpdateAsync((r, _, _) =>
        {
            r.StartedTime = refined;
            return Task.CompletedTask;
        }, ct);
        LogStartRefined(ctx.Logger, Ms(published - refined));
    }

    /// <summary>The concat list's outpoint for a cut at <paramref name="end"/> (on the frame grid): 2 ms before it.
    /// Matroska keeps times in whole milliseconds, so the frame of the slot that starts at the cut can be stamped up to
    /// half a millisecond before it, and an outpoint at the cut itself kept it: two frames at one instant where the next
    /// segment begins (the VP9 pause test's "frames 0.000 s apart", now and then).</summary>
    private static string Outpoint(double end) => (end - 0.002).ToString("F6", CultureInfo.InvariantCulture);

    /// <summary>Whether a segment goes into the file: more than 0.2 s of it, with both sound and picture (every capture
    /// records both; the concat join cannot put a segment with one track together with the others, and would fail the
    /// whole file). A segment with one track is left out, logged: a capture whose mixer stalled, which its host
    /// reported and the runner restarted (<see cref="Gst.Compositor.CompositorHost.Stalled"/>), or one killed in its
    /// first moment.</summary>
    public static bool Joinable(MediaSpan? span) => span is { Seconds: > 0.2, BothEnd: not null };

    /// <summary>Joins the segments without re-encoding and cuts the audio file: the files to deliver, with
    /// sizes and SHA-256, in <paramref name="outDir"/>. Null when nothing usable was captured.</summary>
    private async Task<CaptureDelivery?> ProduceAsync(string outDir, CancellationToken ct)
    {
        // Each segment is stamped on a clock of its own: the concat list gives each its span, so the next one
        // starts where its packets end (no gap, no overlap at a pause, a restart or a take-over).
        var usable = new List<(string File, MediaSpan Span)>();
        foreach (var s in _segments.Where(File.Exists))
        {
            var span = await SpanAsync(s, ct);
            if (Joinable(span))
            {
                usable.Add((s, span!));
            }
            else if (span is { Seconds: > 0.2 })
            {
                LogOneTrack(ctx.Logger, Path.GetFileName(s), span.Seconds);
            }
        }
        if (usable.Count == 0)
        {
            return null;
        }
        Directory.CreateDirectory(outDir);
        var joined = Path.Combine(outDir, Recording.OutputFileName);
        var interactive = Config.InteractiveType is not null;
        if (!Config.VideoExport || interactive)
        {
            joined = Path.Combine(_dir, "joined." + Config.VideoExtension);
        }
        var list = Path.Combine(_dir, "segments.txt");
        var lines = new List<string>();
        var parts = new List<Interactive.TimelinePart>(); // where each segment is in the file and on the wall clock
        for (var i = 0; i < usable.Count; i++)
        {
            var (file, span) = usable[i];
            var fileStart = parts.Sum(p => p.Seconds);
            lines.Add("file '" + file.Replace("'", "'\\''", StringComparison.Ordinal) + "'");
            // The file ends at stopped_time, and a segment a pause ended at the instant the pause was seen: each is
            // cut there (its clock is the wall clock from its origin), not where the capture happened to stop after
            // being told to. The next segment starts where this one's duration ends: the cut's, when there is one.
            var origin = SegmentOrigin(file);
            var cut = SegmentTime(file, 2) ?? (i == usable.Count - 1 ? Recording.StoppedTime : null);
            double? outpoint = null;
            if (cut is { } at && origin is { } o && span.CutOnFrame((at - o).TotalSeconds, ctx.Options.FrameRate) is var end
                && end > span.Start + 0.2 && end < span.End)
            {
                outpoint = end;
            }
            else if (cut is null && i < usable.Count - 1 && span.BothEnd is { } shorter
                && span.CutOnFrame(shorter, ctx.Options.FrameRate) is var both && both > span.Start + 0.2 && both < span.End - 0.001)
            {
                // A segment that ended without being told (a capture killed or lost, its last cluster gone with it)
                // can hold more picture than sound: it ends where the shorter of them does (moved up onto the frame
                // grid, as a cut is: the next segment's first frame comes one frame after the last kept one), so that the next segment's
                // sound and picture start together. Past that, the sound would have a hole, and a player plays the
                // samples after a hole at once: the whole next part's sound came early by the hole (measured across a
                // take-over: -97 ms against +57 ms before it).
                outpoint = both;
            }
            var seconds = (outpoint ?? span.End) - span.Start;
            lines.Add("duration " + seconds.ToString("F6", CultureInfo.InvariantCulture));
            if (outpoint is { } op)
            {
                lines.Add("outpoint " + Outpoint(op));
            }
            // The file's time 0 is started_time (the API's word for where the recording starts, what a user measures
            // an interactive tag's time from); a later part starts where its own clock says. (The segment's clock
            // puts time 0 up to a frame before the first grab, started_time, and more when the grab came late: the
            // capture's videorate fills the time before it with copies of that frame. Timed from the clock, the ID3
            // tags came 76-89 ms late against started_time here with both cores busy, 0.2 s in a CI run. Moving
            // started_time to the clock's time 0 instead made kick-all files shorter than their span under CI load,
            // where the capture's clock ran slow: tried and reverted.)
            var wallStart = i == 0 ? Recording.StartedTime ?? (origin is { } first ? first.AddSeconds(span.Start) : Recording.InvokedTime)
                : origin is { } wall ? wall.AddSeconds(span.Start) : parts[^1].WallStart.AddSeconds(parts[^1].Seconds);
            parts.Add(new Interactive.TimelinePart(wallStart, fileStart, seconds));
        }
        await File.WriteAllLinesAsync(list, lines, ct);
        await RunToolAsync("ffmpeg", ctx.Options.Ffmpeg, MediaArgs.Join(list, joined, Config.VideoExtension,
            MediaArgs.SoundShiftSeconds(Config.AudioCodec, ctx.Options.FrameRate, grabbed: !Native, meetingView: Config.Url is null, ctx.Options.AudioOffsetSeconds)), ct);
        var delivery = new CaptureDelivery { DurationSeconds = await ProbeDurationAsync(joined, ct) };
        if (interactive)
        {
            // The HLS tar is the video file: InteractiveOutput.cs.
            var tar = Path.Combine(outDir, Recording.OutputFileName);
            await Interactive.InteractiveOutput.MakeAsync(joined, parts, await MetadataAsync(ct), Path.Combine(_dir, "hls"), tar, ctx.Options, ct);
            delivery.Files.Add(await CaptureFile.DescribeAsync("video", null, tar, Recording.OutputFileName, ct));
        }
        else if (Config.VideoExport)
        {
            delivery.Files.Add(await CaptureFile.DescribeAsync("video", null, joined, Recording.OutputFileName, ct));
        }
        if (Config.AudioExport && Recording.AudioFileName is { } audioName)
        {
            var audioFile = Path.Combine(outDir, audioName);
            await RunToolAsync("ffmpeg", ctx.Options.Ffmpeg, MediaArgs.ExtractAudio(joined, audioFile), ct);
            delivery.Files.Add(await CaptureFile.DescribeAsync("audio", null, audioFile, audioName, ct));
        }
        if (!Config.VideoExport || interactive)
        {
            File.Delete(joined);
        }
        if (interactive && Directory.Exists(Path.Combine(_dir, "hls")))
        {
            Directory.Delete(Path.Combine(_dir, "hls"), recursive: true);
        }
        return delivery;
    }

    /// <summary>The meeting's <c>ID3Data</c> messages that go in an interactive recording (<see cref="Interactive.InteractiveOutput.Select"/>).</summary>
    private async Task<IReadOnlyList<Interactive.MetadataMessage>> MetadataAsync(CancellationToken ct)
    {
        if (Recording.StartedTime is not { } started)
        {
            return [];
        }
        var stopped = Recording.StoppedTime ?? ctx.Time.GetUtcNow().UtcDateTime;
        await using var scope = ctx.Scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var rows = await db.SessionBroadcasts.AsNoTracking()
            .Where(b => b.MeetingId == Recording.MeetingId && b.ReceivedAt >= started && b.ReceivedAt <= stopped)
            .Select(b => new { b.Type, b.ReceivedAt, b.PayloadJson }).ToListAsync(ct);
        return Interactive.InteractiveOutput.Select(rows.Select(r => (r.Type, r.ReceivedAt, r.PayloadJson)), started, stopped);
    }

    /// <summary>A hidden participant with the recorder preset, and its token for the recorder view.</summary>
    private async Task<string> RecorderTokenAsync(CancellationToken ct)
    {
        await using var scope = ctx.Scopes.CreateAsyncScope();
        var meetings = scope.ServiceProvider.GetRequiredService<MeetingService>();
        // One recorder participant per recording: a worker that takes the recording back after a restart reuses the
        // one the earlier run added.
        var customId = "capstan-recorder-" + record.Job.RecordingId.ToString("N")[..12];
        _recorderParticipant ??= (await meetings.FindParticipantByCustomIdAsync(Recording.AppId, Recording.MeetingId, customId, ct))?.Id;
        if (_recorderParticipant is { } existing)
        {
            return await meetings.RefreshTokenAsync(Recording.AppId, Recording.MeetingId, existing, ct);
        }
        var (participant, token) = await meetings.AddParticipantAsync(Recording.AppId, Recording.MeetingId,
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
        video_config = new { codec = Config.VideoCodec, width = Config.Width, height = Config.Height, watermark = Config.Watermark },
        audio_config = new { codec = Config.AudioCodec, channel = Config.AudioChannel },
        max_seconds = Config.MaxSeconds,
        file_name_prefix = Config.FileNamePrefix,
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

    public void CleanUp()
    {
        foreach (var f in _segments.SelectMany(s => new[] { s, s + ".origin" }).Where(File.Exists))
        {
            File.Delete(f);
        }
        if (Directory.Exists(Path.Combine(_dir, "ship")))
        {
            Directory.Delete(Path.Combine(_dir, "ship"), recursive: true);
        }
        if (_shipper is not null)
        {
            // Delivered (or cancelled): the shipped pieces are of no more use. In the background: the recording is
            // already UPLOADED; a failure is logged and leaves them in the store.
            _ = DeleteShippedAsync(_shipper.Store, record.Job.RecordingId, ctx.Logger);
        }
        foreach (var f in new[] { "watermark", "segments.txt" }.Select(f => Path.Combine(_dir, f)).Where(File.Exists))
        {
            File.Delete(f);
        }
    }

    private static async Task DeleteShippedAsync(ISegmentStore store, Guid recordingId, ILogger logger)
    {
        try
        {
            await store.DeleteAsync(recordingId, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or Storage.StorageException or UnauthorizedAccessException or HttpRequestException)
        {
            LogFetchFailed(logger, store.Description, "deleting the delivered recording's pieces: " + e.Message);
        }
    }

    /// <summary>Ends every process the capture started (the segments stay on disk), then ships the ended segments'
    /// last pieces, for at most <c>ShipSeconds</c> (a worker that is stopping hands its recordings over with them).</summary>
    public async ValueTask DisposeAsync()
    {
        await TeardownAsync();
        if (_shipper is not null)
        {
            await _shipper.FlushAsync(TimeSpan.FromSeconds(ctx.Options.ShipSeconds));
            await _shipper.DisposeAsync();
        }
    }

    /// <summary>One capture segment, followed through the grabbed frames the pipeline prints
    /// (<see cref="GstArgs.GrabLine"/>): each frame's time on the pipeline's running clock. The wall-clock
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
        private DateTime? _firstSeen;
        private DateTime _lastSeen;
        private double _lastSeenPts;
        private bool _stopping;

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

        /// <summary>Seconds from the first grab line's arrival to the last's before the stop, on this process's clock,
        /// and the same two frames' span on the capture's clock: a capture clock running slow or fast shows. (Lines
        /// after the stop are left out: they come as the pipeline drains, later than their frames.)</summary>
        public (double Seen, double Clock) SeenSpan
        {
            get
            {
                lock (_gate)
                {
                    return _firstSeen is { } f && _first is { } first ? ((_lastSeen - f).TotalSeconds, _lastSeenPts - first) : (0, 0);
                }
            }
        }

        /// <summary>The stop was asked: the grab lines from now on drain the pipeline.</summary>
        public void Stopping()
        {
            lock (_gate)
            {
                _stopping = true;
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
            if (GstArgs.GrabbedAtLine(line, out var at, out var pts))
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
            if (!GstArgs.GrabLine(line, out var t))
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
                    _firstSeen = now;
                }
                if (!_stopping)
                {
                    _lastSeen = now;
                    _lastSeenPts = t;
                }
            }
            Interlocked.Increment(ref _grabs);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording started_time moved {Ms} ms earlier: the first segment's frames placed its first frame that much before the published instant")]
    private static partial void LogStartRefined(ILogger logger, long ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: fetched {Segments} shipped segments ({Bytes} bytes) from {Store} in {Ms} ms")]
    private static partial void LogFetched(ILogger logger, int segments, long bytes, string store, long ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder: shipped segments in {Store} not usable: {Reason}")]
    private static partial void LogFetchFailed(ILogger logger, string store, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder: took the recording back with {Segments} segments ({Seconds} s) on disk")]
    private static partial void LogResumed(ILogger logger, int segments, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording gap: {Seconds} s of the meeting were not recorded, {From} to {To} (session +{ClaimMs}, surface +{SurfaceMs}, capture launched +{LaunchMs}, first frame +{FrameMs} ms; the page opened {PageMs} ms after the surface)")]
    private static partial void LogGap(ILogger logger, double seconds, string from, string to, long claimMs, long surfaceMs, long launchMs, long frameMs, long pageMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Segment {Segment}: {Seconds} s ({ClockSeconds} s on its clock in {SeenSeconds} s here, between its first grab line and its last before the stop), {Grabs} frames grabbed of {Expected}; clock origin refined by {OriginMs} ms after the first frame; PLAYING +{PlayingMs} ms, first frame +{FirstFrameMs} ms after launch; stopped in {StopMs} ms{Killed}")]
    private static partial void LogSegment(ILogger logger, string segment, double seconds, double clockSeconds, double seenSeconds, long grabs, long expected, double originMs, long playingMs, long firstFrameMs, long stopMs, string killed);

    private static long Ms(TimeSpan t) => (long)Math.Round(t.TotalMilliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recording started: first frame {LatencyMs} ms after invoke (claimed +{ClaimMs}, surface +{SurfaceMs}, capture launched +{LaunchMs}, first frame +{FrameMs} ms; the page opened {PageMs} ms after the surface; capture by {Capture})")]
    private static partial void LogStarted(ILogger logger, long latencyMs, long claimMs, long surfaceMs, long launchMs, long frameMs, long pageMs, string capture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Segment {File} ({Seconds:0.0} s) left out of the file: it holds only its sound or only its picture")]
    private static partial void LogOneTrack(ILogger logger, string file, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Capture restart {Count}: {What} died")]
    private static partial void LogRestart(ILogger logger, int count, string what);
}
