using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Capstan.Bench;

public static class Scenarios
{
    public const string Healthz = "healthz";
    public const string GetOne = "get_one";
    public const string ListStatus = "list_status";
    public const string ListMeeting = "list_meeting";
    public const string StartStop = "start_stop";

    public static readonly IReadOnlyList<string> All = [Healthz, GetOne, ListStatus, ListMeeting, StartStop];

    /// <summary>The most distinct request paths a GET scenario draws from (get_one samples the recordings).</summary>
    public const int MaxPaths = 50_000;

    public static string Describe(string name, RunOptions o, SeedData seed) => name switch
    {
        Healthz => "GET /healthz (no auth, no database): the trivial endpoint",
        GetOne => $"GET recordings/{{id}}, id drawn at random from {Math.Min(MaxPaths, seed.Recordings.Count):N0} of the {seed.Recordings.Count:N0} recordings",
        ListStatus => $"GET recordings?status=UPLOADED&per_page=20&page_no=1..{o.ListPages}&sort_order=DESC ({seed.UploadedCount:N0} match)",
        ListMeeting => $"GET recordings?meeting_id=M&per_page=20&page_no=1..{MeetingPages(seed)}&sort_order=DESC, M one of {seed.Meetings.Count:N0} meetings (~{seed.RecordingsPerMeeting} each)",
        StartStop => "POST recordings {meeting_id} then PUT recordings/{id} {action: stop}, one meeting per connection; one pair = 2 requests",
        _ => name,
    };

    public static int MeetingPages(SeedData seed) => Math.Max(1, (int)Math.Ceiling(seed.RecordingsPerMeeting / 20.0));

    /// <summary>The request paths of a GET scenario (drawn at random, uniformly, per request); null for start_stop.</summary>
    public static string[]? Paths(string name, string kit, RunOptions o, SeedData seed)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(seed);
        var rng = new Random(7);
        switch (name)
        {
            case Healthz:
                return ["/healthz"];
            case GetOne:
                var ids = seed.Recordings.ToArray();
                rng.Shuffle(ids);
                return ids.Take(MaxPaths).Select(id => $"{kit}/recordings/{id}").ToArray();
            case ListStatus:
                return Enumerable.Range(1, o.ListPages)
                    .Select(p => $"{kit}/recordings?status=UPLOADED&per_page=20&page_no={p.ToString(CultureInfo.InvariantCulture)}&sort_order=DESC").ToArray();
            case ListMeeting:
                var pages = MeetingPages(seed);
                return seed.Meetings.SelectMany(m => Enumerable.Range(1, pages)
                    .Select(p => $"{kit}/recordings?meeting_id={m}&per_page=20&page_no={p.ToString(CultureInfo.InvariantCulture)}&sort_order=DESC"))
                    .Take(MaxPaths).ToArray();
            case StartStop:
                return null;
            default:
                throw new UsageException($"unknown scenario '{name}'");
        }
    }

    /// <summary>start+stop, for one worker on its own meeting; true when both requests succeeded.</summary>
    public static Func<Task<bool>> StartStopFor(Api api, Guid meeting)
    {
        ArgumentNullException.ThrowIfNull(api);
        var start = Api.Body(new { meeting_id = meeting });
        var stop = Api.Body(new { action = "stop" });
        return async () =>
        {
            var (status, body) = await api.SendAsync(HttpMethod.Post, $"{api.Kit}/recordings", start);
            var id = status == 200 ? Api.DataId(body) : null;
            if (id is null)
            {
                // A start refused (a recording left active by a failed stop): stop that one so the next pair can run.
                var (s, b) = await api.SendAsync(HttpMethod.Get, $"{api.Kit}/recordings/active-recording/{meeting}");
                if (s == 200 && Api.DataId(b) is { } active)
                {
                    await api.SendAsync(HttpMethod.Put, $"{api.Kit}/recordings/{active}", stop);
                }
                return false;
            }
            return (await api.SendAsync(HttpMethod.Put, $"{api.Kit}/recordings/{id}", stop)).Status == 200;
        };
    }
}

