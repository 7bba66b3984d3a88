using System.Globalization;
using System.Text.Json.Nodes;

namespace Capstan.Bench.Recorder;

/// <summary>How long and how many: the full run, or <c>--quick</c> for development. <see cref="SyncWindow"/>: the
/// seconds at the start and at the end of the long recording whose sound/picture offsets are measured.
/// <see cref="NativeLevels"/>: how many native recordings at once the native concurrency scenario tries, in order
/// (the quick run only the base and the target of 5).</summary>
public sealed record Settings(
    bool Quick, int LatencyStarts, int BackToBackStarts, double Gap, double RecordSeconds, double CpuWindow, double Warmup,
    double ConcurrencyWindow, int MaxLevel, int ConcurrencyParticipants, double LongSeconds, double SyncWindow, double TrackWindow, IReadOnlyList<int> TrackParticipants,
    IReadOnlyList<int> NativeLevels)
{
    public static Settings Full { get; } = new(false, 10, 3, 2, 1.5, 60, 5, 25, 4, 1, 600, 60, 60, [2, 4], [1, 2, 3, 4, 5, 6]);

    public static Settings QuickRun { get; } = new(true, 3, 2, 2, 1.5, 10, 3, 10, 2, 1, 60, 20, 10, [2], [2, 5]);
}

/// <summary>What a scenario needs: the server it runs against, its API, the participants' browser, and where to
/// put downloads.</summary>
public sealed record Bench(Server Server, Api Api, Browsers Browsers, Recordings Recordings, Settings Settings, string WorkDir)
{
    /// <summary>The frames target (issue 11): the file holds at least this share of the frames its duration calls
    /// for, and the capture grabbed at least this share of the frames its segments' spans call for.</summary>
    public const int FrameCheckPercent = 99;

    /// <summary>A level of the concurrency scenario that grabs less than this share of its frames is overloaded (the
    /// levels above are not tried).</summary>
    public const int KeepUpPercent = 95;

    public static string F(double v, string format = "0.00") => v.ToString(format, CultureInfo.InvariantCulture);
}

/// <summary>One start of the latency scenario; <see cref="Load"/>: the machine's 1-minute load average as it was sent.</summary>
public sealed record StartSample(int Index, double GapSeconds, int SurfacesUp, double LatencyMs, double ClientMs, double StopToUploadedMs, StartPhases? Phases, double Load);

public sealed record LatencyResult(StartSample First, IReadOnlyList<StartSample> Spaced, IReadOnlyList<StartSample> BackToBack, double Gap);

public sealed record CpuResult(
    string Label, int Width, int Height, int Fps, int Participants, Started Started, WindowCpu Window, SessionCpu Session,
    CaptureLog Log, Delivered Delivered, FileFacts Facts, IReadOnlyList<string> Missing)
{
    public List<string> FrameProblems => Frames.Problems(Fps, Log, Facts);

    /// <summary>Composited by the native compositor (a server with <c>Recorder__Compositor=native</c>).</summary>
    public bool Native { get; init; }

    public string Compositor => Native ? "native" : "browser";

    /// <summary>Janus over a window of the same length just before the recording (the meeting on, no recording); null
    /// when not measured.</summary>
    public WindowCpu? JanusIdle { get; init; }

    /// <summary>What the recording added to Janus: its CPU in the recording's window minus before it (shares of one
    /// core; NaN when Janus was not measured in both, or restarted between them).</summary>
    public double JanusExtra => JanusIdle is { } idle ? JanusExtraOf(idle, Window) : double.NaN;

    /// <summary>The recording's CPU with Janus's extra: everything it starts plus what it adds to Janus.</summary>
    public double TotalWithJanus => Session.Total + JanusExtra;

    public static double JanusExtraOf(WindowCpu idle, WindowCpu recording)
    {
        ArgumentNullException.ThrowIfNull(idle);
        ArgumentNullException.ThrowIfNull(recording);
        return idle.Janus is { } i && recording.Janus is { } r && i.Pid == r.Pid ? r.Cpu - i.Cpu : double.NaN;
    }
}

public sealed record LevelRecording(string Id, double LatencyMs, CaptureLog Log, FileFacts Facts, SessionCpu Cpu, double StopToUploadedMs)
{
    /// <summary>Why the recording has no file (it ended ERRORED, or its delivery timed out): its level does not hold.</summary>
    public string? Error { get; init; }

    public List<string> Problems(int fps) => Error is { } e ? ["no file: " + e] : Frames.Problems(fps, Log, Facts);

    /// <summary>The larger share of frames lost: by the capture (grabs against its segments' spans) or in the file.</summary>
    public double Loss(int fps) => Math.Max(double.IsNaN(Log.GrabRatio) ? 1 : 1 - Log.GrabRatio, 1 - Facts.FrameRatio(fps));
}

