using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Capstan.Testing;

/// <summary>Sound-and-picture sync, measured from a delivered file. The source flashes white and plays a 1 kHz tone
/// at the same instants, at uneven intervals (so that a flash cannot be paired with the wrong tone): a page for the
/// custom <c>url</c> path (<see cref="PageHtml"/>), or a participant's fake camera and microphone
/// (<see cref="WriteFakeCaptureAsync"/>). <see cref="MeasureAsync"/> finds the flash onsets from each frame's mean
/// luma and the tone onsets from the audio's energy (on the audio's sample count, the way a player plays it), and
/// pairs them. Shared by the media tests and bench/recorder.</summary>
public static class AvSync
{
    /// <summary>Seconds between events, repeated: one cycle is <see cref="CycleSeconds"/>.</summary>
    public static readonly IReadOnlyList<double> Intervals = [0.7, 1.3, 0.9, 1.6, 1.1, 0.8, 1.4, 1.0];

    /// <summary>How long each flash and each tone lasts.</summary>
    public const double EventSeconds = 0.1;

    /// <summary>Where the first event of a cycle falls in the fake capture files.</summary>
    public const double FirstEventSeconds = 0.5;

    public static double CycleSeconds => Intervals.Sum();

    /// <summary>The event instants of one cycle of the fake capture files.</summary>
    public static IReadOnlyList<double> CycleEvents()
    {
        var list = new List<double>();
        var t = FirstEventSeconds;
        foreach (var i in Intervals)
        {
            list.Add(t);
            t += i;
        }
        return list;
    }

    /// <summary>A page that flashes and beeps together. The tone is scheduled on the audio clock; the flash is shown
    /// while that instant is being played (<c>AudioContext.getOutputTimestamp</c> maps the audio clock to the page's
    /// clock), so the page's own output is in sync whatever its audio latency. Each flash's wall-clock instant is
    /// kept in <c>window.capstanSync.flashes</c> and, when the page is opened with <c>?report=URL</c>, sent there as
    /// <c>?flash=EPOCH_MS</c>.</summary>
    public static string PageHtml { get; } = $$"""
        <!doctype html><html><body style="margin:0;background:#000;overflow:hidden">
        <div id="f" style="position:fixed;left:0;top:0;right:0;bottom:0;background:#fff;visibility:hidden"></div>
        <script>
        const intervals = [{{string.Join(",", Intervals.Select(i => i.ToString(CultureInfo.InvariantCulture)))}}];
        const report = new URLSearchParams(location.search).get('report');
        const ctx = new AudioContext();
        const gain = ctx.createGain(); gain.gain.value = 0; gain.connect(ctx.destination);
        const osc = ctx.createOscillator(); osc.frequency.value = 1000; osc.connect(gain); osc.start();
        const flash = document.getElementById('f');
        const pending = []; let next = null, i = 0, shown = null;
        window.capstanSync = { flashes: [] };
        function frame() {
          if (next === null && ctx.state === 'running') next = ctx.currentTime + 0.5;
          if (next !== null) {
            while (next < ctx.currentTime + 1.0) {
              gain.gain.setValueAtTime(0.8, next); gain.gain.setValueAtTime(0, next + {{EventSeconds.ToString(CultureInfo.InvariantCulture)}});
              pending.push(next); next += intervals[i++ % intervals.length];
            }
            const ts = ctx.getOutputTimestamp();
            const playing = ts.contextTime + (performance.now() - ts.performanceTime) / 1000;
            let on = null;
            for (const t of pending) if (playing >= t && playing < t + {{EventSeconds.ToString(CultureInfo.InvariantCulture)}}) on = t;
            while (pending.length && pending[0] + 1 < playing) pending.shift();
            flash.style.visibility = on !== null ? 'visible' : 'hidden';
            if (on !== null && on !== shown) {
              shown = on;
              const at = Date.now() - (playing - on) * 1000;
              window.capstanSync.flashes.push(at);
              if (report) fetch(report + (report.includes('?') ? '&' : '?') + 'flash=' + Math.round(at), { mode: 'no-cors' }).catch(() => {});
            }
          }
          requestAnimationFrame(frame);
        }
        requestAnimationFrame(frame);
        </script></body></html>
        """;

