using System.Text.Json;
using Microsoft.Playwright;

namespace Capstan.Bench.Recorder;

/// <summary>One headless Debian Chromium with a fake camera and microphone (no browser download), as the media
/// tests launch it: the participants. It runs under this program, outside the server's process tree, so it is
/// never counted as part of a recording.</summary>
public sealed class Browsers : IAsyncDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private readonly IPlaywright _playwright;

    private Browsers(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<Browsers> LaunchAsync(CancellationToken ct)
    {
        if (!File.Exists(Chromium))
        {
            throw new BenchException(Chromium + " is missing (scripts/deps.sh test installs it)");
        }
        var playwright = await Playwright.CreateAsync().WaitAsync(ct);
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
            ],
        }).WaitAsync(ct);
        return new Browsers(playwright, browser);
    }

    /// <summary>The participants' Chromium processes (browser, renderers, GPU, utility) under this program, outside
    /// the server's subtree.</summary>
    public static List<ProcStat> Processes(List<ProcStat> all, int serverPid) =>
        Proc.Descendants(all, Environment.ProcessId, [serverPid])
            .Where(p => Proc.Exe(p.Pid) is { } exe ? exe.StartsWith("/usr/lib/chromium/", StringComparison.Ordinal) : p.Comm.StartsWith("chrom", StringComparison.Ordinal))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Browser.CloseAsync();
        }
        catch (PlaywrightException)
        {
            // already gone
        }
        _playwright.Dispose();
    }
}

/// <summary>A meeting with N participant pages (a browser context each, 640x360, fake camera and microphone) that
/// have joined and, with two or more, decode each other; <see cref="DisposeAsync"/> leaves, closes the pages and
/// ends the session.</summary>
public sealed class Meeting : IAsyncDisposable
{
    private const string Preset = "group_call_participant";
    private readonly Api _api;
    private readonly List<IPage> _pages = [];

    private Meeting(Api api, string id, List<string> names)
    {
        _api = api;
        Id = id;
        Names = names;
    }

    public string Id { get; }

    public IReadOnlyList<string> Names { get; }

    public int Participants => Names.Count;

    public static async Task<Meeting> OpenAsync(Server server, Api api, Browsers browsers, string title, int participants, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(browsers);
        var id = await api.NewMeetingAsync(title, ct);
        var names = Enumerable.Range(1, participants).Select(i => $"Peer{i}").ToList();
        var meeting = new Meeting(api, id, names);
        try
        {
            var tokens = new List<string>();
            foreach (var name in names)
            {
                tokens.Add((await api.AddParticipantAsync(id, name, Preset, ct)).Token);
            }
            foreach (var _ in names)
            {
                var context = await browsers.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 640, Height = 360 } });
                meeting._pages.Add(await context.NewPageAsync());
            }
            var timeout = TimeSpan.FromSeconds(90);
            await Task.WhenAll(meeting._pages.Select((p, i) => p.GotoAsync(new Uri(server.BaseUrl, "/meeting?authToken=" + Uri.EscapeDataString(tokens[i])).ToString())))
                .WaitAsync(timeout, ct);
            await meeting.WaitReadyAsync(timeout, ct);
            return meeting;
        }
        catch
        {
            await meeting.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every page joined, the session counts every participant live, and (two or more) every page decodes
    /// every other participant.</summary>
    private async Task WaitReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var missing = new List<string>();
            for (var i = 0; i < _pages.Count; i++)
            {
                var state = await _pages[i].EvaluateAsync<JsonElement>("() => window.capstanState || { phase: 'loading', joined: false }");
                if (state.GetProperty("phase").GetString() == "error")
                {
                    throw new BenchException($"{Names[i]}'s page failed: {state.GetProperty("error")}");
                }
                if (!state.GetProperty("joined").GetBoolean())
                {
                    missing.Add($"{Names[i]} not joined");
                    continue;
                }
                var frames = await FramesAsync(_pages[i]);
                missing.AddRange(Names.Where((n, k) => k != i && frames.GetValueOrDefault(n) <= 0).Select(n => $"{Names[i]} has no frame of {n}"));
            }
            if (missing.Count == 0 && await _api.ActiveSessionAsync(Id, ct) is { } s && s.Live >= _pages.Count)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new BenchException($"timed out after {timeout.TotalSeconds} s waiting for the participants: {(missing.Count > 0 ? string.Join(", ", missing) : "the session does not count them live")}");
            }
            await Task.Delay(250, ct);
        }
    }

    private static async Task<Dictionary<string, long>> FramesAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("() => window.capstanStats ? window.capstanStats().then(s => JSON.stringify(s)) : '{}'");
        using var stats = JsonDocument.Parse(json);
        return stats.RootElement.TryGetProperty("framesDecoded", out var fd)
            ? fd.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64())
            : [];
    }

    /// <summary>Every page leaves (<c>capstanLeave()</c>), the pages close, and the session is ended with kick-all
    /// (it would otherwise stay LIVE for the meeting's keep-alive time).</summary>
    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var p in _pages)
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
        foreach (var p in _pages)
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
        _pages.Clear();
        try
        {
            if (await _api.ActiveSessionAsync(Id, cts.Token) is not null)
            {
                await _api.KickAllAsync(Id, cts.Token);
            }
        }
        catch (Exception e) when (e is HttpRequestException or BenchException or OperationCanceledException)
        {
            Console.WriteLine("   (could not end the session: " + e.Message + ")");
        }
    }
}