public sealed record LevelResult(int Level, WindowCpu Window, IReadOnlyList<LevelRecording> Recordings, IReadOnlyList<string> Missing)
{
    public List<string> Problems(int fps) => Recordings.SelectMany((r, i) => r.Problems(fps).Select(p => $"#{i + 1} {p}")).ToList();

    /// <summary>The largest share of its frames any recording of the level lost (grabs or file).</summary>
    public double WorstLoss(int fps) => Recordings.Count == 0 ? 0 : Recordings.Max(r => r.Loss(fps));

    /// <summary>The lowest share of frames in a file of the level, and of frames grabbed.</summary>
    public double WorstFileRatio(int fps) => Recordings.Count == 0 ? double.NaN : Recordings.Min(r => r.Facts.FrameRatio(fps));

    public double WorstGrabRatio => Recordings.Count == 0 ? double.NaN : Recordings.Min(r => double.IsNaN(r.Log.GrabRatio) ? 0 : r.Log.GrabRatio);

    /// <summary>A recording grabbed less than 95% of its frames: the machine cannot keep up with this many recordings.</summary>
    public bool Overloaded(int fps) => Recordings.Any(r => !(r.Log.GrabRatio >= Bench.KeepUpPercent / 100.0));
}

public sealed record ConcurrencyResult(int Participants, int Slots, IReadOnlyList<LevelResult> Levels, int Fps)
{
    /// <summary>Native composites (a server with <c>Recorder__Compositor=native</c>).</summary>
    public bool Native { get; init; }

    /// <summary>The largest level whose every recording met the frames target, every smaller level too; 0 when even one did not.</summary>
    public int Best => Levels.TakeWhile(l => l.Problems(Fps).Count == 0).Select(l => l.Level).DefaultIfEmpty(0).Max();

    /// <summary>The largest level that kept up: every recording grabbed at least 95% of its frames, every smaller level too.</summary>
    public int BestKeepingUp => Levels.TakeWhile(l => !l.Overloaded(Fps)).Select(l => l.Level).DefaultIfEmpty(0).Max();

    /// <summary>True when the last level tried did not overload (so the machine may take more than were tried).</summary>
    public bool Capped => Levels.Count > 0 && !Levels[^1].Overloaded(Fps);

    public LevelResult? Level(int k) => Levels.FirstOrDefault(l => l.Level == k);
}

/// <summary>Sound against picture in the long recording's file: the flash/tone pairs of its first and of its last
/// <see cref="WindowSeconds"/> (each cut from the file without re-encoding and measured with <see cref="AvSync"/>).</summary>
public sealed record SyncResult(double WindowSeconds, double FileSeconds, SyncReport Start, SyncReport End)
{
    public const double MedianTargetMs = 40;
    public const double EventTargetMs = 80;

    /// <summary>How far the median moved from the start to the end.</summary>
    public double DriftMs => End.MedianMs - Start.MedianMs;

    public static bool Met(SyncReport r) => r.Pairs.Count > 0 && Math.Abs(r.MedianMs) <= MedianTargetMs && r.MaxAbsMs <= EventTargetMs;

    public static string Text(SyncReport r) =>
        $"{r.Pairs.Count} pairs ({r.Flashes.Count} flashes, {r.Tones.Count} tones): median {Bench.F(r.MedianMs, "+0;-0")} ms, max |offset| {Bench.F(r.MaxAbsMs, "0")} ms";
}

public sealed record LongResult(double Seconds, Started Started, WindowCpu Window, SessionCpu Session, CaptureLog Log, Delivered Delivered, FileFacts Facts, SyncResult? Sync)
{
    public List<string> FrameProblems(int fps) => Frames.Problems(fps, Log, Facts);
}

/// <summary>One peer's delivered track files: how many, and their bytes per media kind.</summary>
public sealed record TrackPeer(string UserId, string PeerId, int Files, long AudioBytes, long VideoBytes)
{
    public long Bytes => AudioBytes + VideoBytes;
}

/// <summary>A delivered track file as downloaded and probed, against the recorded length (the manifest's intervals).</summary>
public sealed record TrackFile(string Layer, string Name, string UserId, string MediaKind, long Size, TrackFileFacts Facts, double DiffSeconds);

/// <summary>A track recording of a meeting: Janus (and the server) over a window without any recording, then over a
/// window of the same length with the track recording on; the start, the stop to UPLOADED, the files.</summary>
public sealed record TrackResult(
    int Participants, WindowCpu Idle, WindowCpu Recording, Started Started, Delivered Delivered, double RecordedSeconds,
    int MjrFiles, long MjrBytes, IReadOnlyList<TrackPeer> Peers, IReadOnlyList<TrackFile> Files, double MeanVolumeDb, IReadOnlyList<string> Problems)
{
    /// <summary>Largest difference allowed between a file's duration and the recorded length.</summary>
    public const double DurationTolerance = 1.0;

    public double JanusCpuRatio => Idle.Janus is { } i && Recording.Janus is { } r && i.Cpu > 0 ? r.Cpu / i.Cpu : double.NaN;

    public double StopRatio => Delivered.StopToUploadedMs / 1000 / RecordedSeconds;

    public long MediaBytes => Peers.Sum(p => p.Bytes);

    public double BytesPerMinute => MediaBytes / (RecordedSeconds / 60);

    public double MaxDiffSeconds => Files.Count == 0 ? double.NaN : Files.Max(f => Math.Abs(f.DiffSeconds));
}