    /// <summary>Writes one cycle of flash+beep as a Y4M video and a WAV file for Chromium's
    /// <c>--use-file-for-fake-video-capture</c> and <c>--use-file-for-fake-audio-capture</c> (both loop, and both
    /// are exactly one cycle long, so they stay together).</summary>
    public static async Task WriteFakeCaptureAsync(string y4m, string wav, int width = 320, int height = 180, int fps = 30)
    {
        var events = CycleEvents();
        var on = string.Join("+", events.Select(e => $"between(t\\,{F(e)}\\,{F(e + EventSeconds - 0.001)})"));
        var cycle = F(CycleSeconds);
        await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", $"color=c=black:s={width}x{height}:r={fps}:d={cycle}",
            "-vf", $"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='{on}'", "-pix_fmt", "yuv420p", y4m]);
        var tone = string.Join("+", events.Select(e => $"between(t,{F(e)},{F(e + EventSeconds)})"));
        await RunAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
            $"aevalsrc='0.7*sin(2*PI*1000*t)*({tone})':s=48000:d={cycle}", "-ac", "1", "-c:a", "pcm_s16le", wav]);
    }

    /// <summary>A script for a page that holds the flash+beep source's own tracks (a participant's fake camera and
    /// microphone): given the tracks, it reads their raw frames and samples (<c>MediaStreamTrackProcessor</c>) and keeps
    /// the flash onsets (mean luma) and the tone onsets (energy) on their capture timestamps, in microseconds, in
    /// <c>window.capstanSource</c>. The sender stamps its RTP from the same capture times, so this is the source's own
    /// sound-to-picture offset, event by event: what a perfect recorder would reproduce (<see cref="SyncReport.Against"/>).
    /// <para>Why it is needed: Chromium's fake camera, reading the .y4m on a timer, skips frames when its process is
    /// starved and then shows each flash a frame or more late, while its fake microphone keeps time; measured on this
    /// 2-core machine during a meeting recording, the source itself went from +20 ms to -120 ms and to -220 ms in 25 s.
    /// Audio timestamps are on the page's clock (<c>performance.now</c>), video ones on the monotonic clock: the video
    /// ones are moved onto the page's clock by the smallest capture-to-script delay seen (<c>videoLag</c>, under a
    /// millisecond).</para></summary>
    public const string SourceProbeJs = """
        (tracks) => {
          const out = window.capstanSource = { flashes: [], tones: [], videoLag: 1e15, audioLag: 1e15 };
          const read = async (track, each) => {
            const reader = new MediaStreamTrackProcessor({ track: track.clone() }).readable.getReader();
            for (;;) { const { value, done } = await reader.read(); if (done) return; try { await each(value); } finally { value.close(); } }
          };
          let lit = false, lastLit = -1e12, loud = false, lastLoud = -1e12;
          for (const t of tracks) {
            if (t.kind === 'video') read(t, async (f) => {
              out.videoLag = Math.min(out.videoLag, performance.now() * 1000 - f.timestamp);
              const buf = new Uint8Array(f.allocationSize());
              await f.copyTo(buf);
              const n = f.visibleRect.width * f.visibleRect.height;
              let sum = 0, c = 0;
              for (let i = 0; i < n; i += 16) { sum += buf[i]; c++; }
              const on = sum / c > 128, t = f.timestamp;
              if (on && !lit && t - lastLit > 250000) out.flashes.push(t);
              if (on) lastLit = t; lit = on;
            });
            if (t.kind === 'audio') read(t, (a) => {
              out.audioLag = Math.min(out.audioLag, performance.now() * 1000 - a.timestamp);
              const n = a.numberOfFrames, pcm = new Float32Array(n);
              a.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
              const w = Math.max(1, Math.round(a.sampleRate / 500));
              for (let i = 0; i + w <= n; i += w) {
                let e = 0; for (let k = i; k < i + w; k++) e += pcm[k] * pcm[k];
                const t = a.timestamp + (i / a.sampleRate) * 1e6, on = Math.sqrt(e / w) > 0.1;
                if (on && !loud && t - lastLoud > 250000) out.tones.push(t);
                if (on) lastLoud = t; loud = on;
              }
            });
          }
        }
        """;

    /// <summary>Flash and tone onsets in <paramref name="file"/>, paired (see <see cref="SyncReport"/>). Times are
    /// seconds from the file's start. Only the region <paramref name="crop"/> (x, y, w, h) is looked at for
    /// flashes when given.</summary>
    public static async Task<SyncReport> MeasureAsync(string file, (int X, int Y, int W, int H)? crop = null)
    {
        var start = double.Parse((await RunAsync("ffprobe", ["-v", "error", "-show_entries", "format=start_time", "-of", "csv=p=0", file])).Trim(), CultureInfo.InvariantCulture);
        var flashes = await FlashOnsetsAsync(file, crop);
        var tones = await ToneOnsetsAsync(file, start);
        return SyncReport.Pair(flashes, tones);
    }

    // ffmpeg's filters see the input's times less the file's start time: already seconds from the file's start.
    private static async Task<List<double>> FlashOnsetsAsync(string file, (int X, int Y, int W, int H)? crop)
    {
        var region = crop is { } c ? $"crop={c.W}:{c.H}:{c.X}:{c.Y}," : string.Empty;
        var text = await RunAsync("ffmpeg", ["-hide_banner", "-nostats", "-i", file, "-an", "-vf",
            $"{region}scale=64:36,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-", "-f", "null", "-"]);
        var frames = new List<(double T, double Y)>();
        double? t = null;
        foreach (var line in text.Split('\n'))
        {
            var p = line.IndexOf("pts_time:", StringComparison.Ordinal);
            if (p >= 0)
            {
                t = double.Parse(line[(p + 9)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
            var y = line.IndexOf("YAVG=", StringComparison.Ordinal);
            if (y >= 0 && t is { } at)
            {
                frames.Add((at, double.Parse(line[(y + 5)..].Trim(), CultureInfo.InvariantCulture)));
            }
        }
        if (frames.Count == 0)
        {
            return [];
        }
        var lo = Percentile(frames.Select(f => f.Y), 0.05);
        var hi = frames.Max(f => f.Y);
        return hi - lo < 20 ? [] : Onsets(frames, (lo + hi) / 2);
    }

    private static async Task<List<double>> ToneOnsetsAsync(string file, double start)
    {
        var audioStart = (await RunAsync("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=start_time", "-of", "csv=p=0", file])).Trim();
        if (audioStart.Length == 0)
        {
            return [];
        }
        var a0 = double.Parse(audioStart, CultureInfo.InvariantCulture) - start;
        // The samples as played: decoded in order, timed by their count from the stream's start.
        var pcm = await RunBytesAsync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-i", file, "-vn", "-af", "highpass=f=700,lowpass=f=1400",
            "-ac", "1", "-ar", "48000", "-f", "s16le", "-"]);
        const int Window = 96; // 2 ms
        var levels = new List<(double T, double Y)>();
        for (var i = 0; i + 2 * Window <= pcm.Length; i += 2 * Window)
        {
            double e = 0;
            for (var k = 0; k < Window; k++)
            {
                var v = (short)(pcm[i + 2 * k] | (pcm[i + 2 * k + 1] << 8));
                e += (double)v * v;
            }
            levels.Add((a0 + i / 2 / 48000.0, 10 * Math.Log10(e / Window + 1)));
        }
        if (levels.Count == 0)
        {
            return [];
        }
        var floor = Percentile(levels.Select(l => l.Y), 0.5);
        var peak = levels.Max(l => l.Y);
        return peak - floor < 15 ? [] : Onsets(levels, (floor + peak) / 2);
    }

    /// <summary>Rising crossings of <paramref name="threshold"/> after at least 0.25 s below it.</summary>
    private static List<double> Onsets(List<(double T, double Y)> series, double threshold)
    {
        var onsets = new List<double>();
        var lastAbove = double.NegativeInfinity;
        var wasAbove = false;
        foreach (var (t, y) in series)
        {
            var above = y > threshold;
            if (above && !wasAbove && t - lastAbove > 0.25)
            {
                onsets.Add(t);
            }
            if (above)
            {
                lastAbove = t;
            }
            wasAbove = above;
        }
        return onsets;
    }

    private static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Clamp(Math.Round(q * (sorted.Count - 1)), 0, sorted.Count - 1)];
    }

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    private static async Task<string> RunAsync(string tool, string[] args) => Encoding.UTF8.GetString(await RunBytesAsync(tool, args));

    private static async Task<byte[]> RunBytesAsync(string tool, string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        using var output = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
        var error = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} did not finish in 5 minutes");
        }
        await copy;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({p.ExitCode}): {await error}");
        }
        return output.ToArray();
    }
}

