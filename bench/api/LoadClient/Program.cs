using System.Globalization;
using Capstan.Bench;

// Capstan API benchmark load client. Two commands:
//   run      seed a running server (through its API, then straight into its tables), load each scenario for a
//            fixed time at a fixed concurrency, print the table and write the figures as JSON (--out)
//   summary  print the figures of several runs (JSON files) side by side, with the targets
// bench/api/run.sh starts the servers and calls both; see bench/api/README.md.
if (args.Any(a => a is "--help" or "-h" or "help"))
{
    Console.WriteLine(RunOptions.Usage);
    return 0;
}
try
{
    return args.Length > 0 && args[0] == "summary"
        ? Summary.Print(args[1..])
        : await Runner.RunAsync(RunOptions.Parse(args.Length > 0 && args[0] == "run" ? args[1..] : args));
}
catch (UsageException e)
{
    await Console.Error.WriteLineAsync($"load client: {e.Message}");
    await Console.Error.WriteLineAsync(RunOptions.Usage);
    return 2;
}
catch (BenchException e)
{
    await Console.Error.WriteLineAsync($"load client: {e.Message}");
    return 1;
}

namespace Capstan.Bench
{
    public sealed class UsageException(string message) : Exception(message);

    public sealed class BenchException(string message) : Exception(message);

    public enum DbKind
    {
        Sqlite,
        Postgres,
    }

    public sealed class RunOptions
    {
        public const string Usage = """
            usage: load client run --base-url http://127.0.0.1:PORT --account ID --app UUID --token TOKEN
                                   --db-kind sqlite|postgres --db (SQLITE FILE | "Host=...")
                                   [--label NAME] [--recordings 100000] [--meetings 1000] [--concurrency 16]
                                   [--duration 10] [--warmup 2] [--max-requests 2000000] [--list-pages 50]
                                   [--scenarios healthz,get_one,list_status,list_meeting,start_stop] [--out FILE]
                                   [--load auto|wrk|dotnet]   (GET scenarios: wrk when found, else this client)
                                   [--server-pid PID] [--pg-pid-file DATADIR/postmaster.pid]   (CPU per request)
                   load client summary FILE...
            """;

        public required Uri BaseUrl { get; init; }
        public required string Account { get; init; }
        public required Guid App { get; init; }
        public required string Token { get; init; }
        public required DbKind DbKind { get; init; }
        public required string Db { get; init; }
        public string Label { get; init; } = "";
        public int Recordings { get; init; } = 100_000;
        public int Meetings { get; init; } = 1_000;
        public int Concurrency { get; init; } = 16;
        public double DurationSeconds { get; init; } = 10;
        public double WarmupSeconds { get; init; } = 2;
        public long MaxRequests { get; init; } = 2_000_000;
        public int ListPages { get; init; } = 50;
        public IReadOnlyList<string> Scenarios { get; init; } = Bench.Scenarios.All;
        public string? Out { get; init; }

        /// <summary>wrk's path when it drives the GET scenarios; null when this client does.</summary>
        public string? Wrk { get; init; }

        public int? ServerPid { get; init; }

        public string? PgPidFile { get; init; }

        public string KitBase => $"/client/v4/accounts/{Account}/realtime/kit/{App}";

        public static RunOptions Parse(string[] args)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                {
                    throw new UsageException($"unexpected argument '{args[i]}'");
                }
                map[args[i][2..]] = args[++i];
            }
            string Req(string k) => map.TryGetValue(k, out var v) && v.Length > 0 ? v : throw new UsageException($"--{k} is required");
            int Int(string k, int d, int min, int max)
            {
                if (!map.TryGetValue(k, out var v))
                {
                    return d;
                }
                return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                    ? n : throw new UsageException($"--{k} must be an integer in {min}..{max}");
            }
            double Dbl(string k, double d, double min, double max)
            {
                if (!map.TryGetValue(k, out var v))
                {
                    return d;
                }
                return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                    ? n : throw new UsageException($"--{k} must be a number in {min}..{max}");
            }
            var baseUrl = new Uri(Req("base-url"));
            if (!baseUrl.IsLoopback)
            {
                throw new UsageException("--base-url must be a loopback address (the benchmark runs over loopback only)");
            }
            var kind = Req("db-kind") switch
            {
                "sqlite" => DbKind.Sqlite,
                "postgres" => DbKind.Postgres,
                var other => throw new UsageException($"--db-kind must be sqlite or postgres, got '{other}'"),
            };
            var scenarios = map.TryGetValue("scenarios", out var s)
                ? s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
                : [.. Bench.Scenarios.All];
            foreach (var name in scenarios.Where(n => !Bench.Scenarios.All.Contains(n)))
            {
                throw new UsageException($"unknown scenario '{name}' (known: {string.Join(", ", Bench.Scenarios.All)})");
            }
            if (!scenarios.Contains(Bench.Scenarios.Healthz))
            {
                scenarios.Insert(0, Bench.Scenarios.Healthz); // every ratio is against /healthz of the same run
            }
            var options = new RunOptions
            {
                BaseUrl = baseUrl,
                Account = Req("account"),
                App = Guid.TryParse(Req("app"), out var app) ? app : throw new UsageException("--app must be a UUID"),
                Token = Req("token"),
                DbKind = kind,
                Db = Req("db"),
                Label = map.GetValueOrDefault("label") ?? Req("db-kind"),
                Recordings = Int("recordings", 100_000, 0, 10_000_000),
                Meetings = Int("meetings", 1_000, 1, 100_000),
                Concurrency = Int("concurrency", 16, 1, 1024),
                DurationSeconds = Dbl("duration", 10, 0.5, 3600),
                WarmupSeconds = Dbl("warmup", 2, 0, 600),
                MaxRequests = Int("max-requests", 2_000_000, 1, 100_000_000),
                ListPages = Int("list-pages", 50, 1, 1_000_000),
                Scenarios = scenarios,
                Out = map.GetValueOrDefault("out"),
                ServerPid = map.ContainsKey("server-pid") ? Int("server-pid", 0, 1, int.MaxValue) : null,
                PgPidFile = map.GetValueOrDefault("pg-pid-file"),
                Wrk = (map.GetValueOrDefault("load") ?? "auto") switch
                {
                    "dotnet" => null,
                    "wrk" => FindOnPath("wrk") ?? throw new UsageException("--load wrk: wrk is not on PATH (apt-get install wrk)"),
                    "auto" => FindOnPath("wrk"),
                    var other => throw new UsageException($"--load must be auto, wrk or dotnet, got '{other}'"),
                },
            };
            return options;
        }

        private static string? FindOnPath(string name) =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
