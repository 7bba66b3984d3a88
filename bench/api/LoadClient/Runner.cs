using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Bench;

public sealed record RunResult(
    string Label, string DbKind, int Recordings, int Meetings, int Concurrency, double DurationSeconds, double WarmupSeconds,
    double SeedSeconds, int Cores, string Runtime, DateTime Finished, List<ScenarioResult> Scenarios);

public static class Runner
{
    /// <summary>The machine's 1-minute load average (/proc/loadavg): shows when something else competed for the cores.</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static async Task<int> RunAsync(RunOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        using var api = new Api(o);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        Console.WriteLine($"== {o.Label}: seeding {o.Recordings:N0} recordings over {o.Meetings:N0} meetings");
        var seed = await Seeder.SeedAsync(o, api, cts.Token);
        await Seeder.CheckAsync(api, seed, cts.Token);
        Console.WriteLine($"  seeded and checked through the API in {seed.Seconds:F1} s");
        Console.WriteLine($"== {o.Label}: {o.Concurrency} connections, {o.WarmupSeconds:0.#} s warm-up + {o.DurationSeconds:0.#} s per scenario, {Environment.ProcessorCount} cores shared by server, database and load");
        Console.WriteLine(o.Wrk is null
            ? "  load: this .NET client (closed loop) for every scenario"
            : $"  load: wrk ({o.Wrk}, 1 thread) for the GET scenarios, this .NET client (closed loop) for start_stop");
        foreach (var name in o.Scenarios)
        {
            Console.WriteLine($"  {name,-13} {Scenarios.Describe(name, o, seed)}");
        }

        var meter = new CpuMeter(o.ServerPid, o.PgPidFile);
        var workDir = Directory.CreateTempSubdirectory("capstan-bench-load-").FullName;
        var results = new List<ScenarioResult>();
        try
        {
            foreach (var name in o.Scenarios)
            {
                var r = await Load.RunAsync(name, api, o, seed, workDir, meter);
                results.Add(r);
                Console.WriteLine($"  ... {name} ({r.Driver}): {r.Rate:N0} {r.Unit}/s, p50 {r.P50Ms:F2} ms, p99 {r.P99Ms:F2} ms{(r.Errors > 0 ? $", {r.Errors:N0} errors" : "")}, load average {LoadAverage()}");
            }
        }
        finally
        {
            Directory.Delete(workDir, recursive: true);
        }
        var healthz = results.First(r => r.Name == Scenarios.Healthz).Rate;
        foreach (var r in results)
        {
            r.Ratio = r.Rate / healthz;
        }

        var run = new RunResult(o.Label, o.DbKind.ToString().ToLowerInvariant(), seed.Recordings.Count, seed.Meetings.Count, o.Concurrency, o.DurationSeconds,
            o.WarmupSeconds, Math.Round(seed.Seconds, 1), Environment.ProcessorCount, RuntimeInformation.FrameworkDescription, DateTime.UtcNow, results);
        Console.WriteLine();
        Console.Write(Summary.Table([run]));
        Console.Write(Summary.Targets([run]));
        if (o.Out is not null)
        {
            await File.WriteAllTextAsync(o.Out, JsonSerializer.Serialize(run, Json), cts.Token);
        }
        return results.Any(r => r.Errors > 0) ? 3 : 0;
    }
}

public static class Summary
{
    public const double GetOneTargetRatio = 0.70;
    public const double ListTargetP99Ms = 20.0;

    public static int Print(string[] files)
    {
        var runs = new List<RunResult>();
        foreach (var f in files)
        {
            if (!File.Exists(f))
            {
                Console.Error.WriteLine($"load client: no results file {f}");
                continue;
            }
            runs.Add(JsonSerializer.Deserialize<RunResult>(File.ReadAllText(f), Runner.Json)
                ?? throw new BenchException($"{f} holds no results"));
        }
        if (runs.Count == 0)
        {
            throw new UsageException("summary needs at least one results file");
        }
        Console.Write(Table(runs));
        Console.Write(Targets(runs));
        return 0;
    }

    private static string Percent(double ratio) => double.IsFinite(ratio) ? (ratio * 100).ToString("F1", CultureInfo.InvariantCulture) + "%" : "-";

    private static string Us(double us) => double.IsFinite(us) ? us.ToString("N0", CultureInfo.InvariantCulture) : "-";

    public static string Table(IReadOnlyList<RunResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var sb = new StringBuilder();
        var first = runs[0];
        sb.Append(CultureInfo.InvariantCulture, $"Capstan API benchmark: {first.Recordings:N0} recordings, {first.Concurrency} connections, {first.DurationSeconds:0.#} s per scenario after {first.WarmupSeconds:0.#} s warm-up, loopback, {first.Cores} cores, {first.Runtime}\n");
        sb.Append(CultureInfo.InvariantCulture, $"{"database",-9} {"scenario",-19} {"load",-5} {"requests",10} {"errors",7} {"req/s",10} {"p50 ms",8} {"p99 ms",8} {"vs /healthz",12} {"server us",10} {"db us",8}\n");
        foreach (var run in runs)
        {
            foreach (var r in run.Scenarios)
            {
                var name = r.Unit == "pair" ? $"{r.Name} (pairs)" : r.Name;
                sb.Append(CultureInfo.InvariantCulture,
                    $"{run.Label,-9} {name,-19} {r.Driver,-5} {r.Operations,10:N0} {r.Errors,7:N0} {r.Rate,10:N0} {r.P50Ms,8:F2} {r.P99Ms,8:F2} {Percent(r.Ratio),12} {Us(r.ServerCpuUs),10} {Us(r.DbCpuUs),8}\n");
            }
        }
        sb.Append("(start_stop counts pairs: its req/s is pairs per second, its latencies and CPU are per pair of requests;\n");
        sb.Append(" server us / db us: CPU time of the server process / of the PostgreSQL cluster per request, in microseconds)\n");
        return sb.ToString();
    }

    public static string Targets(IReadOnlyList<RunResult> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var sb = new StringBuilder();
        var all = true;
        sb.Append("targets:\n");
        foreach (var run in runs)
        {
            if (run.Scenarios.FirstOrDefault(s => s.Name == Scenarios.GetOne) is { } get)
            {
                var met = get.Ratio >= GetOneTargetRatio && get.Errors == 0;
                all &= met;
                sb.Append(CultureInfo.InvariantCulture, $"  {run.Label,-9} GET one recording at >= 70% of /healthz req/s: {Percent(get.Ratio),8}     {(met ? "MET" : "NOT MET")}\n");
            }
            foreach (var list in run.Scenarios.Where(s => s.Name is Scenarios.ListStatus or Scenarios.ListMeeting))
            {
                var met = list.P99Ms < ListTargetP99Ms && list.Errors == 0;
                all &= met;
                sb.Append(CultureInfo.InvariantCulture, $"  {run.Label,-9} {list.Name} p99 under 20 ms:{new string(' ', 16 - list.Name.Length)}{list.P99Ms,8:F2} ms   {(met ? "MET" : "NOT MET")}\n");
            }
        }
        sb.Append(all ? "  all targets met\n" : "  some targets NOT met\n");
        return sb.ToString();
    }
}