/// <summary>One flash and the tone paired with it (the nearest tone within 0.45 s); the offset is tone minus flash:
/// negative when the sound runs ahead of the picture.</summary>
public sealed record SyncEvent(double Flash, double Tone)
{
    public double OffsetMs => (Tone - Flash) * 1000;
}

/// <summary>What <see cref="AvSync.MeasureAsync"/> found.</summary>
public sealed record SyncReport(IReadOnlyList<double> Flashes, IReadOnlyList<double> Tones, IReadOnlyList<SyncEvent> Pairs)
{
    public double MedianMs => Pairs.Count == 0 ? double.NaN : Median(Pairs.Select(p => p.OffsetMs));

    public double MaxAbsMs => Pairs.Count == 0 ? double.NaN : Pairs.Max(p => Math.Abs(p.OffsetMs));

    /// <summary>This report without the flashes, tones and pairs from <paramref name="before"/> seconds before to
    /// <paramref name="after"/> seconds after <paramref name="at"/>: a join of segments, known roughly. A flash or a
    /// tone that a pause cut into goes on at the join, half of it: an onset the source never made, and its partner
    /// may be anywhere (seen: a tone at the join, 0.2 s before the flash it was paired with).</summary>
    public SyncReport Without(double at, double before, double after)
    {
        bool Near(double t) => t >= at - before && t <= at + after;
        return new SyncReport([.. Flashes.Where(t => !Near(t))], [.. Tones.Where(t => !Near(t))], [.. Pairs.Where(p => !Near(p.Flash) && !Near(p.Tone))]);
    }

