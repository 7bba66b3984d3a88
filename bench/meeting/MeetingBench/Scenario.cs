using System.Diagnostics;
using System.Text.Json;
using Microsoft.Playwright;

namespace Capstan.Bench.Meeting;

/// <summary>What one page reported: <c>capstanState.joinedMs</c> and <c>firstRemoteFrameMs</c> (ms from the page
/// script's start), and the frames it decoded of each other participant during the window.</summary>
public sealed record PageResult(string Name, long? JoinedMs, long? FirstRemoteFrameMs, double MinDecodeFps);

public sealed record ScenarioResult(
    int Participants, double Seconds,
    double ServerCpuPercent, double ServerRssAvgMb, double ServerRssPeakMb,
    double JanusCpuPercent, double JanusRssAvgMb, double JanusRssPeakMb,
    double BrowsersCpuPercent, int BrowserProcesses,
    IReadOnlyList<PageResult> Pages, double ReadySeconds, double LoadAverage, string? Note)
{
    public double? FirstFrameP50 => Percentile(Pages.Select(p => p.FirstRemoteFrameMs), 0.5);

    public double? FirstFrameMax => Pages.Select(p => p.FirstRemoteFrameMs).Max();

    public double? JoinedP50 => Percentile(Pages.Select(p => p.JoinedMs), 0.5);

    public double? JoinedMax => Pages.Select(p => p.JoinedMs).Max();

    public double MinDecodeFps => Pages.Count == 0 ? 0 : Pages.Min(p => p.MinDecodeFps);

    /// <summary>Nearest-rank percentile of the values that are there.</summary>
    private static double? Percentile(IEnumerable<long?> values, double q)
    {
        var sorted = values.OfType<long>().Order().ToList();
        if (sorted.Count == 0)
        {
            return null;
        }
        var rank = (int)Math.Ceiling(q * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }
}

/// <summary>One scenario: a new meeting with N participants, N pages opened at once (a browser context each,
/// 640x360), wait until every page has joined and decodes every other participant, a short warm-up, then the
/// measured window; then every page leaves, the pages close and the session is ended.</summary>
public sealed class Scenario(Server server, Api api, Browsers browsers, int participants, double seconds, double warmup, int joinTimeout, string label)
{
    private const string Preset = "group_call_participant";

    public async Task<ScenarioResult> RunAsync(CancellationToken ct)
    {
        Console.WriteLine($"== {label}: new meeting, {participants} pages");
        var meeting = await api.NewMeetingAsync($"bench {label}", ct);
        var names = Enumerable.Range(1, participants).Select(i => $"Peer{i}").ToList();
        var tokens = new List<string>();
        foreach (var name in names)
        {
            tokens.Add((await api.AddParticipantAsync(meeting, name, Preset, ct)).Token);
        }

        var pages = new List<IPage>();
        string? note = null;
        try
        {
            foreach (var _ in names)
            {
                var context = await browsers.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 640, Height = 360 } });
                pages.Add(await context.NewPageAsync());
            }
            // All pages load at once, as people joining a meeting that starts.
            var opened = Stopwatch.StartNew();
            await Task.WhenAll(pages.Select((p, i) => p.GotoAsync(new Uri(server.BaseUrl, "/meeting?authToken=" + Uri.EscapeDataString(tokens[i])).ToString())))
                .WaitAsync(TimeSpan.FromSeconds(joinTimeout), ct);
            await WaitAllDecodingAsync(pages, names, TimeSpan.FromSeconds(joinTimeout), ct);
            var ready = opened.Elapsed.TotalSeconds;
            Console.WriteLine($"   every page joined and decodes every other participant after {ready:0.0} s; {warmup} s of warm-up, then {seconds} s measured");
            if (warmup > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(warmup), ct);
            }

            var janusPid = server.CurrentJanusPid() ?? throw new BenchException("Janus is not running");
            var framesBefore = await Task.WhenAll(pages.Select(FramesAsync));
            var measured = await MeasureAsync(janusPid, ct);
            var framesAfter = await Task.WhenAll(pages.Select(FramesAsync));
            if (server.CurrentJanusPid() != janusPid)
            {
                note = "Janus restarted during the window";
            }

            var results = new List<PageResult>();
            for (var i = 0; i < pages.Count; i++)
            {
                var state = await StateAsync(pages[i]);
                var others = names.Where((_, k) => k != i).ToList();
                var minFps = others.Count == 0 ? 0 : others.Min(o => (framesAfter[i].GetValueOrDefault(o) - framesBefore[i].GetValueOrDefault(o)) / measured.Seconds);
                results.Add(new PageResult(names[i], Long(state, "joinedMs"), Long(state, "firstRemoteFrameMs"), minFps));
            }
            return new ScenarioResult(participants, measured.Seconds, measured.ServerCpu, measured.ServerRssAvg, measured.ServerRssPeak,
                measured.JanusCpu, measured.JanusRssAvg, measured.JanusRssPeak, measured.BrowsersCpu, measured.BrowserProcesses,
                results, ready, Proc.LoadAverage(), note);
        }
        finally
        {
            await LeaveAsync(meeting, pages);
        }
    }

    private sealed record Measured(double Seconds, double ServerCpu, double ServerRssAvg, double ServerRssPeak,
        double JanusCpu, double JanusRssAvg, double JanusRssPeak, double BrowsersCpu, int BrowserProcesses);

    /// <summary>The window: CPU ticks of the server, Janus and the Chromium processes at its two ends, RSS of the
    /// server and Janus once a second (from its start to its end, both included).</summary>
    private async Task<Measured> MeasureAsync(int janusPid, CancellationToken ct)
    {
        var serverRss = new List<long>();
        var janusRss = new List<long>();
        void Sample()
        {
            if (Proc.RssKb(server.Pid) is { } s)
            {
                serverRss.Add(s);
            }
            if (Proc.RssKb(janusPid) is { } j)
            {
                janusRss.Add(j);
            }
        }

        var server0 = Proc.Stat(server.Pid) ?? throw new BenchException("the server is gone");
        var janus0 = Proc.Stat(janusPid) ?? throw new BenchException("Janus is gone");
        var browsers0 = TickSnapshot.Of(Browsers.Processes(server.Pid));
        var clock = Stopwatch.StartNew();
        Sample();
        using (var timer = new PeriodicTimer(TimeSpan.FromSeconds(1)))
        {
            while (clock.Elapsed.TotalSeconds < seconds - 0.5 && await timer.WaitForNextTickAsync(ct))
            {
                Sample();
            }
        }
        var remaining = seconds - clock.Elapsed.TotalSeconds;
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(remaining), ct);
        }
        var server1 = Proc.Stat(server.Pid) ?? throw new BenchException("the server is gone");
        var janus1 = Proc.Stat(janusPid) is { } j1 && j1.StartTime == janus0.StartTime ? j1 : throw new BenchException("Janus exited during the window");
        var browserProcs = Browsers.Processes(server.Pid);
        var browsers1 = TickSnapshot.Of(browserProcs);
        var elapsed = clock.Elapsed.TotalSeconds;
        Sample();

        double Share(long ticks) => 100.0 * ticks / (Proc.TicksPerSecond * elapsed);
        static double Mb(long kb) => kb / 1024.0;
        return new Measured(elapsed,
            Share(server1.Ticks - server0.Ticks), Mb((long)serverRss.Average()), Mb(serverRss.Max()),
            Share(janus1.Ticks - janus0.Ticks), Mb((long)janusRss.Average()), Mb(janusRss.Max()),
            Share(browsers1.Since(browsers0)), browserProcs.Count);
    }

    private static async Task WaitAllDecodingAsync(List<IPage> pages, List<string> names, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var pending = "";
        while (true)
        {
            var missing = new List<string>();
            for (var i = 0; i < pages.Count; i++)
            {
                var state = await StateAsync(pages[i]);
                if (state.GetProperty("phase").GetString() == "error")
                {
                    throw new BenchException($"{names[i]}'s page failed: {state.GetProperty("error")}");
                }
                if (!state.GetProperty("joined").GetBoolean())
                {
                    missing.Add($"{names[i]} not joined");
                    continue;
                }
                var frames = await FramesAsync(pages[i]);
                missing.AddRange(names.Where((n, k) => k != i && frames.GetValueOrDefault(n) <= 0).Select(n => $"{names[i]} has no frame of {n}"));
            }
            if (missing.Count == 0)
            {
                return;
            }
            pending = string.Join(", ", missing);
            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException($"timed out after {timeout.TotalSeconds} s waiting for the pages to join and decode each other: {pending}");
            }
            await Task.Delay(250, ct);
        }
    }

    /// <summary>Every page leaves (<c>capstanLeave()</c>, which tells the room and closes the Janus session), the pages
    /// close, and the session is ended with kick-all so the next scenario starts from an empty server.</summary>
    private async Task LeaveAsync(string meeting, List<IPage> pages)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var p in pages)
        {
            try
            {
                await p.EvaluateAsync("() => window.capstanLeave && window.capstanLeave()");
            }
            catch (PlaywrightException)
            {
                // the page is gone already
            }
        }
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (DateTime.UtcNow < deadline && await api.ActiveSessionAsync(meeting, cts.Token) is { Live: > 0 })
            {
                await Task.Delay(250, cts.Token);
            }
        }
        catch (Exception e) when (e is HttpRequestException or BenchException or OperationCanceledException)
        {
            Console.WriteLine("   (could not follow the leave: " + e.Message + ")");
        }
        foreach (var p in pages)
        {
            try
            {
                await p.Context.CloseAsync();
            }
            catch (PlaywrightException)
            {
                // closed already
            }
        }
        try
        {
            if (await api.ActiveSessionAsync(meeting, cts.Token) is not null)
            {
                await api.KickAllAsync(meeting, cts.Token);
            }
            var ended = false;
            for (var i = 0; i < 40 && !(ended = await api.ActiveSessionAsync(meeting, cts.Token) is null); i++)
            {
                await Task.Delay(250, cts.Token);
            }
            Console.WriteLine(ended ? "   pages left and closed; the session ended" : "   pages closed; the session is still LIVE");
        }
        catch (Exception e) when (e is HttpRequestException or BenchException or OperationCanceledException)
        {
            Console.WriteLine("   (could not end the session: " + e.Message + ")");
        }
    }

    private static async Task<JsonElement> StateAsync(IPage page) => await page.EvaluateAsync<JsonElement>("() => window.capstanState || { phase: 'loading', joined: false }");

    private static async Task<Dictionary<string, long>> FramesAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("() => window.capstanStats ? window.capstanStats().then(s => JSON.stringify(s)) : '{}'");
        using var stats = JsonDocument.Parse(json);
        return stats.RootElement.TryGetProperty("framesDecoded", out var fd)
            ? fd.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64())
            : [];
    }

    private static long? Long(JsonElement state, string name) =>
        state.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;
}
