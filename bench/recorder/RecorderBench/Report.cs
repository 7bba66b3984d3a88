using System.Text;

namespace Capstan.Bench.Recorder;

/// <summary>Everything a run measured (a scenario that failed stays null and is named in <see cref="Failures"/>).</summary>
public sealed class Results
{
    public CpuResult? Cpu360 { get; set; }

    public CpuResult? Cpu720 { get; set; }

    public CpuResult? Cpu1080 { get; set; }

    /// <summary>The browser at 1280x720@30 with 4 participants (native-cpu compares with it).</summary>
    public CpuResult? Cpu720Four { get; set; }

    /// <summary>The native compositor (issue 13): 1280x720@30 with 2 and 4 participants, 1920x1080@30 with 2.</summary>
    public List<CpuResult> NativeCpu { get; } = [];

    public LatencyResult? NativeLatency { get; set; }

    /// <summary>Native 1280x720@30 recordings at once of one 2-participant meeting.</summary>
    public ConcurrencyResult? NativeConcurrency { get; set; }

    /// <summary>Browser and native side by side against issue 13's targets (<see cref="Report.Compare"/>).</summary>
    public List<ComparisonRow> Comparison { get; set; } = [];

    public LatencyResult? Latency { get; set; }

    public ConcurrencyResult? Concurrency { get; set; }

    public LongResult? Long { get; set; }

    /// <summary>Track recordings, one per meeting size (2 participants, then 4 when the budget allows).</summary>
    public List<TrackResult> Track { get; } = [];

    /// <summary>What was left out and why (not failures).</summary>
    public List<string> Notes { get; } = [];

    public List<string> Failures { get; } = [];
}

/// <summary>One figure of browser and native side by side (issue 13): each value with the machine's 1-minute load
/// while it was measured; <see cref="Ratio"/> = native / target (at most 1 meets a bound from above, at least 1 one
/// from below); <see cref="NativeOverBrowser"/> when both were measured in this run.</summary>
public sealed record ComparisonRow(
    string Figure, string Unit, double? Browser, double? Native, double? NativeOverBrowser, string Target, double? Ratio, bool? Met,
    double? BrowserLoad, double? NativeLoad, string Note = "");

/// <summary>The summary: the figures against their targets, then the details of CPU and concurrency.</summary>
public static class Report
{
    /// <summary>Issue 13's targets for the native compositor.</summary>
    public const double NativeCore720p30 = 0.25;
    public const double NativeOverBrowser720p30 = 0.5;
    public const double NativeCore1080p30 = 0.45;
    public const double NativeLatencyP50Ms = 300;
    public const double NativeLatencyP95Ms = 600;
    public const int NativeConcurrencyTarget = 5;
    public const double NativeMemoryMb = 150;