    /// <summary>Median offset of the first and of the last <paramref name="n"/> pairs: a drift shows as a difference.</summary>
    public (double First, double Last) Ends(int n) =>
        Pairs.Count == 0 ? (double.NaN, double.NaN) : (Median(Pairs.Take(n).Select(p => p.OffsetMs)), Median(Pairs.TakeLast(n).Select(p => p.OffsetMs)));

    /// <summary>This report (a recorded file's) measured against <paramref name="source"/>'s (the same flash+beep
    /// events where they were captured, <see cref="AvSync.SourceProbeJs"/>): the file's flashes are matched to the
    /// source's by their uneven spacing (one shift of the timelines, each within 0.1 s: events are at least 0.7 s apart), and each pair's offset
    /// becomes the file's offset less the source's for that event. What is left is what the recording path (Janus,
    /// the recorder, the capture) added; pairs with no source event are dropped.
    /// <para><paramref name="near"/>: where the file's time 0 sits on the source's clock, roughly (seconds; from the
    /// recording's <c>started_time</c> and the page's <c>performance.timeOrigin</c>, good to about a second). The events
    /// repeat every <see cref="AvSync.CycleSeconds"/>, and the source's own offset drifts (a starved fake camera), so
    /// a shift a whole cycle off can match as many events as the right one and compare each with another cycle's
    /// offset; with <paramref name="near"/> only shifts within half a cycle of it are tried.</para></summary>
    public SyncReport Against(SyncReport source, double? near = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var shift = ShiftTo(source, near);
        var pairs = new List<SyncEvent>();
        foreach (var p in Pairs)
        {
            var match = source.Pairs.MinBy(q => Math.Abs(q.Flash - p.Flash - shift));
            if (match is not null && Math.Abs(match.Flash - p.Flash - shift) <= MatchTolerance)
            {
                pairs.Add(new SyncEvent(p.Flash, p.Flash + ((p.OffsetMs - match.OffsetMs) / 1000)));
            }
        }
        return new SyncReport(Flashes, Tones, pairs);
    }

