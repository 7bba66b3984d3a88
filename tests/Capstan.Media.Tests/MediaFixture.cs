using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Meetings;
using Capstan.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly)]

namespace Capstan.Media.Tests;

/// <summary>A real Capstan with its supervised Janus, and a headless Debian Chromium with fake camera and
/// microphone, all inside the network namespace that <c>scripts/netns.sh</c> creates (Janus needs a non-loopback
/// interface for ICE; nothing here can reach any other network).</summary>
public class MediaFixture : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "capstan-media-" + Guid.NewGuid().ToString("N"));
    private IPlaywright? _playwright;
    private readonly List<IBrowserContext> _contexts = [];
    private readonly DateTime _createdAt = DateTime.UtcNow;

    public WebApplication App { get; private set; } = null!;

    /// <summary>What the server logged (Capstan's own categories, Information and up), by recording.</summary>
    public ServerLog ServerLog { get; private set; } = null!;

    /// <summary>The server's data folder.</summary>
    public string DataDir => _dataDir;

    public Uri BaseUrl { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string AccountId { get; private set; } = null!;

    public Guid AppId { get; private set; }

    public HttpClient Api { get; private set; } = null!;

    public string AppPath => $"/client/v4/accounts/{AccountId}/realtime/kit/{AppId:D}";

    public async ValueTask InitializeAsync()
    {
        var iface = Environment.GetEnvironmentVariable("CAPSTAN_NETNS_INTERFACE")
            ?? throw new InvalidOperationException("The media tests run inside a network namespace: use ./capstan test, or scripts/netns.sh dotnet test --project tests/Capstan.Media.Tests");
        Directory.CreateDirectory(_dataDir);
        await BeforeStartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Capstan:DataDir"] = _dataDir,
            ["Capstan:Port"] = "0",
            ["Janus:Interface"] = iface,
            ["Janus:RtpPortRange"] = "20000-20999",
            // Small recordings on the shared 2 cores: 15 fps.
            ["Recorder:FrameRate"] = "15",
            ["Recorder:Slots"] = "2",
            // The browser composite unless a fixture says otherwise (NativeMediaFixture); the server's own default is
            // native where GStreamer is installed, as here.
            ["Recorder:Compositor"] = "browser",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Capstan"] = "Information",
            // The test servers (custom pages, watermarks, RTMP, SFTP, webhook receivers) are on the namespace's
            // own network and loopback: the outbound policy refuses both unless listed.
            ["Outbound:AllowedNetworks:0"] = "10.99.0.0/24",
            ["Outbound:AllowedNetworks:1"] = "127.0.0.0/8",
        };
        foreach (var (k, v) in ExtraSettings())
        {
            settings[k] = v;
        }
        App = CapstanHost.Build([], settings);
        ServerLog = ServerLog.AddTo(App.Services.GetRequiredService<ILoggerFactory>());
        await App.InitializeAsync(CancellationToken.None);
        await App.StartAsync();
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address);
        var janus = await App.Services.GetRequiredService<JanusInstances>().WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.True(janus.Count > 0, "Janus did not start; see " + Path.Combine(_dataDir, "janus", "janus.log"));

        await using (var scope = App.Services.CreateAsyncScope())
        {
            var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
            AccountId = await accounts.CreateAccountAsync(null, CancellationToken.None);
            var token = await accounts.CreateTokenAsync(AccountId, null, CancellationToken.None);
            AppId = (await accounts.CreateAppAsync(AccountId, "media tests", null, CancellationToken.None)).Id;
            Api = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
            Api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await LaunchBrowserAsync(BrowserArgs());
    }

    /// <summary>A participants' browser (fake camera and microphone) with <paramref name="extraArgs"/> added, e.g. a
    /// fake microphone file of its own (Chromium takes it per browser, not per page). The fixture's own is
    /// <see cref="Browser"/>; one launched here is the caller's to close.</summary>
    public Task<IBrowser> LaunchBrowserAsync(IEnumerable<string> extraArgs) =>
        _playwright!.Chromium.LaunchAsync(ParticipantBrowser(BrowserExecutable(), extraArgs));

    /// <summary>How a participants' Chromium is launched (headless, fake camera and microphone, no prompts, nothing
    /// fetched from outside), with <paramref name="extraArgs"/> added.</summary>
    public static BrowserTypeLaunchOptions ParticipantBrowser(string executable, IEnumerable<string> extraArgs) => new()
    {
        ExecutablePath = executable,
        Headless = true,
        Args =
        [
            "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-gpu",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            .. extraArgs,
        ],
    };

    /// <summary>Runs before the server starts (for example to start storage servers the settings point at).</summary>
    protected virtual Task BeforeStartAsync() => Task.CompletedTask;

    protected virtual IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [];

    /// <summary>The participants' browser.</summary>
    protected virtual string BrowserExecutable() => "/usr/bin/chromium";

    /// <summary>More flags for the participants' Chromium.</summary>
    protected virtual IEnumerable<string> BrowserArgs() => [];

    /// <summary>Opens the meeting page with <paramref name="token"/> in a browser context of its own (in
    /// <paramref name="browser"/>, or <see cref="Browser"/>); every RTCPeerConnection the page makes is counted in
    /// <c>window.__pcCount</c>.</summary>
    public async Task<IPage> OpenAsync(string token, int width = 960, int height = 540, IBrowser? browser = null)
    {
        var context = await (browser ?? Browser).NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        lock (_contexts)
        {
            _contexts.Add(context);
        }
        context.Close += (_, _) =>
        {
            lock (_contexts)
            {
                _contexts.Remove(context);
            }
        };
        var page = await context.NewPageAsync();
        await page.AddInitScriptAsync("""
            window.__pcCount = 0;
            const Native = window.RTCPeerConnection;
            window.RTCPeerConnection = function (...args) { window.__pcCount++; return new Native(...args); };
            window.RTCPeerConnection.prototype = Native.prototype;
            Object.setPrototypeOf(window.RTCPeerConnection, Native);
            """);
        await page.GotoAsync(new Uri(BaseUrl, "/meeting?authToken=" + Uri.EscapeDataString(token)).ToString());
        return page;
    }

    public async Task<string> NewMeetingAsync(object? body = null)
    {
        var r = await Api.PostAsJsonAsync($"{AppPath}/meetings", body ?? new { title = "media test" });
        Assert.Equal(System.Net.HttpStatusCode.Created, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonObject>())!["data"]!["id"]!.GetValue<string>();
    }

    public async Task<(string Id, string Token)> AddParticipantAsync(string meeting, string name, string preset = Presets.Participant)
    {
        var r = await Api.PostAsJsonAsync($"{AppPath}/meetings/{meeting}/participants", new { custom_participant_id = name.ToLowerInvariant(), preset_name = preset, name });
        var data = (await r.Content.ReadFromJsonAsync<JsonObject>())!["data"]!;
        return (data["id"]!.GetValue<string>(), data["token"]!.GetValue<string>());
    }

    public async Task<JsonNode?> GetAsync(string path)
    {
        using var r = await Api.GetAsync(AppPath + path);
        var body = await r.Content.ReadFromJsonAsync<JsonObject>();
        return r.IsSuccessStatusCode ? body!["data"] : null;
    }

    /// <summary>After each test (its class's <c>DisposeAsync</c>): stops every recording the test left running and
    /// closes every participant page it left open, so that a test that failed half-way does not hold the recorder's
    /// slots or the cores for the tests after it (seen in a CI run: an RTMP test that failed before its stop left its
    /// recording running for four minutes, and five tests after it waited 30 s for a slot in vain).</summary>
    public async Task AfterTestAsync()
    {
        List<IBrowserContext> open;
        lock (_contexts)
        {
            open = [.. _contexts];
            _contexts.Clear();
        }
        foreach (var c in open)
        {
            try
            {
                await c.CloseAsync();
            }
            catch (PlaywrightException)
            {
                // already closed with its test
            }
        }
        var active = new[] { "INVOKED", "RECORDING", "PAUSED" };
        async Task<List<string>> ActiveAsync() =>
            ((await GetAsync("/recordings?per_page=100")) as JsonArray ?? [])
                .Where(r => active.Contains(r?["status"]?.GetValue<string>()))
                .Select(r => r!["id"]!.GetValue<string>()).ToList();
        foreach (var id in await ActiveAsync())
        {
            using var _ = await Api.PutAsJsonAsync($"{AppPath}/recordings/{id}", new { action = "stop" });
        }
        await Wait.UntilAsync(async () => (await ActiveAsync()).Count == 0, "the recordings a test left running to stop", 60);
    }

    /// <summary>The streams of the live RTMP stream at <paramref name="url"/> (ffprobe, 15 s to appear), or a failure
    /// that carries the recording's RTMP pusher log.</summary>
    public async Task<string> ProbeLiveAsync(string url, string recordingId)
    {
        try
        {
            return await MediaFacts.RunAsync("ffprobe", ["-v", "error", "-rw_timeout", "15000000", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", url]);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var log = Path.Combine(_dataDir, "recorder", recordingId, "rtmp.log");
            var capture = Path.Combine(_dataDir, "recorder", recordingId, "capture.log");
            throw new Xunit.Sdk.XunitException($"{e.Message}\npusher's log: {(File.Exists(log) ? File.ReadAllText(log) : "(none)")}\n"
                + $"capture log's end: {(File.Exists(capture) ? string.Join('\n', File.ReadLines(capture).TakeLast(15)) : "(none)")}");
        }
    }

    /// <summary>pause, resume or stop; asserts 200 and returns the recording.</summary>
    public async Task<JsonNode> ActAsync(string id, string action)
    {
        var r = await Api.PutAsJsonAsync($"{AppPath}/recordings/{id}", new { action }, TestContext.Current.CancellationToken);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == System.Net.HttpStatusCode.OK, json!.ToJsonString());
        return json!["data"]!;
    }

    /// <summary>Waits until the recording has <paramref name="status"/>; fails at once if it ERRORED instead.</summary>
    public async Task<JsonNode> WaitStatusAsync(string id, string status, double seconds = 30)
    {
        JsonNode? rec = null;
        await Wait.UntilAsync(async () =>
        {
            rec = await GetAsync($"/recordings/{id}");
            var s = rec!["status"]!.GetValue<string>();
            Assert.True(s != "ERRORED" || status == "ERRORED", "the recording ERRORED: " + rec.ToJsonString());
            return s == status;
        }, $"recording {status}", seconds);
        return rec!;
    }

    /// <summary>Waits until the participant's page publishes (its camera and microphone reach the room), not only
    /// until it joined: a recording started between the two shows that participant only when the publisher
    /// event reaches the recorder's view, a second or so later.</summary>
    public static Task PublishingAsync(Microsoft.Playwright.IPage page, string what) =>
        Wait.UntilAsync(async () => await page.EvaluateAsync<bool>("() => window.capstanState.joined && window.capstanState.published"), what + " (publishing)");

    /// <summary>Frames of the feed shown as <paramref name="name"/> that <paramref name="page"/> has decoded (0 when
    /// none): that feed's video came through Janus to this page.</summary>
    public static async Task<long> FramesDecodedAsync(Microsoft.Playwright.IPage page, string name) =>
        await page.EvaluateAsync<long>("async (name) => (await window.capstanStats()).framesDecoded[name] || 0", name);

    /// <summary>Downloads <paramref name="url"/> into a new temporary file.</summary>
    public static async Task<string> DownloadAsync(string url, string extension)
    {
        var file = Path.Combine(Path.GetTempPath(), $"capstan-test-{Guid.NewGuid():N}.{extension}");
        using var http = new HttpClient();
        await File.WriteAllBytesAsync(file, await http.GetByteArrayAsync(new Uri(url), TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);
        return file;
    }

    public virtual async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        Api?.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // left for the OS temp cleaner
        }
        // The recorder's browsers leave nothing behind in the temporary directory either: each kept its singleton
        // socket in a folder of /tmp that outlived it (CaptureSurface.RemoveSingletonFolder). The participants'
        // browsers are closed by Playwright, which removes theirs.
        var left = Directory.EnumerateDirectories(Path.GetTempPath(), "org.chromium.Chromium.*")
            .Where(d => Directory.GetCreationTimeUtc(d) >= _createdAt || Directory.GetLastWriteTimeUtc(d) >= _createdAt).ToList();
        if (left.Count > 0 && App is not null)
        {
            throw new InvalidOperationException($"the fixture's browsers left {left.Count} folders in {Path.GetTempPath()}: {string.Join(", ", left.Take(5))}");
        }
    }
}

public static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes (then fails with <paramref name="what"/>).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await condition())
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {seconds} s waiting for: {what}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }
}