    /// <summary>Browser and native side by side, against issue 13's targets: CPU of the recording with Janus's extra
    /// (720p30 with 2 and 4 participants, 1080p30), start latency, recordings at once, memory per recording. A figure
    /// whose side was not measured in this run is null.</summary>
    public static List<ComparisonRow> Compare(Results r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var rows = new List<ComparisonRow>();
        static double? N(double v) => double.IsNaN(v) ? null : v;
        foreach (var n in r.NativeCpu)
        {
            var b = new[] { r.Cpu720, r.Cpu720Four, r.Cpu1080 }.FirstOrDefault(c => c is not null && c.JanusIdle is not null
                && c.Width == n.Width && c.Height == n.Height && c.Fps == n.Fps && c.Participants == n.Participants);
            var is720 = n is { Width: 1280, Height: 720 };
            var bound = is720 ? NativeCore720p30 : NativeCore1080p30;
            var native = n.TotalWithJanus;
            var browser = b?.TotalWithJanus;
            var over = browser is > 0 && !double.IsNaN(native) ? native / browser : null;
            var frames = n.FrameProblems.Count == 0 ? $"native frames >= {Bench.FrameCheckPercent}%" : "NATIVE FRAMES MISSING: " + string.Join("; ", n.FrameProblems);
            rows.Add(new ComparisonRow($"CPU of the recording {n.Label}, {n.Participants} participants (what it starts + Janus's extra)", "core",
                N(browser ?? double.NaN), N(native), N(over ?? double.NaN), $"<= {Bench.F(bound)} core", N(native / bound), double.IsNaN(native) ? null : native <= bound,
                b?.Window.Load, n.Window.Load, frames));
            if (is720)
            {
                rows.Add(new ComparisonRow("  native / browser in the same run", "x", null, N(over ?? double.NaN), null, $"<= {Bench.F(NativeOverBrowser720p30, "0.0")}x",
                    over is { } o ? o / NativeOverBrowser720p30 : null, over is { } o2 ? o2 <= NativeOverBrowser720p30 : null, b?.Window.Load, n.Window.Load,
                    b is null ? "no browser figure with Janus measured in this run" : ""));
            }
            rows.Add(new ComparisonRow("  of which Janus's extra (its CPU in the window minus before the recording)", "core", N(b?.JanusExtra ?? double.NaN), N(n.JanusExtra), null, "(context)", null, null,
                b?.Window.Load, n.Window.Load, $"Janus without / with: browser {Pct(b?.JanusIdle?.Janus)} / {Pct(b?.Window.Janus)}, native {Pct(n.JanusIdle?.Janus)} / {Pct(n.Window.Janus)} of one core"));
            rows.Add(new ComparisonRow($"  memory of the recording {n.Label}, {n.Participants} participants: peak RSS sum", "MiB", N(b?.Session.PeakRssMb ?? double.NaN), n.Session.PeakRssMb, null,
                $"<= {Bench.F(NativeMemoryMb, "0")} MiB", n.Session.PeakRssMb / NativeMemoryMb, n.Session.PeakRssMb <= NativeMemoryMb, b?.Window.Load, n.Window.Load));
            rows.Add(new ComparisonRow("  the same as a peak PSS sum", "MiB", N(b?.Session.PeakPssMb ?? double.NaN), n.Session.PeakPssMb, null,
                $"<= {Bench.F(NativeMemoryMb, "0")} MiB", n.Session.PeakPssMb / NativeMemoryMb, n.Session.PeakPssMb <= NativeMemoryMb, b?.Window.Load, n.Window.Load));
        }
        if (r.NativeLatency is { } nl)
        {
            var lat = nl.Spaced.Select(x => x.LatencyMs).ToList();
            var bl = r.Latency?.Spaced.Select(x => x.LatencyMs).ToList();
            double? Load(LatencyResult? l) => l is null || l.Spaced.Count == 0 ? null : l.Spaced.Max(x => x.Load);
            foreach (var (q, target) in new[] { (0.5, NativeLatencyP50Ms), (0.95, NativeLatencyP95Ms) })
            {
                var v = Percentile(lat, q);
                rows.Add(new ComparisonRow($"start latency p{q * 100:0} ({lat.Count} starts, 720p30, 2 participants; started_time - invoked_time)", "ms",
                    bl is null ? null : N(Percentile(bl, q)), N(v), bl is null ? null : N(v / Percentile(bl, q)), $"<= {Bench.F(target, "0")} ms", N(v / target), double.IsNaN(v) ? null : v <= target,
                    Load(r.Latency), Load(nl), "load: the highest at the starts"));
            }
        }
        if (r.NativeConcurrency is { } nc)
        {
            var best = nc.Best;
            var last = nc.Levels.Count == 0 ? 0 : nc.Levels[^1].Level;
            var browser = r.Concurrency;
            var top = nc.Level(best);
            rows.Add(new ComparisonRow($"720p30 recordings at once of one {nc.Participants}-participant meeting, every file >= {Bench.FrameCheckPercent}% of its frames", "recordings",
                browser?.Best, best, null, $">= {NativeConcurrencyTarget}", (double)best / NativeConcurrencyTarget, best >= NativeConcurrencyTarget,
                browser?.Levels.LastOrDefault()?.Window.Load, top?.Window.Load ?? nc.Levels.LastOrDefault()?.Window.Load,
                $"native levels tried {string.Join(",", nc.Levels.Select(l => l.Level))}{(best == last && nc.Capped ? " (or more: the last level tried held)" : "")}" +
                (browser is null ? "" : $"; browser: {browser.Participants} participant, levels 1..{browser.Levels.LastOrDefault()?.Level}")));
            // Memory at the largest level that held (or, when none did, the last one tried).
            if ((top ?? nc.Levels.LastOrDefault()) is { Recordings.Count: > 0 } shown)
            {
                var rss = shown.Recordings.Max(x => x.Cpu.PeakRssMb);
                var pss = shown.Recordings.Max(x => x.Cpu.PeakPssMb);
                rows.Add(new ComparisonRow($"  memory per native recording with {shown.Level} at once: peak RSS, the highest", "MiB", null, rss, null, $"<= {Bench.F(NativeMemoryMb, "0")} MiB",
                    rss / NativeMemoryMb, rss <= NativeMemoryMb && pss <= NativeMemoryMb, null, shown.Window.Load, $"PSS {Bench.F(pss, "0")} MiB; met only when RSS and PSS are both within"));
            }
        }
        return rows;
    }