    /// <summary>This report's pairs of which the source (<see cref="Against"/>'s) holds neither the flash nor the
    /// tone: events the file has and the participant never made, where a wrong alignment or a spurious onset shows.
    /// A pair <see cref="Against"/> leaves out for want of the source's pair is not one of them when the source saw
    /// one half: the page's probe drops frames when the participant's browser is starved (measured in a loaded run:
    /// a flash and, 8 s later, a tone missing at the source that the file held).</summary>
    public IReadOnlyList<SyncEvent> NotAtSource(SyncReport source, double? near = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var shift = ShiftTo(source, near);
        bool Near(IReadOnlyList<double> at, double t, double within) => at.Any(x => Math.Abs(x - t - shift) <= within);
        // A tone may sit up to the subscription's settling offset (450 ms) from where the source's was, less the
        // source's own offset: 0.3 s, under half the 0.7 s between events.
        return [.. Pairs.Where(p => !Near(source.Flashes, p.Flash, MatchTolerance) && !Near(source.Tones, p.Tone, 0.3))];
    }

    /// <summary>How far a file's flash may sit from the source's once the timelines are shifted (events are at least
    /// 0.7 s apart).</summary>
    private const double MatchTolerance = 0.1;

    /// <summary>The shift of the timelines (source time less file time) that puts the most of this report's flashes
    /// within <see cref="MatchTolerance"/> of the source's paired ones, then the smallest residuals; tried from each of
    /// the first four pairs against each of the source's, within half a cycle of <paramref name="near"/> when given.</summary>
    private double ShiftTo(SyncReport source, double? near)
    {
        var best = (Shift: 0.0, Matches: -1, Residual: double.MaxValue);
        foreach (var f in Pairs.Take(4))
        {
            foreach (var s in source.Pairs)
            {
                var shift = s.Flash - f.Flash;
                if (near is { } n && Math.Abs(shift - n) > AvSync.CycleSeconds / 2)
                {
                    continue;
                }
                var residuals = Pairs.Select(p => source.Pairs.Min(q => Math.Abs(q.Flash - p.Flash - shift))).Where(r => r <= MatchTolerance).ToList();
                if (residuals.Count > best.Matches || (residuals.Count == best.Matches && residuals.Sum() < best.Residual))
                {
                    best = (shift, residuals.Count, residuals.Sum());
                }
            }
        }
        return best.Shift;
    }

    /// <summary>Pairs each flash with the tone of the same event. Events are at least 0.7 s apart, so the pairing
    /// takes one shift common to the whole (a sound-to-picture offset within +-0.6 s: the one that pairs the most
    /// flashes within 0.3 s of it, then the one with the smallest residuals), then each flash with the unused tone
    /// nearest to flash + shift, within 0.3 s. Pairing by nearest tone alone mistakes a steady offset of 0.35 s or more
    /// (a starved fake camera's, measured to -485 ms) for events half an interval away; pairs that drift more than
    /// 0.3 s from the common shift are left out, which the tests count.</summary>
    public static SyncReport Pair(IReadOnlyList<double> flashes, IReadOnlyList<double> tones)
    {
        ArgumentNullException.ThrowIfNull(flashes);
        ArgumentNullException.ThrowIfNull(tones);
        const double MaxShift = 0.6;
        var chosen = new List<SyncEvent>();
        var residual = double.MaxValue;
        foreach (var shift in flashes.SelectMany(f => tones.Select(t => t - f)).Where(d => Math.Abs(d) <= MaxShift).Append(0.0))
        {
            var pairs = PairFrom(flashes, tones, shift);
            var r = pairs.Sum(p => Math.Abs(p.Tone - p.Flash - shift));
            if (pairs.Count > chosen.Count || (pairs.Count == chosen.Count && r < residual))
            {
                (chosen, residual) = (pairs, r);
            }
        }
        return new SyncReport(flashes, tones, chosen);
    }

