using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Bench.Recorder;

// The recorder benchmark: start latency, CPU per recording session, recordings at once before frames drop, and stop
// to UPLOADED of a long recording, against the targets; and what a track recording costs Janus (no targets). Runs inside scripts/netns.sh (Janus gathers no ICE candidates
// on loopback). See bench/recorder/README.md.

var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(Options.Usage);
    return 2;
}
var iface = Environment.GetEnvironmentVariable("CAPSTAN_NETNS_INTERFACE");
if (string.IsNullOrEmpty(iface))
{
    Console.Error.WriteLine("CAPSTAN_NETNS_INTERFACE is not set: run inside scripts/netns.sh (bench/recorder/run.sh does).");
    return 2;
}
var s = options.Quick ? Settings.QuickRun : Settings.Full;
bool Wants(string what) => options.Only is null || options.Only.Contains(what);

// Bounded: every server start, scenario and delivery has its own limit; this is the whole program's.
var budget = TimeSpan.FromSeconds(Options.BudgetSeconds(s));
var deadline = DateTime.UtcNow + budget;
using var cts = new CancellationTokenSource(budget);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
var ct = cts.Token;

Directory.CreateDirectory(options.WorkDir);
Console.WriteLine($"== recorder benchmark{(s.Quick ? " (--quick)" : "")}: {Environment.ProcessorCount} cores, CLK_TCK {Proc.TicksPerSecond}, load {Bench.F(Proc.LoadAverage())}, budget {budget.TotalMinutes:0} min");

var results = new Results();
var status = 0;

async Task RunServerAsync(Browsers browsers, string name, int slots, int frameRate, Func<Bench, Task> body, IReadOnlyDictionary<string, string>? environment = null)
{
    ct.ThrowIfCancellationRequested();
    var server = Server.Start(options.ServerDll, options.WorkDir, name, iface, slots, frameRate, environment);
    Console.WriteLine($"== server '{name}': pid {server.Pid} on {server.BaseUrl}, Recorder__FrameRate={frameRate}, Recorder__Slots={slots}" +
        $"{string.Concat((environment ?? new Dictionary<string, string>()).Select(kv => $", {kv.Key}={kv.Value}"))} (data: {server.DataDir})");
    try
    {
        using var api = new Api(server);
        await server.WaitReadyAsync(api.Http, TimeSpan.FromSeconds(180), ct);
        var (x, c, _) = server.Surfaces();
        Console.WriteLine($"   ready: Janus answers, PulseAudio runs, {c} warm surfaces (Xvfb {x}, Chromium {c})");
        await body(new Bench(server, api, browsers, new Recordings(server, api), s, options.WorkDir));
    }
    catch (Exception e) when (e is BenchException or TimeoutException or Microsoft.Playwright.PlaywrightException or HttpRequestException)
    {
        Fail($"server '{name}'", e, server);
    }
    finally
    {
        var code = await server.StopAsync(TimeSpan.FromSeconds(20));
        Console.WriteLine(code is { } exit ? $"== server '{name}' stopped (SIGTERM, exit {exit})" : $"== server '{name}' did not stop within 20 s of SIGTERM: killed");
        await server.DisposeAsync();
    }
}

void Fail(string what, Exception e, Server? server)
{
    status = 1;
    results.Failures.Add($"{what}: {e.Message}");
    Console.Error.WriteLine($"recorder benchmark: {what} failed: {e.Message}");
    if (server is not null)
    {
        Console.Error.WriteLine("--- server log (last lines) ---\n" + Server.Tail(server.LogPath, 25));
    }
}

// One scenario: its failure is reported and the next one runs (the budget or a signal stops everything).
async Task<T?> TryAsync<T>(string what, Bench b, Func<Task<T>> scenario) where T : class
{
    try
    {
        return await scenario();
    }
    catch (Exception e) when (e is BenchException or TimeoutException or Microsoft.Playwright.PlaywrightException or HttpRequestException)
    {
        Fail(what, e, b.Server);
        return null;
    }
}

