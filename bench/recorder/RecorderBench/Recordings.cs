using System.Diagnostics;

namespace Capstan.Bench.Recorder;

/// <summary>A started recording: <c>invoked_time</c> and <c>started_time</c> from the API (the server sets the first
/// on the start request and the second at the capture's first grabbed frame), what the client saw, and the server's
/// breakdown of the start (<see cref="StartPhases"/>, from its log).</summary>
public sealed record Started(string Id, DateTime Invoked, DateTime StartedAt, double LatencyMs, double ClientMs, TimeSpan ClientAt, StartPhases? Phases);

/// <summary>A stopped and delivered recording: how long the stop request took to answer, how long until the API
/// showed UPLOADED (both from the moment the stop request was sent), and the recording as it ended.</summary>
public sealed record Delivered(string Id, string StopAnswer, double StopAnswerMs, double StopToUploadedMs, RecordingView View, double RecordedSeconds, StopPhases Phases);

/// <summary>Where the time from the stop request to UPLOADED went, from the server's process tree polled every 50 ms
/// (ms after the stop request): the capture (gst-launch-1.0) gone, the surface (Chromium and Xvfb) gone, the post-processing
/// tools on this recording's files (ffprobe of the segments, the ffmpeg join, the probe of the result; for a track
/// recording janus-pp-rec too) first and last seen, and the same per tool in <see cref="Tools"/>.</summary>
public sealed record StopPhases(double? CaptureExitMs, double? SurfaceClosedMs, double? PostFirstMs, double? PostLastMs, IReadOnlyDictionary<string, ToolSpan> Tools)
{
    /// <summary>Per tool: "janus-pp-rec 3 +120..+900, ffmpeg 2 +950..+1100 ms" (processes seen, first and last seen).</summary>
    public string ToolsText() => Tools.Count == 0 ? "no post-processing tool seen"
        : string.Join(", ", Tools.OrderBy(t => t.Value.FirstMs).Select(t => $"{t.Key} x{t.Value.Processes} +{Bench.F(t.Value.FirstMs, "0")}..+{Bench.F(t.Value.LastMs, "0")}")) + " ms";

    public override string ToString()
    {
        static string Ms(double? v) => v is { } x ? Bench.F(x, "0") : "?";
        return $"capture gone +{Ms(CaptureExitMs)}, surface gone +{Ms(SurfaceClosedMs)}, post-processing tools +{Ms(PostFirstMs)}..+{Ms(PostLastMs)} ms";
    }
}

/// <summary>A post-processing tool during a stop: how many of its processes were seen (polled every 50 ms: a very short
/// one can be missed), and when first and last (ms after the stop request).</summary>
public sealed record ToolSpan(int Processes, double FirstMs, double LastMs);