    public const double LatencyP50TargetMs = 800;
    public const double LatencyP95TargetMs = 1500;
    public const double CoreTarget720p30 = 0.5;
    public const double StopTargetMs = 2000;
    public const double MemoryTargetMb = 300;

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
            var load = LoadText(l.Spaced.Select(x => x.Load));
            rows.Add([$"start latency p50 ({lat.Count} starts, {F(l.Gap, "0.#")} s apart, 720p30, 2 participants)", F(p50, "0") + " ms", $"<= {F(LatencyP50TargetMs, "0")} ms", F(p50 / LatencyP50TargetMs), Met(p50 <= LatencyP50TargetMs), load]);
            rows.Add([$"start latency p95 (nearest rank)", F(p95, "0") + " ms", $"<= {F(LatencyP95TargetMs, "0")} ms", F(p95 / LatencyP95TargetMs), Met(p95 <= LatencyP95TargetMs), load]);
            rows.Add(["start latency max", F(lat.Max(), "0") + " ms", "", "", "", load]);
            var phases = l.Spaced.Select(x => x.Phases).OfType<StartPhases>().ToList();
            if (phases.Count > 0)
            {
                string P(Func<StartPhases, double> f) => F(Percentile(phases.Select(f), 0.5), "0");
                rows.Add([$"  its breakdown, p50 of each ({phases.Count} logged)", $"claim {P(p => p.ClaimMs)} + surface {P(p => p.SurfaceMs)} + page {P(p => p.PageMs)} + launched {P(p => p.LaunchMs)} + first frame {P(p => p.FrameMs)} ms", "(context)", "", "", load]);
            }
            if (l.BackToBack.Count > 0)
            {
                var b2b = l.BackToBack.Select(x => x.LatencyMs).ToList();
                rows.Add([$"start latency back to back ({b2b.Count}, no gap) p50 / max", $"{F(Percentile(b2b, 0.5), "0")} / {F(b2b.Max(), "0")} ms", "(context)", "", "", LoadText(l.BackToBack.Select(x => x.Load))]);
            }
            rows.Add(["first start of a fresh server (not counted)", F(l.First.LatencyMs, "0") + " ms", "(context)", "", "", F(l.First.Load)]);
        }
        if (r.Long is { } ls)
        {
            var load = F(ls.Window.Load);
            if (ls.Sync is { } sy)
            {
                foreach (var (what, rep) in new[] { ("start", sy.Start), ("end", sy.End) })
                {
                    var label = $"sound - picture at the {what} (first/last {F(sy.WindowSeconds, "0")} s of {F(sy.FileSeconds, "0")} s, custom url), {rep.Pairs.Count} events";
                    rows.Add([label + ": median", F(rep.MedianMs, "+0;-0") + " ms", $"within +-{F(SyncResult.MedianTargetMs, "0")} ms", F(Math.Abs(rep.MedianMs) / SyncResult.MedianTargetMs), Met(rep.Pairs.Count > 0 && Math.Abs(rep.MedianMs) <= SyncResult.MedianTargetMs), load]);
                    rows.Add(["  every event: max |offset|", F(rep.MaxAbsMs, "0") + " ms", $"<= {F(SyncResult.EventTargetMs, "0")} ms", F(rep.MaxAbsMs / SyncResult.EventTargetMs), Met(rep.Pairs.Count > 0 && rep.MaxAbsMs <= SyncResult.EventTargetMs), load]);
                }
                rows.Add(["  drift (end median - start median)", F(sy.DriftMs, "+0;-0") + " ms", "(both ends within the bounds)", "", Met(SyncResult.Met(sy.Start) && SyncResult.Met(sy.End)), load]);
            }
            else
            {
                rows.Add(["sound - picture at the start and the end", "not measured", $"median +-{F(SyncResult.MedianTargetMs, "0")}, events +-{F(SyncResult.EventTargetMs, "0")} ms", "", "NO", load]);
            }
        }
        foreach (var c in new[] { r.Cpu360, r.Cpu720, r.Cpu1080 }.OfType<CpuResult>())
        {
            var frames = c.FrameProblems.Count == 0 ? $"frames >= {Bench.FrameCheckPercent}%" : "FRAMES MISSING";
            var load = F(c.Window.Load);
            if (c is { Width: 1280, Height: 720, Fps: 30 })
            {
                rows.Add([$"CPU per session {c.Label}, {c.Participants} participants", F(c.Session.Total) + " core", "<= 0.5 core", F(c.Session.Total / CoreTarget720p30), Met(c.Session.Total <= CoreTarget720p30) + "; " + frames, load]);
                rows.Add([$"memory of everything the {c.Label} recording started (peak PSS sum)", F(c.Session.PeakPssMb, "0") + " MiB", $"<= {F(MemoryTargetMb, "0")} MiB", F(c.Session.PeakPssMb / MemoryTargetMb), Met(c.Session.PeakPssMb <= MemoryTargetMb), load]);
                rows.Add(["  the same as a sum of RSS (shared pages once per process)", F(c.Session.PeakRssMb, "0") + " MiB", $"<= {F(MemoryTargetMb, "0")} MiB", F(c.Session.PeakRssMb / MemoryTargetMb), Met(c.Session.PeakRssMb <= MemoryTargetMb), load]);
            }
            else
            {
                rows.Add([$"CPU per session {c.Label}, {c.Participants} participants", F(c.Session.Total) + " core", "", "", frames, load]);
                rows.Add([$"  memory (peak PSS sum / RSS sum)", $"{F(c.Session.PeakPssMb, "0")} / {F(c.Session.PeakRssMb, "0")} MiB", "(context)", "", "", load]);
            }
        }
        if (r.Concurrency is { } cc)
        {
            var tried = cc.Levels.Count == 0 ? "none" : $"1..{cc.Levels[^1].Level}";
            var more = cc.Capped ? " (or more: the last level tried kept up)" : "";
            if (cc.Level(2) is { } two)
            {
                var load = F(two.Window.Load);
                var file = two.WorstFileRatio(cc.Fps);
                var grab = two.WorstGrabRatio;
                var limit = Bench.FrameCheckPercent / 100.0;
                rows.Add(["2 recordings at once 720p30: frames in the file (lower of the 2)", F(100 * file, "0.0") + "%", $">= {Bench.FrameCheckPercent}%", F(file / limit), Met(file >= limit), load]);
                rows.Add(["  frames the capture grabbed of those expected (lower of the 2)", F(100 * grab, "0.0") + "%", $">= {Bench.FrameCheckPercent}%", F(grab / limit), Met(grab >= limit), load]);
                rows.Add(["  memory per recording (peak PSS sum, higher of the 2)", F(two.Recordings.Max(x => x.Cpu.PeakPssMb), "0") + " MiB", $"<= {F(MemoryTargetMb, "0")} MiB",
                    F(two.Recordings.Max(x => x.Cpu.PeakPssMb) / MemoryTargetMb), Met(two.Recordings.Max(x => x.Cpu.PeakPssMb) <= MemoryTargetMb), load]);
            }
            else
            {
                rows.Add(["2 recordings at once 720p30: frames", "not reached", $">= {Bench.FrameCheckPercent}%", "", "NO", ""]);
            }
            rows.Add([$"720p30 recordings at once, every one >= {Bench.FrameCheckPercent}% of its frames ({cc.Participants} participant)", $"{cc.Best}{(cc.Best == cc.Levels.Count && cc.Capped ? more : "")}", "", "", $"levels tried {tried}", ""]);
            rows.Add([$"720p30 recordings at once keeping up (>= {Bench.KeepUpPercent}% of frames grabbed)", $"{cc.BestKeepingUp}{(cc.BestKeepingUp == cc.Levels.Count && cc.Capped ? more : "")}", "", "", "", ""]);
        }
        if (r.Long is { } lg)
        {
            var ms = lg.Delivered.StopToUploadedMs;
            var load = F(lg.Window.Load);
            rows.Add([$"stop to UPLOADED, {F(lg.Seconds, "0")} s recording 1280x720@30", F(ms / 1000, "0.00") + " s", "< 2 s", F(ms / StopTargetMs), Met(ms < StopTargetMs), load]);
            rows.Add(["  where the stop time went (ms after the stop request)", lg.Delivered.Phases.ToString().Replace(" ms", "", StringComparison.Ordinal), "", "", "", ""]);
            rows.Add(["  its file", $"{F(lg.Facts.Size / 1048576.0, "0.0")} MiB, {F(lg.Facts.Duration, "0.0")} s, {F(100 * lg.Facts.FrameRatio(30), "0.0")}% of frames; capture {lg.Log.GrabText}", "", "",
                lg.FrameProblems(30).Count == 0 ? $"frames >= {Bench.FrameCheckPercent}%" : "FRAMES MISSING", load]);
            rows.Add(["  its session CPU and memory over the whole recording", $"{F(lg.Session.Total)} core, {F(lg.Session.PeakPssMb, "0")} MiB", "(context)", F(lg.Session.Total / CoreTarget720p30), "", load]);
        }
        foreach (var t in r.Track)
        {
            var ok = t.Problems.Count == 0 ? $"files ok (max |duration - recorded| {F(t.MaxDiffSeconds)} s)" : "FILES WRONG";
            rows.Add([$"track, {t.Participants} participants: Janus CPU without / with recording", $"{Pct(t.Idle.Janus)} / {Pct(t.Recording.Janus)} of one core", "(none)", F(t.JanusCpuRatio), "with / without", F(t.Recording.Load)]);
            rows.Add([$"  start (started_time - invoked_time; client saw RECORDING)", $"{F(t.Started.LatencyMs, "0")} ms ({F(t.Started.ClientMs, "0")} ms)", "(none)", "", "", ""]);
            rows.Add([$"  stop to UPLOADED, {F(t.RecordedSeconds, "0.0")} s recorded", F(t.Delivered.StopToUploadedMs / 1000) + " s", "(none)", F(t.StopRatio, "0.000"), "/ recorded length; " + ok, ""]);
        }

        var sb = new StringBuilder();
        sb.AppendLine(s.Quick
            ? "== summary (--quick: shortened windows and counts; not the figures of record)"
            : "== summary");
        if (rows.Count > 0)
        {
            sb.Append(Table(["figure", "measured", "target", "ratio", "met", "load"], rows, leftColumns: 1));
        }
        sb.AppendLine(rows.Count == 0 ? "(no browser figure with a target in this run)" : ("ratio = measured / target (at most 1 meets it; for +-bounds |measured| / bound). load: the machine's 1-minute load average while it was measured (a range over several starts). " +
            "Latency: started_time - invoked_time from the API; its breakdown from the server's log line \"Recording started: first frame ... (claimed, surface, capture launched, first frame; the page, a part of capture launched)\". " +
            "Sound - picture: tone onset minus flash onset (negative: the sound leads) in the long recording of the flash+beep page (tests/Shared/AvSync.cs), its first and last seconds cut with ffmpeg -c copy. " +
            "Frames: in the file, ffprobe -count_frames / (duration x fps); grabbed, the server's \"Segment ...: N frames grabbed of M\" (videorate repeats a missed frame, so the file alone cannot show a miss). " +
            "CPU: utime+stime of the session's capture (its warm capture host or gst-launch-1.0), Xvfb and Chromium tree plus its share of PulseAudio, in shares of one core. Memory: the same processes' PSS (and RSS) summed, peak of samples once a second."));
        if (r.Track.Count > 0)
        {
            sb.AppendLine("Track recording has no targets: its ratios are Janus CPU with / without the recording, and stop to UPLOADED / the recorded length.");
        }

        var cpuRows = new List<string[]>();
        foreach (var c in new[] { r.Cpu360, r.Cpu720, r.Cpu1080 }.OfType<CpuResult>())
        {
            cpuRows.Add(Row(c.Label, c.Window, c.Session, c.Log, c.Facts, c.Fps));
        }
        if (r.Long is { } lo)
        {
            cpuRows.Add(Row($"1280x720@30, {F(lo.Seconds, "0")} s", lo.Window, lo.Session, lo.Log, lo.Facts, 30));
        }
        if (cpuRows.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("== CPU (shares of one core) and memory per session");
            sb.Append(Table(["recording", "window s", "session", "capture", "Xvfb", "Chromium (procs)", "PulseAudio", "PSS MiB", "RSS MiB", "capture RSS MiB", "grabbed %", "file frames %", "server", "participants", "machine", "others", "load"], cpuRows, 1));
            sb.AppendLine($"session = capture + Xvfb + Chromium + PulseAudio (the worker's one PulseAudio, divided among the recordings running). server, participants (their Chromium), machine (every process on the {Environment.ProcessorCount} cores, anyone's) and others (machine minus everything this benchmark started: other people's work) are context, not part of the session. " +
                "PSS / RSS MiB: peak of the sum over the session's processes (PulseAudio's share included) of Pss (smaps_rollup) and of VmRSS; capture RSS: the capture process alone (raw frames wait in its queue when the encoder falls behind). " +
                "grabbed %: frames the capture grabbed / frames its segments' spans call for (the server's Segment log lines, the whole recording). " +
                $"file frames %: frames in the delivered file (ffprobe -count_frames; -count_packets for the long one) / (frame rate x video duration). Both must be >= {Bench.FrameCheckPercent}%.");
        }

        if (r.Concurrency is { } con)
        {
            ConcurrencyDetails(sb, con, $"== concurrency: 1280x720@30 recordings at once (one meeting, {con.Participants} participant, allow_multiple_recordings; Recorder__Slots={con.Slots})");
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

        if (r.Comparison.Count > 0 || r.NativeCpu.Count > 0 || r.NativeConcurrency is not null)
        {
            NativeDetails(sb, r);
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
            LatencyDetails(sb, lt, "== start latency", native: false);
        }
        if (r.NativeLatency is { } nl)
        {
            LatencyDetails(sb, nl, "== start latency (native compositor)", native: true);
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

    /// <summary>The levels of a concurrency run, one row each.</summary>
    private static void ConcurrencyDetails(StringBuilder sb, ConcurrencyResult con, string title)
    {
        static string F(double v, string f = "0.00") => Bench.F(v, f);
        sb.AppendLine();
        sb.AppendLine(title);
        var rowsC = con.Levels.Select(lv =>
        {
            var p = lv.Problems(con.Fps);
            return new[]
            {
                lv.Level.ToString(System.Globalization.CultureInfo.InvariantCulture),
                F(lv.Window.SessionsTotal), F(lv.Window.SessionsTotal / lv.Level),
                F(100 * lv.WorstGrabRatio, "0.0"),
                F(100 * lv.WorstFileRatio(con.Fps), "0.0"),
                F(lv.Recordings.Max(x => x.Cpu.PeakPssMb), "0"),
                F(lv.Recordings.Max(x => x.LatencyMs), "0"),
                F(lv.Window.Participants), F(lv.Window.Machine), F(lv.Window.Others), F(lv.Window.Load),
                F(100 * lv.WorstLoss(con.Fps), "0.0"),
                p.Count == 0 ? "ok" : (lv.Overloaded(con.Fps) ? "OVERLOADED: " : "missing: ") + string.Join("; ", p),
            };
        }).ToList();
        sb.Append(Table(["at once", "sessions core", "per session", "min grabbed %", "min file frames %", "max PSS MiB", "max start ms", "participants", "machine", "others", "load", "worst loss %", "frames"], rowsC, 1));
        sb.AppendLine($"grabbed: frames the capture grabbed / expected over the whole recording (its start included); file frames: frames in the file / (duration x fps); worst loss: the larger shortfall of either, worst recording. " +
            $"A level where a capture grabbed less than {Bench.KeepUpPercent}% is OVERLOADED and ends the climb. " +
            "The participants' browsers run on the same machine (a real meeting's would not): their CPU is in the participants column and limits what is left for recordings.");
    }

    /// <summary>A latency run: its spaced and back-to-back starts, and where the time went.</summary>
    private static void LatencyDetails(StringBuilder sb, LatencyResult lt, string title, bool native)
    {
        static string F(double v, string f = "0.00") => Bench.F(v, f);
        sb.AppendLine();
        var spaced = lt.Spaced.Select(x => x.LatencyMs).ToList();
        var b2b = lt.BackToBack.Select(x => x.LatencyMs).ToList();
        sb.Append($"{title}: {lt.Spaced.Count} starts {F(lt.Gap, "0.#")} s after the previous UPLOADED: p50 {F(Percentile(spaced, 0.5), "0")} ms, max {F(spaced.Max(), "0")} ms");
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
        if (phases.Count > 0 && native)
        {
            string P(Func<StartPhases, double> f) => F(Percentile(phases.Select(f), 0.5), "0");
            sb.AppendLine($"   where it goes (p50 of each over the spaced starts, from the server's log): claim {P(p => p.ClaimMs)} ms (invoked to the worker's claim of the job), " +
                $"surface {P(p => p.SurfaceMs)} ms (no surface: the room's Janus handle joined), capture launched {P(p => p.LaunchMs)} ms (the compositor host started), " +
                $"first frame {P(p => p.FrameMs)} ms (its first composited frame: started_time)");
        }
        else if (phases.Count > 0)
        {
            string P(Func<StartPhases, double> f) => F(Percentile(phases.Select(f), 0.5), "0");
            sb.AppendLine($"   where it goes (p50 of each over the spaced starts, from the server's log): claim {P(p => p.ClaimMs)} ms (invoked to the worker's claim of the job), " +
                $"surface {P(p => p.SurfaceMs)} ms (a warm Xvfb + Chromium taken, or launched), " +
                $"capture launched {P(p => p.LaunchMs)} ms (the capture asked for: its warm host given the pipeline, or gst-launch-1.0 started), first frame {P(p => p.FrameMs)} ms (its first grabbed frame: started_time); " +
                $"of which the page {P(p => p.PageMs)} ms after the surface (token, resize, navigate)");
        }
        sb.AppendLine("   per start (claim/surface/launched/frame ms, page): " + string.Join("; ", lt.Spaced.Concat(lt.BackToBack).Select(x => x.Phases is { } ph
            ? $"{F(ph.ClaimMs, "0")}/{F(ph.SurfaceMs, "0")}/{F(ph.LaunchMs, "0")}/{F(ph.FrameMs, "0")}, {F(ph.PageMs, "0")}" : "?")));
        if (!native)
        {
            sb.AppendLine($"   surfaces up at each start: {string.Join(" ", lt.Spaced.Concat(lt.BackToBack).Select(x => x.SurfacesUp))} (Chromium surfaces of the worker; a recording takes a warm one and the pool launches a replacement)");
        }
    }

    /// <summary>Browser and native side by side (<see cref="Results.Comparison"/>), the CPU runs behind it and the
    /// native concurrency levels.</summary>
    private static void NativeDetails(StringBuilder sb, Results r)
    {
        static string F(double? v, string f = "0.00") => v is { } x && !double.IsNaN(x) ? Bench.F(x, f) : "-";
        sb.AppendLine();
        sb.AppendLine("== native compositor against the browser (issue 13's targets; both measured in this run, each with the machine's 1-minute load)");
        string V(double? v, string unit) => v is null ? "-" : unit switch { "ms" or "recordings" => F(v, "0"), "MiB" => F(v, "0") + " MiB", "x" => F(v) + "x", _ => F(v) + " core" };
        var rows = r.Comparison.Select(c => new[]
        {
            c.Figure, V(c.Browser, c.Unit), V(c.Native, c.Unit), F(c.NativeOverBrowser), c.Target, F(c.Ratio), c.Met is { } m ? (m ? "yes" : "NO") : "",
            $"{F(c.BrowserLoad)} / {F(c.NativeLoad)}", c.Note,
        }).ToList();
        sb.Append(Table(["figure", "browser", "native", "native / browser", "target (native)", "ratio", "met", "load (browser / native)", "note"], rows, 1));
        sb.AppendLine("CPU of the recording: utime+stime of everything it starts (browser: capture, Xvfb, Chromium tree, its share of PulseAudio; native: the compositor host, " +
            "capstan-compositor-host, the GStreamer pipeline's host compiled ahead of time) plus Janus's extra: Janus's CPU over the recording's window minus its CPU over a window of the same length just before the " +
            "recording, with the same meeting (browser: the recorder page subscribes to every publisher; native: RTP forwarders to local UDP). The server process (which also follows the " +
            "native compositor's room) is context, not counted. ratio = native / target: at most 1 meets an upper bound, at least 1 a lower one (recordings at once). " +
            "Memory: peak of the sum of VmRSS (and of Pss) over the recording's processes, sampled every second. The browser's concurrency uses 1 participant (its own scenario); the native's 2 (issue 13).");
        var cpu = new[] { r.Cpu720, r.Cpu720Four, r.Cpu1080 }.OfType<CpuResult>().Where(c => c.JanusIdle is not null).Concat(r.NativeCpu).ToList();
        if (cpu.Count > 0)
        {
            var rowsC = cpu.Select(c => new[]
            {
                c.Label, c.Compositor, c.Participants.ToString(System.Globalization.CultureInfo.InvariantCulture), F(c.Window.Seconds, "0"), F(c.Session.Total),
                Pct(c.JanusIdle?.Janus), Pct(c.Window.Janus), F(c.JanusExtra), F(c.TotalWithJanus),
                F(c.Session.PeakRssMb, "0"), F(c.Session.PeakPssMb, "0"), F(100 * c.Log.GrabRatio, "0.0"), F(100 * c.Facts.FrameRatio(c.Fps), "0.0"), F(c.Started.LatencyMs, "0"),
                $"{F(c.JanusIdle?.Server)} / {F(c.Window.Server)}", F(c.Window.Participants), F(c.Window.Machine), F(c.Window.Others), $"{F(c.JanusIdle?.Load)} / {F(c.Window.Load)}",
            }).ToList();
            sb.AppendLine();
            sb.Append(Table(["recording", "compositor", "participants", "window s", "session core", "Janus without", "Janus with", "Janus extra", "total core", "RSS MiB", "PSS MiB",
                "grabbed %", "file frames %", "start ms", "server without / with", "participants CPU", "machine", "others", "load without / with"], rowsC, 1));
            sb.AppendLine("session: the recording's processes (as above); Janus without / with: its CPU in % of one core over the window before the recording and over the recording's; total = session + Janus extra. " +
                $"grabbed % / file frames %: as in the CPU table (both must be >= {Bench.FrameCheckPercent}%); the native compositor reports each composited frame as the browser capture reports a grab.");
        }
        if (r.NativeConcurrency is { } nc)
        {
            ConcurrencyDetails(sb, nc, $"== native concurrency: 1280x720@30 native recordings at once (one meeting, {nc.Participants} participants, allow_multiple_recordings; Recorder__Slots={nc.Slots}); session = its compositor host");
        }
    }

    private static string Pct(JanusUse? j) => j is null ? "?" : Bench.F(100 * j.Cpu, "0.0") + "%";

    private static string Rss(JanusUse? j) => j is null ? "?" : Bench.F(j.RssMeanMb, "0");

    private static string LoadText(IEnumerable<double> loads)
    {
        var l = loads.ToList();
        return l.Count == 0 ? "" : l.Min() == l.Max() ? Bench.F(l[0]) : $"{Bench.F(l.Min())}..{Bench.F(l.Max())}";
    }

    private static string[] Row(string label, WindowCpu w, SessionCpu c, CaptureLog log, FileFacts f, int fps) =>
    [
        label, Bench.F(w.Seconds, "0"), Bench.F(c.Total), Bench.F(c.Capture), Bench.F(c.Xvfb), $"{Bench.F(c.Chromium)} ({c.ChromiumProcesses})", Bench.F(c.PulseShare),
        Bench.F(c.PeakPssMb, "0"), Bench.F(c.PeakRssMb, "0"), Bench.F(c.CapturePeakRssMb, "0"),
        Bench.F(100 * log.GrabRatio, "0.0"), Bench.F(100 * f.FrameRatio(fps), "0.0"),
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
