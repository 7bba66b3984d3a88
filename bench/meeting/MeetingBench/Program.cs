using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Capstan.Bench.Meeting;

// The meeting benchmark: CPU and memory of Capstan.Server and of its Janus with N participants in one meeting
// (real Chromium pages with fake camera and microphone), and the time from page load to the first remote frame.
// Runs inside scripts/netns.sh (Janus gathers no ICE candidates on loopback). See bench/meeting/README.md.

var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(Options.Usage);
    return 2;
}
var iface = Environment.GetEnvironmentVariable("CAPSTAN_NETNS_INTERFACE");
if (string.IsNullOrEmpty(iface))
{
    Console.Error.WriteLine("CAPSTAN_NETNS_INTERFACE is not set: run inside scripts/netns.sh (bench/meeting/run.sh does).");
    return 2;
}

// Bounded: setup, then per scenario the join, the warm-up, the window and the leave, each with its own limit.
var budget = TimeSpan.FromSeconds(240 + (options.WarmupMeeting ? 5 + options.JoinTimeout + 60 : 0) + options.Participants.Sum(_ => options.Seconds + options.Warmup + options.JoinTimeout + 60));
using var cts = new CancellationTokenSource(budget);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
var ct = cts.Token;

Directory.CreateDirectory(options.WorkDir);
Console.WriteLine($"== meeting benchmark: scenarios {string.Join(", ", options.Participants.Select(n => n + " participants"))}, {options.Seconds} s each " +
    $"(after {options.Warmup} s of warm-up{(options.WarmupMeeting ? ", and a warm-up meeting first" : "")}), {Environment.ProcessorCount} cores, CLK_TCK {Proc.TicksPerSecond}, load {Proc.LoadAverage():0.00}");

var results = new List<ScenarioResult>();
var status = 0;
Server? server = null;
try
{
    server = Server.Start(options.ServerDll, options.WorkDir, iface);
    Console.WriteLine($"== server: pid {server.Pid} on {server.BaseUrl} (data: {server.DataDir}, log: {server.LogPath})");
    using var api = new Api(server);
    await server.WaitReadyAsync(api.Http, TimeSpan.FromSeconds(120), ct);
    Console.WriteLine($"== janus: pid {server.JanusPid} (log: {server.JanusLogPath})");

    await using var browsers = await Browsers.LaunchAsync(ct);
    if (options.WarmupMeeting)
    {
        // One throwaway meeting first, so the figures are of a server whose code paths (join, Janus proxy, events,
        // leave, kick-all) are already compiled: a fresh .NET process spends seconds of CPU in its tiered JIT.
        await new Scenario(server, api, browsers, 2, 5, 0, options.JoinTimeout, "warm-up meeting (not reported), 2 participants").RunAsync(ct);
    }
    foreach (var n in options.Participants)
    {
        ct.ThrowIfCancellationRequested();
        var scenario = new Scenario(server, api, browsers, n, options.Seconds, options.Warmup, options.JoinTimeout, $"{n} participants");
        var result = await scenario.RunAsync(ct);
        results.Add(result);
        Console.WriteLine(Report.Line(result));
    }
}
catch (Exception e) when (e is BenchException or OperationCanceledException or TimeoutException or Microsoft.Playwright.PlaywrightException or HttpRequestException)
{
    status = 1;
    var why = e is OperationCanceledException ? (cts.IsCancellationRequested ? "stopped (signal or the time budget of " + budget.TotalSeconds + " s)" : e.Message) : e.Message;
    Console.Error.WriteLine("meeting benchmark failed: " + why);
    if (server is not null)
    {
        Console.Error.WriteLine("--- server log (last lines) ---\n" + Server.Tail(server.LogPath, 30));
        Console.Error.WriteLine("--- janus log (last lines) ---\n" + Server.Tail(server.JanusLogPath, 20));
    }
}
finally
{
    if (server is not null)
    {
        var code = await server.StopAsync(TimeSpan.FromSeconds(15));
        Console.WriteLine(code is { } c ? $"== server stopped (SIGTERM, exit {c})" : "== server did not stop within 15 s of SIGTERM: killed");
        await server.DisposeAsync();
    }
}

if (results.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine(Report.Table(results));
    if (options.JsonOut is { } path)
    {
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }), CancellationToken.None);
    }
}
return status;

namespace Capstan.Bench.Meeting
{
    public sealed record Options(
        int Seconds, double Warmup, IReadOnlyList<int> Participants, string ServerDll, string WorkDir, int JoinTimeout, string? JsonOut, bool WarmupMeeting)
    {
        public const string Usage = """
            usage: Capstan.Bench.Meeting --server-dll PATH --work DIR [--seconds 60] [--warmup 5] [--participants 2,4]
                                         [--join-timeout 90] [--json FILE] [--no-warmup-meeting]
            Runs inside scripts/netns.sh (needs CAPSTAN_NETNS_INTERFACE); bench/meeting/run.sh builds and calls it.
            """;

        public static Options? Parse(string[] args)
        {
            int seconds = 60, joinTimeout = 90;
            double warmup = 5;
            var warmupMeeting = true;
            List<int> participants = [2, 4];
            string? dll = null, work = null, json = null;
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] == "--no-warmup-meeting")
                {
                    warmupMeeting = false;
                    continue;
                }
                var value = i + 1 < args.Length ? args[i + 1] : null;
                if (value is null)
                {
                    return null;
                }
                switch (args[i])
                {
                    case "--seconds" when int.TryParse(value, CultureInfo.InvariantCulture, out var s) && s > 0:
                        seconds = s;
                        break;
                    case "--warmup" when double.TryParse(value, CultureInfo.InvariantCulture, out var w) && w >= 0:
                        warmup = w;
                        break;
                    case "--join-timeout" when int.TryParse(value, CultureInfo.InvariantCulture, out var j) && j > 0:
                        joinTimeout = j;
                        break;
                    case "--participants":
                        var parsed = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                            .Select(p => int.TryParse(p, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 16 ? n : -1).ToList();
                        if (parsed.Count == 0 || parsed.Contains(-1))
                        {
                            return null;
                        }
                        participants = parsed;
                        break;
                    case "--server-dll":
                        dll = value;
                        break;
                    case "--work":
                        work = value;
                        break;
                    case "--json":
                        json = value;
                        break;
                    default:
                        return null;
                }
                i++;
            }
            return dll is null || work is null ? null : new Options(seconds, warmup, participants, dll, work, joinTimeout, json, warmupMeeting);
        }
    }
}