    /// <summary>Pairs each flash with its tone, following a source whose own offset drifts: the participant's fake
    /// camera (<see cref="SourceProbeJs"/>), which when starved falls behind its microphone, measured in CI runs from 0
    /// to -610 ms over 40 s with a step of 220 ms, and from -156 to -584 ms in one step of 428 ms. One shift common to
    /// the whole (<see cref="Pair"/>) leaves out the events more than 0.3 s from it: there, the first four, which then
    /// could not be found for the file's first events. Here the first offset is <see cref="Pair"/>'s median over the
    /// first 8 s, and each flash then takes, of the unused tones from 0.9 s before it to 0.3 s after it (a lagging
    /// camera's flash comes after its tone), the one nearest to it plus the offset of the event before (events are at
    /// least 0.7 s apart, so a step of up to 0.35 s either way, and a lag that grows by more, keep to their own).</summary>
    public static SyncReport PairFollowing(IReadOnlyList<double> flashes, IReadOnlyList<double> tones)
    {
        ArgumentNullException.ThrowIfNull(flashes);
        ArgumentNullException.ThrowIfNull(tones);
        const double Head = 8;
        if (flashes.Count == 0)
        {
            return Pair(flashes, tones);
        }
        var head = Pair([.. flashes.Where(f => f <= flashes[0] + Head)], [.. tones.Where(t => t <= flashes[0] + Head + PairTolerance)]);
        return new SyncReport(flashes, tones, PairFrom(flashes, tones, head.Pairs.Count == 0 ? 0 : head.MedianMs / 1000, follow: true));
    }

    /// <summary>How far a starved fake camera's flash may come after its tone (<see cref="PairFollowing"/>).</summary>
    private const double MaxLag = 0.9;

    /// <summary>How far from flash + shift a flash's tone may be (events are at least 0.7 s apart).</summary>
    private const double PairTolerance = 0.3;

    /// <summary>Each flash with the unused tone nearest to it plus <paramref name="shift"/>: within
    /// <see cref="PairTolerance"/> of that; or, <paramref name="follow"/>ing, from <see cref="MaxLag"/> before the
    /// flash to <see cref="PairTolerance"/> after it, the shift becoming each pair's offset in turn.</summary>
    private static List<SyncEvent> PairFrom(IReadOnlyList<double> flashes, IReadOnlyList<double> tones, double shift, bool follow = false)
    {
        var used = new HashSet<double>();
        var pairs = new List<SyncEvent>();
        foreach (var f in flashes)
        {
            var best = tones.Where(t => !used.Contains(t) && (follow ? t - f >= -MaxLag && t - f <= PairTolerance : Math.Abs(t - f - shift) <= PairTolerance))
                .OrderBy(t => Math.Abs(t - f - shift)).Cast<double?>().FirstOrDefault();
            if (best is { } t)
            {
                used.Add(t);
                pairs.Add(new SyncEvent(f, t));
                if (follow)
                {
                    shift = t - f;
                }
            }
        }
        return pairs;
    }

    public override string ToString() =>
        $"{Pairs.Count} pairs of {Flashes.Count} flashes and {Tones.Count} tones; median {MedianMs:0} ms, max |offset| {MaxAbsMs:0} ms; offsets: "
        + string.Join(" ", Pairs.Select(p => $"{p.Flash:0.00}s:{p.OffsetMs:+0;-0}"))
        + "; flashes: " + string.Join(" ", Flashes.Select(f => f.ToString("0.000", CultureInfo.InvariantCulture)))
        + "; tones: " + string.Join(" ", Tones.Select(t => t.ToString("0.000", CultureInfo.InvariantCulture)));

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        return s.Count == 0 ? double.NaN : s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }
}