/// <summary>The frames check of a recording: the frames in the delivered file against the frame rate times its
/// video duration, and the frames the capture really grabbed against what its segments' spans call for (the server
/// logs both counts per segment; videorate fills a missed frame with a repeat, so only the grabs show a miss).</summary>
public static class Frames
{
    public static List<string> Problems(int fps, CaptureLog log, FileFacts f)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(f);
        var limit = Bench.FrameCheckPercent / 100.0;
        var problems = new List<string>();
        if (f.FrameRatio(fps) < limit)
        {
            problems.Add($"file has {f.Frames} frames for {Bench.F(f.VideoDuration, "0.0")} s ({Bench.F(100 * f.FrameRatio(fps), "0.0")}% of {fps} fps)");
        }
        if (!(log.GrabRatio >= limit))
        {
            problems.Add("capture: " + log.GrabText);
        }
        return problems;
    }
}

public static class Scenarios
{
    /// <summary>Start latency: a meeting with 2 participants; a first recording of the fresh server (reported apart),
    /// then N starts spaced by the gap (the reported p50/p95/max), then a few back to back (no gap) to show whether the
    /// warm pool's refill matters. Each: start, poll until <c>started_time</c>, record 1.5 s, stop, wait UPLOADED.</summary>
    public static async Task<LatencyResult> LatencyAsync(Bench b, CancellationToken ct)
    {
        var s = b.Settings;
        Console.WriteLine($"== start latency{(b.Server.Native ? " (native compositor)" : "")}: 1280x720@{b.Server.FrameRate}, 2 participants; 1 first start (fresh server, not counted), {s.LatencyStarts} starts {s.Gap} s apart, {s.BackToBackStarts} back to back");
        await using var meeting = await Meeting.OpenAsync(b.Server, b.Api, b.Browsers, "bench latency", 2, ct);
        var last = b.Recordings.Now;
        async Task<StartSample> OneAsync(int index, double gap, string what)
        {
            if (gap > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(gap), ct);
            }
            var actualGap = (b.Recordings.Now - last).TotalSeconds;
            var up = b.Server.Surfaces().Chromium;
            var load = Proc.LoadAverage();
            var started = await b.Recordings.StartAsync(meeting.Id, 1280, 720, false, ct);
            await Task.Delay(TimeSpan.FromSeconds(s.RecordSeconds), ct);
            var done = await b.Recordings.StopAsync(started, ct);
            last = b.Recordings.Now;
            var sample = new StartSample(index, actualGap, up, started.LatencyMs, started.ClientMs, done.StopToUploadedMs, started.Phases, load);
            Console.WriteLine($"   {what,-14} gap {Bench.F(actualGap, "0.0")} s, {up} surfaces up, load {Bench.F(load)}: started_time - invoked_time {Bench.F(sample.LatencyMs, "0")} ms " +
                $"({started.Phases?.ToString() ?? "phases unknown"}; client saw it after {Bench.F(sample.ClientMs, "0")} ms); stop to UPLOADED {Bench.F(sample.StopToUploadedMs, "0")} ms ({done.Phases})");
            return sample;
        }