public sealed record ScenarioResult(string Name, string Unit, string Driver, long Operations, long Errors, double Seconds, double Rate, double P50Ms, double P99Ms, double MaxMs)
{
    /// <summary>CPU time of the server process per operation, in microseconds (NaN when not measured).</summary>
    public double ServerCpuUs { get; set; } = double.NaN;

    /// <summary>CPU time of the PostgreSQL cluster per operation, in microseconds (NaN for SQLite: it runs inside the server).</summary>
    public double DbCpuUs { get; set; } = double.NaN;

    /// <summary>Rate as a share of /healthz's req/s in the same run.</summary>
    public double Ratio { get; set; } = double.NaN;
}

public static class Load
{
    /// <summary>Runs one scenario: GETs with wrk when <c>--load wrk</c>, else (and start+stop always) with this
    /// process's closed loop.</summary>
    public static async Task<ScenarioResult> RunAsync(string name, Api api, RunOptions o, SeedData seed, string workDir, CpuMeter meter)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(o);
        var paths = Scenarios.Paths(name, api.Kit, o, seed);
        if (paths is not null && o.Wrk is not null)
        {
            return await Wrk.RunAsync(name, paths, o, workDir, meter);
        }
        Func<Task<bool>>[] ops = paths is null
            ? seed.WorkerMeetings.Take(o.Concurrency).Select(m => Scenarios.StartStopFor(api, m)).ToArray()
            : Enumerable.Range(0, o.Concurrency).Select(_ => Get(api, paths)).ToArray();
        return await ClosedLoopAsync(name, paths is null ? "pair" : "req", ops, o, meter);
    }

    private static Func<Task<bool>> Get(Api api, string[] paths) =>
        async () => (await api.SendAsync(HttpMethod.Get, paths[Random.Shared.Next(paths.Length)])).Status == 200;

    /// <summary>Closed-loop load: <c>concurrency</c> workers each send one operation, wait for its answer and send the
    /// next, for a fixed time (after an unmeasured warm-up of the same load), bounded by a request count too.</summary>
    private static async Task<ScenarioResult> ClosedLoopAsync(string name, string unit, Func<Task<bool>>[] ops, RunOptions o, CpuMeter meter)
    {
        if (o.WarmupSeconds > 0)
        {
            await PhaseAsync(ops, TimeSpan.FromSeconds(o.WarmupSeconds), o.MaxRequests, record: false);
        }
        var before = meter.Read();
        var (latencies, errors, seconds) = await PhaseAsync(ops, TimeSpan.FromSeconds(o.DurationSeconds), o.MaxRequests, record: true);
        var after = meter.Read();
        Array.Sort(latencies);
        var n = latencies.Length;
        return WithCpu(new ScenarioResult(
            name, unit, ".NET", n, errors, seconds, n / seconds,
            Percentile(latencies, 0.50), Percentile(latencies, 0.99), n == 0 ? double.NaN : latencies[^1]), before, after);
    }

    public static ScenarioResult WithCpu(ScenarioResult r, (double Server, double Db) before, (double Server, double Db) after)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Operations > 0)
        {
            r.ServerCpuUs = (after.Server - before.Server) * 1e6 / r.Operations;
            r.DbCpuUs = (after.Db - before.Db) * 1e6 / r.Operations;
        }
        return r;
    }

    private static async Task<(double[] Latencies, long Errors, double Seconds)> PhaseAsync(Func<Task<bool>>[] ops, TimeSpan duration, long max, bool record)
    {
        long started = 0;
        long errors = 0;
        var t0 = Stopwatch.GetTimestamp();
        var end = t0 + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var perWorker = new List<double>[ops.Length];
        var tasks = ops.Select((op, w) => Task.Run(async () =>
        {
            var mine = perWorker[w] = new List<double>(record ? 16_384 : 0);
            while (Stopwatch.GetTimestamp() < end && Interlocked.Increment(ref started) <= max)
            {
                var a = Stopwatch.GetTimestamp();
                bool ok;
                try
                {
                    ok = await op();
                }
                catch (HttpRequestException)
                {
                    ok = false;
                }
                catch (TaskCanceledException)
                {
                    ok = false; // HttpClient timeout
                }
                var b = Stopwatch.GetTimestamp();
                if (record)
                {
                    mine.Add((b - a) * 1000.0 / Stopwatch.Frequency);
                }
                if (!ok)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        var seconds = (Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency;
        return (perWorker.SelectMany(l => l).ToArray(), Interlocked.Read(ref errors), seconds);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double q)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>GET scenarios driven by wrk (one thread, <c>concurrency</c> connections): a Lua script draws each
/// request's path from the scenario's list and writes wrk's own counts and latency percentiles as JSON.</summary>
public static class Wrk
{
    public static async Task<ScenarioResult> RunAsync(string name, string[] paths, RunOptions o, string workDir, CpuMeter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(o);
        var script = Path.Combine(workDir, $"wrk-{name}.lua");
        var output = Path.Combine(workDir, $"wrk-{name}.json");
        await File.WriteAllTextAsync(script, Script(paths, o.Token, output));
        if (o.WarmupSeconds > 0)
        {
            await RunWrkAsync(o, script, Seconds(o.WarmupSeconds));
        }
        File.Delete(output);
        var before = meter.Read();
        await RunWrkAsync(o, script, Seconds(o.DurationSeconds));
        var after = meter.Read();
        if (!File.Exists(output))
        {
            throw new BenchException($"wrk wrote no figures for {name}");
        }
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(output));
        var r = doc.RootElement;
        var requests = r.GetProperty("requests").GetInt64();
        var seconds = r.GetProperty("duration_us").GetDouble() / 1e6;
        return Load.WithCpu(new ScenarioResult(
            name, "req", "wrk", requests, r.GetProperty("errors").GetInt64(), seconds, requests / seconds,
            r.GetProperty("p50_us").GetDouble() / 1000, r.GetProperty("p99_us").GetDouble() / 1000, r.GetProperty("max_us").GetDouble() / 1000), before, after);
    }

    /// <summary>wrk takes whole seconds.</summary>
    private static int Seconds(double s) => Math.Max(1, (int)Math.Ceiling(s));

    private static async Task RunWrkAsync(RunOptions o, string script, int seconds)
    {
        var psi = new ProcessStartInfo(o.Wrk!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-t1", $"-c{o.Concurrency}", $"-d{seconds}s", "--timeout", "30s", "-s", script, o.BaseUrl.GetLeftPart(UriPartial.Authority) + "/" })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new BenchException($"cannot start {o.Wrk}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds + 60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new BenchException("wrk did not finish in time");
        }
        if (p.ExitCode != 0)
        {
            throw new BenchException($"wrk exited with {p.ExitCode}: {await stderr}{await stdout}");
        }
    }

    private static string Lua(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Script(string[] paths, string token, string output)
    {
        var sb = new StringBuilder();
        sb.Append("-- generated by bench/api/LoadClient\nlocal paths = {\n");
        foreach (var p in paths)
        {
            sb.Append(Lua(p)).Append(",\n");
        }
        sb.Append("}\nlocal n = #paths\n");
        sb.Append(CultureInfo.InvariantCulture, $"wrk.headers[\"Authorization\"] = {Lua("Bearer " + token)}\n");
        sb.Append("wrk.headers[\"Accept\"] = \"application/json\"\n");
        sb.Append("init = function(args) math.randomseed(12345) end\n");
        sb.Append("request = function() return wrk.format(\"GET\", paths[math.random(n)]) end\n");
        sb.Append("done = function(summary, latency, requests)\n");
        sb.Append("  local e = summary.errors\n");
        sb.Append(CultureInfo.InvariantCulture, $"  local f = assert(io.open({Lua(output)}, \"w\"))\n");
        sb.Append("  f:write(string.format('{\"requests\":%d,\"duration_us\":%d,\"errors\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}',\n");
        sb.Append("    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,\n");
        sb.Append("    latency:percentile(50), latency:percentile(99), latency.max))\n");
        sb.Append("  f:close()\nend\n");
        return sb.ToString();
    }
}
