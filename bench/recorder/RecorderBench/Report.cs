using System.Text;

namespace Capstan.Bench.Recorder;

/// <summary>Everything a run measured (a scenario that failed stays null and is named in <see cref="Failures"/>).</summary>
public sealed class Results
{
    public CpuResult? Cpu360 { get; set; }

    public CpuResult? Cpu720 { get; set; }

    public CpuResult? Cpu1080 { get; set; }

    public LatencyResult? Latency { get; set; }

    public ConcurrencyResult? Concurrency { get; set; }

    public LongResult? Long { get; set; }

    /// <summary>Track recordings, one per meeting size (2 participants, then 4 when the budget allows).</summary>
    public List<TrackResult> Track { get; } = [];

    /// <summary>What was left out and why (not failures).</summary>
    public List<string> Notes { get; } = [];

    public List<string> Failures { get; } = [];
}

/// <summary>The summary: the figures against their targets, then the details of CPU and concurrency.</summary>
public static class Report
{
    public const double LatencyP50TargetMs = 1000;
    public const double LatencyP95TargetMs = 2000;
    public const double CoreTarget720p30 = 0.5;
    public const double StopTargetMs = 2000;

    /// <summary>Nearest-rank percentile (with 10 samples p95 is the largest).</summary>
    public static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(q * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    public static string Summary(Results r, Settings s)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(s);
        var rows = new List<string[]>();
        static string Met(bool ok) => ok ? "yes" : "NO";
        static string F(double v, string f = "0.00") => Bench.F(v, f);

        if (r.Latency is { } l)
        {
            var lat = l.Spaced.Select(x => x.LatencyMs).ToList();
            var p50 = Percentile(lat, 0.5);
            var p95 = Percentile(lat, 0.95);
            rows.Add([$"start latency p50 ({lat.Count} starts, {F(l.Gap, "0.#")} s apart)", F(p50, "0") + " ms", "<= 1000 ms", F(p50 / LatencyP50TargetMs), Met(p50 <= LatencyP50TargetMs)]);
            rows.Add([$"start latency p95 (nearest rank)", F(p95, "0") + " ms", "<= 2000 ms", F(p95 / LatencyP95TargetMs), Met(p95 <= LatencyP95TargetMs)]);
            rows.Add(["start latency max", F(lat.Max(), "0") + " ms", "", "", ""]);
            if (l.BackToBack.Count > 0)
            {
                var b2b = l.BackToBack.Select(x => x.LatencyMs).ToList();
                rows.Add([$"start latency back to back ({b2b.Count}, no gap) p50 / max", $"{F(Percentile(b2b, 0.5), "0")} / {F(b2b.Max(), "0")} ms", "(context)", "", ""]);
            }
            rows.Add(["first start of a fresh server (not counted)", F(l.First.LatencyMs, "0") + " ms", "(context)", "", ""]);
        }
        foreach (var c in new[] { r.Cpu360, r.Cpu720, r.Cpu1080 }.OfType<CpuResult>())
        {
            var frames = c.FrameProblems.Count == 0 ? "no frames dropped" : "FRAMES DROPPED";
            if (c is { Width: 1280, Height: 720, Fps: 30 })
            {
                rows.Add([$"CPU per session {c.Label}, {c.Participants} participants", F(c.Session.Total) + " core", "<= 0.5 core", F(c.Session.Total / CoreTarget720p30), Met(c.Session.Total <= CoreTarget720p30) + "; " + frames]);
            }
            else
            {
                rows.Add([$"CPU per session {c.Label}, {c.Participants} participants", F(c.Session.Total) + " core", "", "", frames]);
            }
        }
        if (r.Concurrency is { } cc)
        {
            var tried = cc.Levels.Count == 0 ? "none" : $"1..{cc.Levels[^1].Level}";
            var more = cc.Capped ? " (or more: the last level tried kept up)" : "";
            rows.Add([$"720p30 recordings at once without any dropped frame ({cc.Participants} participant)", $"{cc.Best}{(cc.Best == cc.Levels.Count && cc.Capped ? more : "")}", "", "", $"levels tried {tried}"]);
            rows.Add(["720p30 recordings at once keeping up (>= 95% of frames in the window)", $"{cc.BestKeepingUp}{(cc.BestKeepingUp == cc.Levels.Count && cc.Capped ? more : "")}", "", "", ""]);
        }
        if (r.Long is { } lg)
        {
            var ms = lg.Delivered.StopToUploadedMs;
            rows.Add([$"stop to UPLOADED, {F(lg.Seconds, "0")} s recording 1280x720@30", F(ms / 1000, "0.00") + " s", "< 2 s", F(ms / StopTargetMs), Met(ms < StopTargetMs)]);
            rows.Add(["  where the stop time went (ms after the stop request)", lg.Delivered.Phases.ToString().Replace(" ms", "", StringComparison.Ordinal), "", "", ""]);
            rows.Add(["  its file", $"{F(lg.Facts.Size / 1048576.0, "0.0")} MiB, {F(lg.Facts.Duration, "0.0")} s", "", "", lg.FrameProblems(30).Count == 0 ? "no frames dropped" : "FRAMES DROPPED"]);
            rows.Add(["  its session CPU over the whole recording", F(lg.Session.Total) + " core", "(context)", F(lg.Session.Total / CoreTarget720p30), ""]);
        }
        foreach (var t in r.Track)
        {
            var ok = t.Problems.Count == 0 ? $"files ok (max |duration - recorded| {F(t.MaxDiffSeconds)} s)" : "FILES WRONG";
            rows.Add([$"track, {t.Participants} participants: Janus CPU without / with recording", $"{Pct(t.Idle.Janus)} / {Pct(t.Recording.Janus)} of one core", "(none)", F(t.JanusCpuRatio), "with / without"]);
            rows.Add([$"  start (started_time - invoked_time; client saw RECORDING)", $"{F(t.Started.LatencyMs, "0")} ms ({F(t.Started.ClientMs, "0")} ms)", "(none)", "", ""]);
            rows.Add([$"  stop to UPLOADED, {F(t.RecordedSeconds, "0.0")} s recorded", F(t.Delivered.StopToUploadedMs / 1000) + " s", "(none)", F(t.StopRatio, "0.000"), "/ recorded length; " + ok]);
        }

        var sb = new StringBuilder();
        sb.AppendLine(s.Quick
            ? "== summary (--quick: shortened windows and counts; not the figures of record)"
            : "== summary");
        sb.Append(Table(["figure", "measured", "target", "ratio", "met"], rows, leftColumns: 1));
        sb.AppendLine("ratio = measured / target (at most 1 meets it). Latency: started_time - invoked_time from the API. CPU: utime+stime of the session's ffmpeg, Xvfb and Chromium tree plus its share of PulseAudio, in shares of one core.");
        if (r.Track.Count > 0)
        {
            sb.AppendLine("Track recording has no targets: its ratios are Janus CPU with / without the recording, and stop to UPLOADED / the recorded length.");
        }

        var cpuRows = new List<string[]>();
        foreach (var c in new[] { r.Cpu360, r.Cpu720, r.Cpu1080 }.OfType<CpuResult>())
        {
            cpuRows.Add(Row(c.Label, c.Window, c.Session, c.WindowFps, c.WindowDrops, c.Progress, c.Facts, c.Fps));
        }
        if (r.Long is { } lo)
        {
            cpuRows.Add(Row($"1280x720@30, {F(lo.Seconds, "0")} s", lo.Window, lo.Session, lo.WindowFps, lo.WindowDrops, lo.Progress, lo.Facts, 30));
        }
        if (cpuRows.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("== CPU per session (shares of one core)");
            sb.Append(Table(["recording", "window s", "session", "ffmpeg", "Xvfb", "Chromium (procs)", "PulseAudio", "ffmpeg RSS MiB", "encoded fps", "drops window (all)", "file frames %", "server", "participants", "machine", "others", "load"], cpuRows, 1));
            sb.AppendLine($"session = ffmpeg + Xvfb + Chromium + PulseAudio (the worker's one PulseAudio, divided among the recordings running). server, participants (their Chromium), machine (every process on the {Environment.ProcessorCount} cores, anyone's) and others (machine minus everything this benchmark started: other people's work) are context, not part of the session. " +
                $"ffmpeg RSS: its peak VmRSS (raw frames wait in its input queue when the encoder falls behind). encoded fps: frames ffmpeg encoded during the window per second. drops: ffmpeg's drop_frames that grew during the window (in brackets: over the whole recording, with the few dropped as capture starts). " +
                $"file frames %: frames in the delivered file (ffprobe -count_frames; -count_packets for the long one) / (frame rate x video duration). " +
                $"Frames count as dropped when drops grew in the window, or encoded fps or file frames are below {Bench.FrameCheckPercent}%.");
        }

        if (r.Concurrency is { } con)
        {
            sb.AppendLine();
            sb.AppendLine($"== concurrency: 1280x720@30 recordings at once (one meeting, {con.Participants} participant, allow_multiple_recordings; Recorder__Slots={con.Slots})");
            var rowsC = con.Levels.Select(lv =>
            {
                var p = lv.Problems(con.Fps);
                return new[]
                {
                    lv.Level.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    F(lv.Window.SessionsTotal), F(lv.Window.SessionsTotal / lv.Level),
                    F(lv.Recordings.Min(x => x.WindowFps), "0.0"),
                    $"{lv.Recordings.Max(x => x.WindowDrops)} ({lv.Recordings.Max(x => x.Progress.DropFrames)})",
                    F(100 * lv.Recordings.Min(x => x.Facts.FrameRatio(con.Fps)), "0"),
                    F(lv.Recordings.Max(x => x.LatencyMs), "0"),
                    F(lv.Window.Participants), F(lv.Window.Machine), F(lv.Window.Others), F(lv.Window.Load),
                    F(100 * lv.WindowLoss(con.Fps), "0.0"),
                    F(100 * lv.WorstLoss(con.Fps), "0.0"),
                    p.Count == 0 ? "ok" : (lv.Overloaded(con.Fps) ? "OVERLOADED: " : "dropped: ") + string.Join("; ", p),
                };
            }).ToList();
            sb.Append(Table(["at once", "sessions core", "per session", "min encoded fps", "max drops window (all)", "min file frames %", "max start ms", "participants", "machine", "others", "load", "window loss %", "worst loss %", "frames"], rowsC, 1));
            sb.AppendLine("window loss: the largest share of frames any recording of the level lost during the window (drops, or encoded-rate shortfall); worst loss: the same including the file's shortfall (which holds the capture's start). A level with a window loss above 5% is OVERLOADED and ends the climb; the file's shortfall (the starts of several captures at once, with the warm pool relaunching as many surfaces) is shown but does not. " +
                "The participants' browsers run on the same machine (a real meeting's would not): their CPU is in the participants column and limits what is left for recordings.");
        }

        if (r.Track.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine($"== track recording (layers: {string.Join(", ", Scenarios.TrackLayers.Select(l => $"{l.Name} {l.MediaKind}"))}): Janus over a window without recording and one of the same length with it; no targets");
            var rowsT = r.Track.Select(t => new[]
            {
                t.Participants.ToString(System.Globalization.CultureInfo.InvariantCulture), F(t.Recording.Seconds, "0"),
                Pct(t.Idle.Janus), Pct(t.Recording.Janus), F(t.JanusCpuRatio),
                $"{Rss(t.Idle.Janus)} / {Rss(t.Recording.Janus)}",
                $"{F(100 * t.Idle.Server, "0.0")}% / {F(100 * t.Recording.Server, "0.0")}%",
                $"{F(t.Idle.Machine)} / {F(t.Recording.Machine)}", $"{F(t.Idle.Others)} / {F(t.Recording.Others)}",
                $"{F(t.Started.LatencyMs, "0")} ({F(t.Started.ClientMs, "0")})",
                F(t.Delivered.StopToUploadedMs / 1000), F(t.RecordedSeconds, "0.0"), F(t.StopRatio, "0.000"),
                string.Join("/", t.Peers.Select(p => p.Files).Distinct()), F(t.MediaBytes / 1048576.0), F(t.BytesPerMinute / 1048576.0),
                F(t.Peers.Count == 0 ? double.NaN : t.Peers.Average(p => p.AudioBytes) / 1024.0 / (t.RecordedSeconds / 60), "0"),
                F(t.Peers.Count == 0 ? double.NaN : t.Peers.Average(p => p.VideoBytes) / 1048576.0 / (t.RecordedSeconds / 60)),
                $"{t.MjrFiles}, {F(t.MjrBytes / 1048576.0, "0.0")}",
                t.Problems.Count == 0 ? $"ok ({F(t.Files.Min(f => f.DiffSeconds))}..{F(t.Files.Max(f => f.DiffSeconds))} s)" : "WRONG: " + string.Join("; ", t.Problems),
            }).ToList();
            sb.Append(Table(["participants", "window s", "Janus CPU without", "with", "with / without", "Janus RSS MiB without / with", "server CPU without / with", "machine without / with", "others without / with",
                "start ms (client)", "stop to UPLOADED s", "recorded s", "stop / recorded", "files per peer", "MiB total", "MiB per min", "audio KiB/min per peer", "video MiB/min per peer", ".mjr at window end (files, MiB)", "files (duration - recorded)"], rowsT, 1));
            sb.AppendLine("Janus: utime+stime of the server's child janus (all its threads) in % of one core, and its VmRSS (mean over the window, sampled every second); the server process alone likewise. start: started_time - invoked_time from the API " +
                "(the room's recording switched on), in brackets when a client polling every 50 ms saw it. stop to UPLOADED: from the stop request until a GET shows UPLOADED (janus-pp-rec per track, the ffmpeg join without re-encoding, " +
                "hashing, the copy into the bucket); recorded: the recording's intervals in manifest.json. Files: every delivered WebM downloaded and probed (ffprobe -count_packets): Opus / VP8 in WebM, " +
                $"duration within {TrackResult.DurationTolerance} s of the recorded length, sizes as in the manifest, one audio file not silent.");
            foreach (var t in r.Track)
            {
                sb.AppendLine($"   {t.Participants} participants, where the stop time went (ms after the stop request): {t.Delivered.Phases.ToolsText()}");
            }
        }

        if (r.Notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in r.Notes)
            {
                sb.AppendLine("note: " + n);
            }
        }

        if (r.Latency is { } lt)
        {
            sb.AppendLine();
            var spaced = lt.Spaced.Select(x => x.LatencyMs).ToList();
            var b2b = lt.BackToBack.Select(x => x.LatencyMs).ToList();
            sb.Append($"== start latency: {lt.Spaced.Count} starts {F(lt.Gap, "0.#")} s after the previous UPLOADED: p50 {F(Percentile(spaced, 0.5), "0")} ms, max {F(spaced.Max(), "0")} ms");
            if (b2b.Count > 0)
            {
                var diff = Percentile(b2b, 0.5) - Percentile(spaced, 0.5);
                sb.Append($"; {b2b.Count} back to back: p50 {F(Percentile(b2b, 0.5), "0")} ms, max {F(b2b.Max(), "0")} ms ({(diff >= 0 ? "+" : "")}{F(diff, "0")} ms at p50) -> ");
                var b50 = Percentile(b2b, 0.5);
                var outside = b50 < spaced.Min() || b50 > spaced.Max();
                sb.Append(outside && Math.Abs(diff) > Math.Max(250, 0.25 * Percentile(spaced, 0.5))
                    ? "well outside the spread of the spaced starts: the gap matters"
                    : "within (or near) the spread of the spaced starts: no sign that the gap matters");
            }
            sb.AppendLine();
            var phases = lt.Spaced.Select(x => x.Phases).OfType<StartPhases>().ToList();
            if (phases.Count > 0)
            {
                sb.AppendLine($"   where it goes (p50 over the spaced starts): queue {F(Percentile(phases.Select(p => p.QueueMs), 0.5), "0")} ms (invoked to the worker's folder for it), " +
                    $"prepare {F(Percentile(phases.Select(p => p.PrepareMs), 0.5), "0")} ms (token, warm surface, resize, navigate, wait for the page, up to ffmpeg's start), " +
                    $"ffmpeg {F(Percentile(phases.Select(p => p.FfmpegMs), 0.5), "0")} ms (ffmpeg's start to its first frame reported); from the birth times of recorder/<id>/ and its ffmpeg.log");
            }
            sb.AppendLine($"   surfaces up at each start: {string.Join(" ", lt.Spaced.Concat(lt.BackToBack).Select(x => x.SurfacesUp))} (Chromium surfaces of the worker; a recording takes a warm one and the pool launches a replacement)");
        }

        if (r.Failures.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("== failed scenarios");
            foreach (var f in r.Failures)
            {
                sb.AppendLine("   " + f);
            }
        }
        return sb.ToString();
    }

    private static string Pct(JanusUse? j) => j is null ? "?" : Bench.F(100 * j.Cpu, "0.0") + "%";

    private static string Rss(JanusUse? j) => j is null ? "?" : Bench.F(j.RssMeanMb, "0");

    private static string[] Row(string label, WindowCpu w, SessionCpu c, double windowFps, long windowDrops, FfmpegProgress p, FileFacts f, int fps) =>
    [
        label, Bench.F(w.Seconds, "0"), Bench.F(c.Total), Bench.F(c.Ffmpeg), Bench.F(c.Xvfb), $"{Bench.F(c.Chromium)} ({c.ChromiumProcesses})", Bench.F(c.PulseShare), Bench.F(c.FfmpegPeakRssMb, "0"),
        Bench.F(windowFps, "0.0"), $"{windowDrops} ({p.DropFrames})", Bench.F(100 * f.FrameRatio(fps), "0"),
        Bench.F(w.Server), Bench.F(w.Participants), Bench.F(w.Machine), Bench.F(w.Others), Bench.F(w.Load),
    ];

    private static string Table(string[] headers, List<string[]> rows, int leftColumns)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
        sb.AppendLine("|" + string.Join("|", widths.Select((w, i) => i < leftColumns ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (var r in rows)
        {
            sb.AppendLine("| " + string.Join(" | ", r.Select((c, i) => i < leftColumns ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |");
        }
        return sb.ToString();
    }
}