try
{
    await using var browsers = await Browsers.LaunchAsync(ct);
    if (Wants("cpu"))
    {
        // 640x360@15 needs Recorder__FrameRate=15: a server of its own.
        await RunServerAsync(browsers, "fps15", 2, 15, async b =>
            results.Cpu360 = await TryAsync("CPU 640x360@15", b, () => Scenarios.CpuAsync(b, 640, 360, 2, ct)));
    }
    // native-cpu compares with the browser in this run: its 720p30 (2 and 4 participants) and 1080p30, each with Janus
    // measured before the recording too; cpu's own 720p30 and 1080p30 take that window when native-cpu runs, and serve.
    var compare = Wants("native-cpu");
    if (Wants("latency") || Wants("cpu") || Wants("long") || compare)
    {
        await RunServerAsync(browsers, "fps30", 2, 30, async b =>
        {
            if (Wants("latency"))
            {
                results.Latency = await TryAsync("start latency", b, () => Scenarios.LatencyAsync(b, ct));
            }
            if (Wants("cpu") || compare)
            {
                results.Cpu720 = await TryAsync("CPU 1280x720@30", b, () => Scenarios.CpuAsync(b, 1280, 720, 2, ct, janusBaseline: compare));
            }
            if (compare)
            {
                results.Cpu720Four = await TryAsync("CPU 1280x720@30, 4 participants", b, () => Scenarios.CpuAsync(b, 1280, 720, 4, ct, janusBaseline: true));
            }
            if (Wants("cpu") || compare)
            {
                results.Cpu1080 = await TryAsync("CPU 1920x1080@30", b, () => Scenarios.CpuAsync(b, 1920, 1080, 2, ct, janusBaseline: compare));
            }
            if (Wants("long"))
            {
                results.Long = await TryAsync("long recording", b, () => Scenarios.LongAsync(b, ct));
            }
        });
    }
    if (compare || Wants("native-latency"))
    {
        // The same settings as 'fps30', composited without a browser (issue 13).
        await RunServerAsync(browsers, "native", 2, 30, async b =>
        {
            if (Wants("native-latency"))
            {
                results.NativeLatency = await TryAsync("native start latency", b, () => Scenarios.LatencyAsync(b, ct));
            }
            if (compare)
            {
                foreach (var (w, h, n) in new[] { (1280, 720, 2), (1280, 720, 4), (1920, 1080, 2) })
                {
                    if (await TryAsync($"native CPU {w}x{h}@30, {n} participants", b, () => Scenarios.CpuAsync(b, w, h, n, ct, janusBaseline: true)) is { } c)
                    {
                        results.NativeCpu.Add(c);
                    }
                }
            }
        }, Server.NativeEnvironment);
    }
    if (Wants("native-concurrency"))
    {
        // As many slots as the highest level (the pool's idle browser surfaces are not the recordings').
        await RunServerAsync(browsers, "native-concurrency", s.NativeLevels.Max(), 30, async b =>
            results.NativeConcurrency = await TryAsync("native concurrency", b, () => Scenarios.ConcurrencyAsync(b, 2, s.NativeLevels, ct)), Server.NativeEnvironment);
    }
    if (Wants("concurrency"))
    {
        // As many slots as the highest level, so every recording of a level runs at once on a warm surface.
        await RunServerAsync(browsers, "concurrency", s.MaxLevel, 30, async b =>
            results.Concurrency = await TryAsync("concurrency", b, () => Scenarios.ConcurrencyAsync(b, ct)));
    }
    if (Wants("track"))
    {
        // Janus without the composite recorder at work: a server of its own (one warm surface, idle). A run after the
        // first (4 participants) only when the budget has room for it.
        await RunServerAsync(browsers, "track", 1, 30, async b =>
        {
            foreach (var n in s.TrackParticipants)
            {
                var left = (deadline - DateTime.UtcNow).TotalSeconds;
                if (n != s.TrackParticipants[0] && left < Options.TrackRunSeconds(s))
                {
                    var note = $"track recording with {n} participants skipped: {left:0} s of the budget left, it needs up to {Options.TrackRunSeconds(s):0} s";
                    Console.WriteLine("   " + note);
                    results.Notes.Add(note);
                    continue;
                }
                if (await TryAsync($"track recording, {n} participants", b, () => Scenarios.TrackAsync(b, n, ct)) is { } t)
                {
                    results.Track.Add(t);
                    if (t.Problems.Count > 0)
                    {
                        // Figures over broken files are not figures: the run fails.
                        status = 1;
                        results.Failures.Add($"track recording, {n} participants: files wrong: {string.Join("; ", t.Problems)}");
                    }
                }
            }
        });
    }
}
catch (Exception e) when (e is OperationCanceledException or BenchException or Microsoft.Playwright.PlaywrightException)
{
    status = 1;
    var why = e is OperationCanceledException && cts.IsCancellationRequested ? $"stopped (signal or the time budget of {budget.TotalSeconds:0} s)" : e.Message;
    results.Failures.Add(why);
    Console.Error.WriteLine("recorder benchmark: " + why);
}