        var first = await OneAsync(0, 0, "first start");
        var spaced = new List<StartSample>();
        for (var i = 1; i <= s.LatencyStarts; i++)
        {
            spaced.Add(await OneAsync(i, s.Gap, $"start {i}/{s.LatencyStarts}"));
        }
        var burst = new List<StartSample>();
        for (var i = 1; i <= s.BackToBackStarts; i++)
        {
            burst.Add(await OneAsync(s.LatencyStarts + i, 0, $"no gap {i}/{s.BackToBackStarts}"));
        }
        return new LatencyResult(first, spaced, burst, s.Gap);
    }

    /// <summary>CPU of one session: a meeting with N participants, a recording at the size asked, the warm pool refilled
    /// (browser) and a warm-up, then the window; then stop, UPLOADED, download and count the frames. With
    /// <paramref name="janusBaseline"/>, Janus is first measured over a window of the same length with the meeting on
    /// and no recording, so that what the recording adds to Janus (its forwarding to the recorder: a subscriber's
    /// SRTP for the browser, plain RTP forwarders for the native compositor) is the difference of the two windows.
    /// On a native server the session is the compositor host alone (<see cref="SessionProcesses.Native"/>).</summary>
    public static async Task<CpuResult> CpuAsync(Bench b, int width, int height, int participants, CancellationToken ct, bool janusBaseline = false)
    {
        var s = b.Settings;
        var fps = b.Server.FrameRate;
        var native = b.Server.Native;
        var label = $"{width}x{height}@{fps}";
        var compositor = native ? "native" : "browser";
        Console.WriteLine($"== CPU {label}, {participants} participants, {compositor} compositor: {s.CpuWindow} s window after {(native ? "" : "the warm pool refills and ")}{s.Warmup} s of warm-up" +
            (janusBaseline ? $"; Janus over {s.CpuWindow} s without the recording first" : ""));
        await using var meeting = await Meeting.OpenAsync(b.Server, b.Api, b.Browsers, $"bench cpu {compositor} {label} {participants}", participants, ct);
        WindowCpu? idle = null;
        if (janusBaseline)
        {
            await Task.Delay(TimeSpan.FromSeconds(s.Warmup), ct);
            idle = await new SessionMeter(b.Server, []).RunAsync(s.CpuWindow, ct);
            Console.WriteLine($"   without recording: {JanusText(idle)}; {ContextText(idle)}");
        }
        var started = await b.Recordings.StartAsync(meeting.Id, width, height, false, ct);
        Console.WriteLine($"   recording {started.Id}: started_time - invoked_time {Bench.F(started.LatencyMs, "0")} ms ({started.Phases?.ToString() ?? "breakdown not logged"})");
        // A browser recording took a warm surface: the pool launches another (not the session's). A native one takes none.
        await b.Server.WaitSurfacesAsync(native ? 0 : 1, DateTime.UtcNow.AddSeconds(90), ct);
        await Task.Delay(TimeSpan.FromSeconds(s.Warmup), ct);

        var meter = new SessionMeter(b.Server, [started.Id], native);
        var window = await meter.RunAsync(s.CpuWindow, ct);
        var session = window.Sessions[started.Id];
        Console.WriteLine(native
            ? $"   session {Bench.F(session.Total)} core (compositor host); server {Bench.F(window.Server)}, participants {Bench.F(window.Participants)}, machine {Bench.F(window.Machine)} of {Environment.ProcessorCount} cores (others' processes {Bench.F(window.Others)}), load {Bench.F(window.Load)}"
            : $"   session {Bench.F(session.Total)} core (capture {Bench.F(session.Capture)}, Xvfb {Bench.F(session.Xvfb)}, Chromium {Bench.F(session.Chromium)} in {session.ChromiumProcesses} processes, " +
            $"PulseAudio {Bench.F(session.PulseShare)}); server {Bench.F(window.Server)}, participants {Bench.F(window.Participants)}, machine {Bench.F(window.Machine)} of {Environment.ProcessorCount} cores (others' processes {Bench.F(window.Others)}), load {Bench.F(window.Load)}");
        Console.WriteLine("   " + MemoryText(session));
        if (idle is not null)
        {
            Console.WriteLine($"   with recording: {JanusText(window)}; Janus's extra {Bench.F(CpuResult.JanusExtraOf(idle, window))} core; session + Janus's extra {Bench.F(session.Total + CpuResult.JanusExtraOf(idle, window))} core");
        }
        foreach (var m in meter.Missing)
        {
            Console.WriteLine("   warning: session processes not found: " + m);
        }

        var done = await b.Recordings.StopAsync(started, ct);
        var facts = await b.Recordings.ProbeAsync(done, decode: true, b.WorkDir, ct);
        var log = b.Recordings.CaptureLog(started.Id);
        Console.WriteLine($"   capture: {log.GrabText}; file {facts.Width}x{facts.Height}, {facts.Frames} frames in {Bench.F(facts.VideoDuration, "0.0")} s ({Bench.F(100 * facts.FrameRatio(fps), "0.0")}% of {fps} fps); stop to UPLOADED {Bench.F(done.StopToUploadedMs, "0")} ms");
        WarnCapture(log);
        return new CpuResult(label, width, height, fps, participants, started, window, session, log, done, facts, meter.Missing) { Native = native, JanusIdle = idle };
    }

    /// <summary>Concurrency: 1, 2, ... recordings at 1280x720 of one meeting at once (allow_multiple_recordings, so
    /// the participants' browsers stay the same at every level), each level for the window; goes on past sporadic
    /// misses and stops after the first level where a capture grabs less than 95% of its frames.</summary>
    public static Task<ConcurrencyResult> ConcurrencyAsync(Bench b, CancellationToken ct) =>
        ConcurrencyAsync(b, b.Settings.ConcurrencyParticipants, [.. Enumerable.Range(1, b.Settings.MaxLevel)], ct);

    /// <summary>The levels given, in order, of recordings at once of one meeting with <paramref name="participants"/>;
    /// on a native server (issue 13: a 2-participant meeting) each recording's session is its compositor host and no
    /// surface is taken from the warm pool.</summary>
    public static async Task<ConcurrencyResult> ConcurrencyAsync(Bench b, int participants, IReadOnlyList<int> ks, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(ks);
        var s = b.Settings;
        var fps = b.Server.FrameRate;
        var native = b.Server.Native;
        Console.WriteLine($"== concurrency{(native ? " (native compositor)" : "")}: {string.Join(", ", ks)} recordings at once of 1280x720@{fps}, one meeting with {participants} participant(s) " +
            $"(participants' browsers run on this machine too: kept to {participants}), {s.ConcurrencyWindow} s per level");
        await using var meeting = await Meeting.OpenAsync(b.Server, b.Api, b.Browsers, "bench concurrency", participants, ct);
        var levels = new List<LevelResult>();
        foreach (var k in ks)
        {
            await b.Server.WaitSurfacesAsync(0, DateTime.UtcNow.AddSeconds(90), ct);
            var starts = await Task.WhenAll(Enumerable.Range(0, k).Select(_ => b.Recordings.StartAsync(meeting.Id, 1280, 720, true, ct)));
            await b.Server.WaitSurfacesAsync(native ? 0 : k, DateTime.UtcNow.AddSeconds(120), ct);
            await Task.Delay(TimeSpan.FromSeconds(s.Warmup), ct);
            var ids = starts.Select(x => x.Id).ToList();
            var meter = new SessionMeter(b.Server, ids, native);
            var window = await meter.RunAsync(s.ConcurrencyWindow, ct);
            // A recording that ends ERRORED fails its level (it holds none of its frames), not the scenario.
            var delivered = await Task.WhenAll(starts.Select(async x =>
            {
                try
                {
                    return (Done: await b.Recordings.StopAsync(x, ct), Error: (string?)null);
                }
                catch (BenchException e)
                {
                    var why = System.Text.RegularExpressions.Regex.Match(e.Message, "\"error_message\":\"([^\"]*)\"");
                    return (Done: (Delivered?)null, Error: why.Success ? "ERRORED: " + why.Groups[1].Value : e.Message);
                }
            }));
            var recs = new List<LevelRecording>();
            for (var i = 0; i < k; i++)
            {
                var (done, error) = delivered[i];
                var facts = done is null ? FileFacts.None : await b.Recordings.ProbeAsync(done, decode: true, b.WorkDir, ct);
                recs.Add(new LevelRecording(ids[i], starts[i].LatencyMs, b.Recordings.CaptureLog(ids[i]), facts, window.Sessions[ids[i]], done?.StopToUploadedMs ?? double.NaN) { Error = error });
            }
            var level = new LevelResult(k, window, recs, meter.Missing);
            levels.Add(level);
            var problems = level.Problems(fps);
            Console.WriteLine($"   {k} at once: sessions {Bench.F(window.SessionsTotal)} core ({Bench.F(window.SessionsTotal / k)} each), participants {Bench.F(window.Participants)}, " +
                $"server {Bench.F(window.Server)}, machine {Bench.F(window.Machine)} of {Environment.ProcessorCount} cores (others' processes {Bench.F(window.Others)}), load {Bench.F(window.Load)}");
            foreach (var (r, i) in recs.Select((r, i) => (r, i)))
            {
                if (r.Error is { } error)
                {
                    Console.WriteLine($"     #{i + 1} {r.Id[..8]}: NO FILE: {error}");
                }
                Console.WriteLine($"     #{i + 1} {r.Id[..8]}: start {Bench.F(r.LatencyMs, "0")} ms, capture {r.Log.GrabText}, " +
                    $"file {r.Facts.Frames} frames / {Bench.F(r.Facts.VideoDuration, "0.0")} s = {Bench.F(100 * r.Facts.FrameRatio(fps), "0.0")}%, session {Bench.F(r.Cpu.Total)} core, {MemoryText(r.Cpu)}, stop to UPLOADED {Bench.F(r.StopToUploadedMs, "0")} ms");
                WarnCapture(r.Log);
            }
            foreach (var m in meter.Missing)
            {
                Console.WriteLine("     warning: session processes not found: " + m);
            }
            Console.WriteLine(problems.Count == 0 ? $"   {k} at once: every file and every capture at >= {Bench.FrameCheckPercent}% of its frames"
                : $"   {k} at once: frames missing (worst recording lost {Bench.F(100 * level.WorstLoss(fps), "0.0")}%): {string.Join("; ", problems)}");
            if (level.Overloaded(fps))
            {
                // A capture grabbed less than 95% of its frames: more recordings at once would only lose more.
                break;
            }
        }
        return new ConcurrencyResult(participants, b.Server.Slots, levels, fps) { Native = native };
    }

    /// <summary>A long recording at 1280x720 of a custom <c>url</c> page (<see cref="SyncPage"/>: flashes and beeps
    /// together) while a meeting with 2 participants goes on: its session CPU and memory over the whole recording,
    /// the time from the stop request to UPLOADED, the delivered file's frames, and the sound/picture offsets of its
    /// first and last <see cref="Settings.SyncWindow"/> seconds.</summary>
    public static async Task<LongResult> LongAsync(Bench b, CancellationToken ct)
    {
        var s = b.Settings;
        var fps = b.Server.FrameRate;
        await using var page = SyncPage.Start();
        Console.WriteLine($"== long recording: 1280x720@{fps} of the flash+beep page {page.Url} (custom url), a meeting with 2 participants, {s.LongSeconds} s, then stop to UPLOADED; " +
            $"sound/picture offsets of the first and last {s.SyncWindow} s");
        await using var meeting = await Meeting.OpenAsync(b.Server, b.Api, b.Browsers, "bench long", 2, ct);
        var started = await b.Recordings.StartAsync(meeting.Id, 1280, 720, false, ct, page.Url);
        Console.WriteLine($"   recording {started.Id}: started_time - invoked_time {Bench.F(started.LatencyMs, "0")} ms ({started.Phases?.ToString() ?? "breakdown not logged"}); recording for {s.LongSeconds} s");
        await b.Server.WaitSurfacesAsync(1, DateTime.UtcNow.AddSeconds(90), ct);
        var meter = new SessionMeter(b.Server, [started.Id]);
        var window = await meter.RunAsync(Math.Max(5, s.LongSeconds - (b.Recordings.Now - started.ClientAt).TotalSeconds), ct);
        var session = window.Sessions[started.Id];
        var done = await b.Recordings.StopAsync(started, ct);
        var log = b.Recordings.CaptureLog(started.Id);
        Console.WriteLine($"   stop answered {done.StopAnswer} after {Bench.F(done.StopAnswerMs, "0")} ms; UPLOADED {Bench.F(done.StopToUploadedMs, "0")} ms after the stop request ({done.Phases})");
        var file = await Recordings.DownloadAsync(done, b.WorkDir, ct);
        FileFacts facts;
        SyncResult? sync = null;
        try
        {
            facts = await FileFacts.ProbeAsync(file, decode: false, ct);
            Console.WriteLine($"   file {Bench.F(facts.Size / 1048576.0, "0.0")} MiB, {Bench.F(facts.Duration, "0.0")} s (API: recording_duration {done.View.Duration} s, file_size {done.View.FileSize}); " +
                $"{facts.Frames} frames ({Bench.F(100 * facts.FrameRatio(fps), "0.0")}% of {fps} fps); capture {log.GrabText}; " +
                $"session {Bench.F(session.Total)} core over {Bench.F(window.Seconds, "0")} s, {MemoryText(session)}; machine {Bench.F(window.Machine)} of {Environment.ProcessorCount} cores, load {Bench.F(window.Load)}");
            WarnCapture(log);
            Console.WriteLine($"   the page was requested {page.Requests} time(s)");
            try
            {
                sync = await SyncPage.MeasureEndsAsync(file, facts.Duration, s.SyncWindow, b.WorkDir, ct);
                Console.WriteLine($"   sound - picture, first {Bench.F(sync.WindowSeconds, "0")} s: {SyncResult.Text(sync.Start)}");
                Console.WriteLine($"   sound - picture, last {Bench.F(sync.WindowSeconds, "0")} s:  {SyncResult.Text(sync.End)}; drift {Bench.F(sync.DriftMs, "+0;-0")} ms over {Bench.F(facts.Duration, "0")} s; load {Bench.F(Proc.LoadAverage())}");
            }
            catch (BenchException e)
            {
                Console.WriteLine("   " + e.Message);
            }
        }
        finally
        {
            File.Delete(file);
        }
        return new LongResult(done.RecordedSeconds, started, window, session, log, done, facts, sync);
    }

    /// <summary>The layers of the track scenario: Opus audio in <c>default</c>, VP8 video in <c>camera</c>.</summary>
    public static IReadOnlyList<TrackLayer> TrackLayers { get; } = [new("default", "audio"), new("camera", "video", "cam")];

    /// <summary>Track recording: a meeting with N participants; Janus over a window with no recording, then a track
    /// recording (audio and video layers) over a window of the same length; stop, wait UPLOADED; download every file,
    /// probe each (codec, container, duration against the recorded length) and the mean volume of one audio file.</summary>
    public static async Task<TrackResult> TrackAsync(Bench b, int participants, CancellationToken ct)
    {
        var s = b.Settings;
        Console.WriteLine($"== track recording, {participants} participants: Janus for {s.TrackWindow} s without a recording, then {s.TrackWindow} s with a track recording " +
            $"({string.Join(" + ", TrackLayers.Select(l => $"{l.Name}: {l.MediaKind}"))}); stop to UPLOADED; every file probed");
        await using var meeting = await Meeting.OpenAsync(b.Server, b.Api, b.Browsers, $"bench track {participants}", participants, ct);
        await Task.Delay(TimeSpan.FromSeconds(s.Warmup), ct);

        var idle = await new SessionMeter(b.Server, []).RunAsync(s.TrackWindow, ct);
        Console.WriteLine($"   without recording: {JanusText(idle)}; {ContextText(idle)}");
        var started = await b.Recordings.StartTrackAsync(meeting.Id, TrackLayers, ct);
        Console.WriteLine($"   recording {started.Id}: started_time - invoked_time {Bench.F(started.LatencyMs, "0")} ms (client saw RECORDING {Bench.F(started.ClientMs, "0")} ms after sending the start)");
        var rec = await new SessionMeter(b.Server, []).RunAsync(s.TrackWindow, ct);
        // What Janus has written so far (the folder is deleted once the recording is delivered).
        var mjr = new DirectoryInfo(Path.Combine(b.Server.DataDir, "janus", "recordings", started.Id));
        var mjrFiles = mjr.Exists ? mjr.GetFiles("*.mjr") : [];
        var mjrBytes = mjrFiles.Sum(f => f.Length);
        Console.WriteLine($"   with recording:    {JanusText(rec)}; {ContextText(rec)}; {mjrFiles.Length} .mjr files, {Bench.F(mjrBytes / 1048576.0, "0.0")} MiB written");
        var problems = new List<string>();
        if (idle.Janus is null || rec.Janus is null || idle.Janus.Pid != rec.Janus.Pid)
        {
            problems.Add("Janus was not found, or restarted, during the windows");
        }

        var done = await b.Recordings.StopAsync(started, ct);
        Console.WriteLine($"   stop answered {done.StopAnswer} after {Bench.F(done.StopAnswerMs, "0")} ms; UPLOADED {Bench.F(done.StopToUploadedMs, "0")} ms after the stop request ({done.Phases.ToolsText()})");

        // The files: every layer's, downloaded; the manifest says whose each is and how long the recording was on.
        var links = done.View.LayerFiles();
        if (links.Count == 0)
        {
            throw new BenchException($"track recording {started.Id} is UPLOADED without layers in download_url: {done.View.Raw.ToJsonString()}");
        }
        var dir = Path.Combine(b.WorkDir, "track-" + started.Id[..8]);
        try
        {
            var local = new Dictionary<LayerFile, string>();
            foreach (var l in links)
            {
                local[l] = await Download.ToFileAsync(l.Url, dir, ct, Path.GetExtension(l.Name));
            }
            var manifestLink = links.FirstOrDefault(l => l.Name == "manifest.json") ?? throw new BenchException($"track recording {started.Id}: no manifest.json among its files");
            var manifest = JsonNode.Parse(await File.ReadAllTextAsync(local[manifestLink], ct))!;
            var recorded = manifest["recorded"]!.AsArray().Sum(i => i!["end_ms"]!.GetValue<long>() - i["start_ms"]!.GetValue<long>()) / 1000.0;
            var entries = manifest["files"]!.AsArray().ToDictionary(e => e!["file_name"]!.GetValue<string>(), e => e!);

            var files = new List<TrackFile>();
            foreach (var (l, path) in local.Where(x => x.Key.Name != "manifest.json"))
            {
                if (!entries.TryGetValue(l.Name, out var entry))
                {
                    problems.Add($"{l.Name} is not in the manifest");
                    continue;
                }
                var facts = await TrackFileFacts.ProbeAsync(path, ct);
                var file = new TrackFile(l.Layer, l.Name, entry["user_id"]!.GetValue<string>(), entry["media_kind"]!.GetValue<string>(), new FileInfo(path).Length, facts, facts.Duration - recorded);
                files.Add(file);
                var (type, codec) = file.MediaKind == "audio" ? ("audio", "opus") : ("video", "vp8");
                if (facts.CodecType != type || facts.Codec != codec || !facts.Format.Contains("webm", StringComparison.Ordinal) || facts.Packets <= 0)
                {
                    problems.Add($"{l.Name}: {facts.Format} with {facts.CodecType} {facts.Codec}, {facts.Packets} packets (expected WebM with {type} {codec})");
                }
                if (!(Math.Abs(file.DiffSeconds) <= TrackResult.DurationTolerance))
                {
                    problems.Add($"{l.Name}: {Bench.F(facts.Duration)} s for {Bench.F(recorded)} s recorded ({(file.DiffSeconds >= 0 ? "+" : "")}{Bench.F(file.DiffSeconds)} s)");
                }
                if (entry["size"]!.GetValue<long>() != file.Size)
                {
                    problems.Add($"{l.Name}: {file.Size} bytes, the manifest says {entry["size"]}");
                }
            }
            var peers = files.GroupBy(f => (f.UserId, Peer: entries[f.Name]["peer_id"]!.GetValue<string>()))
                .Select(g => new TrackPeer(g.Key.UserId, g.Key.Peer, g.Count(), g.Where(f => f.MediaKind == "audio").Sum(f => f.Size), g.Where(f => f.MediaKind == "video").Sum(f => f.Size)))
                .OrderBy(p => p.UserId, StringComparer.Ordinal).ToList();
            foreach (var name in meeting.Names.Select(n => n.ToLowerInvariant()))
            {
                var mine = files.Where(f => f.UserId == name).ToList();
                if (!mine.Any(f => f.MediaKind == "audio") || !mine.Any(f => f.MediaKind == "video"))
                {
                    problems.Add($"{name} has {mine.Count} file(s): {string.Join(", ", mine.Select(f => f.MediaKind))} (expected audio and video)");
                }
            }
            if (done.View.FileSize is { } apiSize && apiSize != files.Sum(f => f.Size))
            {
                problems.Add($"file_size {apiSize} is not the files' {files.Sum(f => f.Size)} bytes");
            }
            var audio = files.FirstOrDefault(f => f.MediaKind == "audio");
            var volume = audio is null ? double.NaN : await TrackFileFacts.MeanVolumeAsync(local.First(x => x.Key.Name == audio.Name).Value, ct);
            if (audio is not null && !(volume > -50))
            {
                problems.Add($"{audio.Name} is silent (mean volume {Bench.F(volume, "0.0")} dB)");
            }

            var result = new TrackResult(participants, idle, rec, started, done, recorded, mjrFiles.Length, mjrBytes, peers, files, volume, problems);
            Console.WriteLine($"   recorded {Bench.F(recorded)} s (manifest; API recording_duration {done.View.Duration} s): {files.Count} WebM files + manifest.json in {links.Select(l => l.Layer).Distinct().Count()} layers, " +
                $"{Bench.F(result.MediaBytes / 1048576.0)} MiB ({Bench.F(result.BytesPerMinute / 1048576.0)} MiB per minute of recording); stop to UPLOADED / recorded length = {Bench.F(result.StopRatio, "0.000")}");
            foreach (var p in peers)
            {
                Console.WriteLine($"     {p.UserId} (peer {p.PeerId[..8]}): {p.Files} files, audio {Bench.F(p.AudioBytes / 1024.0, "0")} KiB + video {Bench.F(p.VideoBytes / 1048576.0)} MiB " +
                    $"= {Bench.F(p.Bytes / 1048576.0)} MiB ({Bench.F(p.Bytes / 1048576.0 / (recorded / 60))} MiB/min)");
            }
            foreach (var f in files.OrderBy(f => f.UserId, StringComparer.Ordinal).ThenBy(f => f.MediaKind, StringComparer.Ordinal))
            {
                var video = f.MediaKind == "video" ? $", {f.Facts.Width}x{f.Facts.Height}, {f.Facts.Packets} frames = {Bench.F(f.Facts.Packets / f.Facts.Duration, "0.0")} fps" : $", {f.Facts.Packets} packets";
                Console.WriteLine($"     {f.UserId} {f.MediaKind}: {f.Facts.Codec} in {f.Facts.Format}, {Bench.F(f.Facts.Duration)} s ({(f.DiffSeconds >= 0 ? "+" : "")}{Bench.F(f.DiffSeconds)} s against the recorded length){video}");
            }
            Console.WriteLine($"   {audio?.UserId ?? "-"}'s audio: mean volume {Bench.F(volume, "0.0")} dB; Janus CPU with / without recording = {Bench.F(result.JanusCpuRatio)}");
            Console.WriteLine(problems.Count == 0 ? $"   files ok: Opus and VP8 in WebM, every duration within {TrackResult.DurationTolerance} s of the recorded length"
                : "   FILE PROBLEMS: " + string.Join("; ", problems));
            return result;
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static string JanusText(WindowCpu w) => w.Janus is { } j
        ? $"Janus {Bench.F(100 * j.Cpu, "0.0")}% of one core, RSS {Bench.F(j.RssMeanMb, "0.0")} MiB (peak {Bench.F(j.RssPeakMb, "0.0")})"
        : "Janus not found";

    private static string ContextText(WindowCpu w) =>
        $"server {Bench.F(100 * w.Server, "0.0")}%, participants {Bench.F(w.Participants)}, machine {Bench.F(w.Machine)} of {Environment.ProcessorCount} cores (others' processes {Bench.F(w.Others)}), load {Bench.F(w.Load)}";

    /// <summary>Peak memory of a session (sums over its processes, sampled once a second).</summary>
    private static string MemoryText(SessionCpu c) =>
        $"memory peak PSS {Bench.F(c.PeakPssMb, "0")} MiB (RSS sum {Bench.F(c.PeakRssMb, "0")}; capture RSS {Bench.F(c.CapturePeakRssMb, "0")} MiB)";

    private static void WarnCapture(CaptureLog log)
    {
        if (log.Restarts > 0)
        {
            Console.WriteLine($"   note: the capture restarted {log.Restarts} time(s) ({log.Segments.Count} segments)");
        }
        foreach (var w in log.Warnings.Distinct().Take(3))
        {
            Console.WriteLine("   capture: " + w);
        }
    }
}