/// <summary>Recording operations through the API, timed on one clock.</summary>
public sealed class Recordings(Server server, Api api)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public Server Server => server;

    public TimeSpan Now => _clock.Elapsed;

    /// <summary>Starts a recording and polls it (every 50 ms) until <c>started_time</c> is set.</summary>
    public async Task<Started> StartAsync(string meeting, int width, int height, bool allowMultiple, CancellationToken ct, Uri? url = null)
    {
        var t0 = _clock.Elapsed;
        var v = await api.StartRecordingAsync(meeting, width, height, allowMultiple, ct, url);
        return await WaitStartedAsync(v.Id, t0, ct);
    }

    /// <summary>Starts a track recording (<c>POST .../recordings/track</c>) and polls it (every 50 ms) until
    /// <c>started_time</c> is set (the room's recording is on: RECORDING).</summary>
    public async Task<Started> StartTrackAsync(string meeting, IReadOnlyList<TrackLayer> layers, CancellationToken ct)
    {
        var t0 = _clock.Elapsed;
        var v = await api.StartTrackRecordingAsync(meeting, layers, ct);
        return await WaitStartedAsync(v.Id, t0, ct);
    }

    public async Task<Started> WaitStartedAsync(string id, TimeSpan sentAt, CancellationToken ct)
    {
        var (seen, at) = await api.WaitAsync(id, r => r.StartedTime is not null, "started_time", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50), _clock, ct);
        var startedAt = seen.StartedTime!.Value;
        // The server logs the breakdown just after it has set started_time: up to 2 s for the line to show.
        StartPhases? phases = null;
        for (var i = 0; i < 40 && (phases = CaptureLog(id).Start) is null; i++)
        {
            await Task.Delay(50, ct);
        }
        return new Started(id, seen.InvokedTime, startedAt, (startedAt - seen.InvokedTime).TotalMilliseconds, (at - sentAt).TotalMilliseconds, at, phases);
    }

    /// <summary>Sends the stop and polls (every 50 ms) until the recording is UPLOADED, following the session's
    /// processes meanwhile.</summary>
    public async Task<Delivered> StopAsync(Started started, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(started);
        var session = SessionProcesses.Find(Proc.All(), server.Pid, started.Id, server.Native);
        using var traceStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var t0 = _clock.Elapsed;
        var trace = TraceAsync(started.Id, session, t0, traceStop.Token);
        var answer = await api.StopRecordingAsync(started.Id, ct);
        var answered = _clock.Elapsed;
        var (done, at) = await api.WaitAsync(started.Id, r => r.Status == "UPLOADED", "UPLOADED", TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(50), _clock, ct);
        await traceStop.CancelAsync();
        var phases = await trace;
        return new Delivered(started.Id, answer.Status, (answered - t0).TotalMilliseconds, (at - t0).TotalMilliseconds, done, (t0 - started.ClientAt).TotalSeconds, phases);
    }

    private async Task<StopPhases> TraceAsync(string id, SessionProcesses session, TimeSpan t0, CancellationToken ct)
    {
        var capture = session.Capture.Select(p => (p.Pid, p.StartTime)).ToList();
        var surface = session.Xvfb.Concat(session.Chromium.Where(p => p.ParentPid == server.Pid)).Select(p => (p.Pid, p.StartTime)).ToList();
        // The composite recorder's files are under recorder/{id}/; a track recording's under janus/recordings/{id}/
        // and recorder/track-{id}/.
        string[] markers = ["/" + id + "/", "/track-" + id + "/"];
        double? captureGone = null, surfaceGone = null, postFirst = null, postLast = null;
        var tools = new Dictionary<string, (HashSet<(int, long)> Seen, double First, double Last)>();
        static bool Alive(List<ProcStat> all, List<(int Pid, long Start)> set) => set.Any(x => all.Any(p => p.Pid == x.Pid && p.StartTime == x.Start));
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var all = Proc.All();
                var ms = (_clock.Elapsed - t0).TotalMilliseconds;
                if (captureGone is null && !Alive(all, capture))
                {
                    captureGone = ms;
                }
                if (surfaceGone is null && !Alive(all, surface))
                {
                    surfaceGone = ms;
                }
                var post = all.Where(p => p.ParentPid == server.Pid && p.Comm is "ffmpeg" or "ffprobe" or "janus-pp-rec" && !capture.Contains((p.Pid, p.StartTime))
                    && Proc.Cmdline(p.Pid).Any(a => markers.Any(m => a.Contains(m, StringComparison.Ordinal)))).ToList();
                if (post.Count > 0)
                {
                    postFirst ??= ms;
                    postLast = ms;
                }
                foreach (var p in post)
                {
                    var t = tools.TryGetValue(p.Comm, out var v) ? v : ([], ms, ms);
                    t.Seen.Add((p.Pid, p.StartTime));
                    tools[p.Comm] = (t.Seen, t.First, ms);
                }
                await Task.Delay(50, ct);
            }
        }
        catch (OperationCanceledException)
        {
            // UPLOADED was seen
        }
        return new StopPhases(captureGone, surfaceGone, postFirst, postLast, tools.ToDictionary(t => t.Key, t => new ToolSpan(t.Value.Seen.Count, t.Value.First, t.Value.Last)));
    }

    /// <summary>What the server and the capture logged so far about a recording (the segments' grabs once they ended).</summary>
    public CaptureLog CaptureLog(string id) => Recorder.CaptureLog.Read(server.LogPath, server.RecorderDir, id);

    /// <summary>Downloads the delivered file from <c>download_url</c> and probes it; the download is deleted after.</summary>
    public async Task<FileFacts> ProbeAsync(Delivered d, bool decode, string workDir, CancellationToken ct)
    {
        var file = await DownloadAsync(d, workDir, ct);
        try
        {
            return await FileFacts.ProbeAsync(file, decode, ct);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Downloads the delivered file from <c>download_url</c>; the caller deletes it.</summary>
    public static async Task<string> DownloadAsync(Delivered d, string workDir, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(d);
        var url = d.View.DownloadUrl ?? throw new BenchException($"recording {d.Id} is UPLOADED without a download_url");
        return await Download.ToFileAsync(url, workDir, ct);
    }
}