Console.WriteLine();
results.Comparison = Report.Compare(results);
Console.WriteLine(Report.Summary(results, s));
if (options.JsonOut is { } path)
{
    var json = JsonSerializer.Serialize(results, new JsonSerializerOptions
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    });
    await File.WriteAllTextAsync(path, json, CancellationToken.None);
}
return status;

namespace Capstan.Bench.Recorder
{
    public sealed record Options(bool Quick, string ServerDll, string WorkDir, string? JsonOut, IReadOnlySet<string>? Only)
    {
        public const string Usage = """
            usage: Capstan.Bench.Recorder --server-dll PATH --work DIR [--quick] [--json FILE] [--only latency,cpu,concurrency,long,track,native,native-cpu,native-latency,native-concurrency]
            Runs inside scripts/netns.sh (needs CAPSTAN_NETNS_INTERFACE); bench/recorder/run.sh builds and calls it.
            """;

        /// <summary>The native compositor's scenarios (issue 13); <c>native</c> stands for all three. (Before
        /// <see cref="Scenarios"/>: static fields are set in order.)</summary>
        public static readonly string[] NativeScenarios = ["native-cpu", "native-latency", "native-concurrency"];

        private static readonly string[] Scenarios = ["latency", "cpu", "concurrency", "long", "track", .. NativeScenarios];

        /// <summary>Generous: 4 server starts, then each scenario with its windows and its deliveries.</summary>
        public static double BudgetSeconds(Settings s)
        {
            ArgumentNullException.ThrowIfNull(s);
            var latency = (1 + s.LatencyStarts + s.BackToBackStarts) * (s.Gap + s.RecordSeconds + 20) + 120;
            var cpu = 3 * (s.CpuWindow + s.Warmup + 150);
            var concurrency = s.MaxLevel * (s.ConcurrencyWindow + s.Warmup + 150);
            // the long recording, its stop and download, and the sound/picture measurement of its two ends
            var longRec = s.LongSeconds + 240 + 120;
            var track = s.TrackParticipants.Count * TrackRunSeconds(s);
            return 4 * 120 + latency + cpu + concurrency + longRec + track + NativeSeconds(s);
        }

        /// <summary>The native scenarios: 2 more server starts; the side-by-side CPU runs (native at 720p30 with 2 and 4
        /// participants and 1080p30, and the browser's 720p30 with 4 participants, each with a Janus window before
        /// the recording: up to 3 more when the browser's own are not measured by <c>cpu</c>), the latency starts and
        /// the concurrency levels (2 participants).</summary>
        public static double NativeSeconds(Settings s)
        {
            ArgumentNullException.ThrowIfNull(s);
            var cpu = 6 * (2 * s.CpuWindow + 2 * s.Warmup + 150);
            var latency = (1 + s.LatencyStarts + s.BackToBackStarts) * (s.Gap + s.RecordSeconds + 20) + 120;
            var concurrency = s.NativeLevels.Sum(k => s.ConcurrencyWindow + s.Warmup + 60 + 20 * k);
            return 2 * 120 + cpu + latency + concurrency;
        }

        /// <summary>One track run: the participants join (up to 90 s), warm-up, the two windows, stop to UPLOADED,
        /// downloads and probes.</summary>
        public static double TrackRunSeconds(Settings s)
        {
            ArgumentNullException.ThrowIfNull(s);
            return 2 * s.TrackWindow + s.Warmup + 150;
        }

        public static Options? Parse(string[] args)
        {
            var quick = false;
            string? dll = null, work = null, json = null;
            HashSet<string>? only = null;
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] == "--quick")
                {
                    quick = true;
                    continue;
                }
                var value = i + 1 < args.Length ? args[i + 1] : null;
                if (value is null)
                {
                    return null;
                }
                switch (args[i])
                {
                    case "--server-dll":
                        dll = value;
                        break;
                    case "--work":
                        work = value;
                        break;
                    case "--json":
                        json = value;
                        break;
                    case "--only":
                        only = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                        if (only.Count == 0 || only.Any(o => o != "native" && !Scenarios.Contains(o)))
                        {
                            return null;
                        }
                        if (only.Remove("native"))
                        {
                            only.UnionWith(NativeScenarios);
                        }
                        break;
                    default:
                        return null;
                }
                i++;
            }
            return dll is null || work is null ? null : new Options(quick, dll, work, json, only);
        }
    }
}
