using System.Net;
using Capstan.Server.Hosting;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Capstan.Server.Tests;

/// <summary><c>/healthz</c> is liveness; <c>/readyz</c> is 200 only when every check passes, else 503 with the
/// failing checks named in the error envelope.</summary>
public sealed class HealthTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readyz_WithDatabaseUp_AndJanusAndRecorderOff_Is200_NamingEachCheck()
    {
        await using var server = await Server.StartAsync([]);
        using var c = server.Client();
        var ready = (await c.GetJsonAsync("/readyz")).Data();
        Assert.Equal("ready", ready.Str("status"));
        Assert.Equal("ok", ready["checks"]!["database"]!.Str("status"));
        Assert.Contains("migrated", ready["checks"]!["database"]!.Str("description"), StringComparison.Ordinal);
        Assert.Contains("disabled", ready["checks"]!["janus"]!.Str("description"), StringComparison.Ordinal);
        Assert.Contains("disabled", ready["checks"]!["recorder"]!.Str("description"), StringComparison.Ordinal);
        Assert.Equal("ok", (await c.GetJsonAsync("/healthz")).Data().Str("status"));
    }

    [Fact]
    public async Task Readyz_TurnsUnavailable_WhenPostgresStops_AndReadyAgainWhenItReturns()
    {
        await using var pg = await ThrowawayPostgres.StartAsync();
        await using var server = await Server.StartAsync([new("Capstan:Database", pg.ConnectionString), new("Metrics:Token", "metrics-token-0123456789abcdef")]);
        using var c = server.Client();
        (await c.GetJsonAsync("/readyz")).Data();
        Assert.Contains("capstan_recordings", (await Scrape.GetAsync(server.BaseUrl, "metrics-token-0123456789abcdef")).Names);

        await pg.HaltAsync();
        var down = await c.GetJsonAsync("/readyz");
        down.Error(HttpStatusCode.ServiceUnavailable, "not ready", "database (does not answer");
        Assert.Equal("failing", down.Body["checks"]!["database"]!.Str("status"));
        // Liveness does not depend on the database: a restart would not help.
        Assert.Equal(HttpStatusCode.OK, (await c.GetJsonAsync("/healthz")).Status);
        // The scrape still answers; the database-backed gauges are left out of it, the rest is there.
        // (after the gauges' one-second snapshot of the database has run out)
        Scrape scrape = null!;
        await MetricsTests.UntilAsync(async () => !(scrape = await Scrape.GetAsync(server.BaseUrl, "metrics-token-0123456789abcdef")).Names.Contains("capstan_recordings"),
            "capstan_recordings to leave the scrape while the database is down", 10);
        Assert.Contains("dotnet_gc_collections_total", scrape.Names);

        await pg.ResumeAsync();
        await MetricsTests.UntilAsync(async () => (await c.GetJsonAsync("/readyz")).Status == HttpStatusCode.OK, "/readyz back to 200", 30);
    }

    [Fact]
    public async Task Readyz_WithRecorderToolsMissing_Is503_NamingTheTools()
    {
        await using var server = await Server.StartAsync(
        [
            new("Recorder:Enabled", "true"), new("Recorder:Slots", "1"),
            new("Recorder:Chromium", "/nonexistent/chromium"), new("Recorder:Xvfb", "/nonexistent/Xvfb"), new("Recorder:PulseAudio", "/nonexistent/pulseaudio"),
        ]);
        using var c = server.Client();
        var r = await c.GetJsonAsync("/readyz");
        var message = r.Error(HttpStatusCode.ServiceUnavailable, "recorder (missing tools: chromium (/nonexistent/chromium), Xvfb (/nonexistent/Xvfb), pulseaudio (/nonexistent/pulseaudio)");
        Assert.DoesNotContain("database", message, StringComparison.Ordinal);
        Assert.Equal("ok", r.Body["checks"]!["database"]!.Str("status"));
    }

    [Fact]
    public async Task Readyz_WithRecorderToolsPresent_ButNoWarmSlot_Is503_CountingTheSlots()
    {
        // Tools that exist but do nothing: the worker starts, and its warm display/browser never comes up. (The real
        // gst-launch-1.0: as root the worker first checks, with it, that the recorder's user can run the capture.)
        await using var server = await Server.StartAsync(
        [
            new("Recorder:Enabled", "true"), new("Recorder:Slots", "1"),
            new("Recorder:Chromium", "/bin/true"), new("Recorder:Xvfb", "/bin/true"), new("Recorder:Ffmpeg", "/bin/true"),
            new("Recorder:Ffprobe", "/bin/true"), new("Recorder:PulseAudio", "/bin/true"), new("Recorder:Pactl", "/bin/true"),
        ]);
        using var c = server.Client();
        string? message = null;
        await MetricsTests.UntilAsync(async () =>
        {
            var r = await c.GetJsonAsync("/readyz");
            message = r.Body["error"]?["message"]?.GetValue<string>();
            return r.Status == HttpStatusCode.ServiceUnavailable && message?.Contains("slot(s) up", StringComparison.Ordinal) == true;
        }, "the recorder check to count its slots", 20, () => message ?? "(no message)");
        Assert.Contains("recorder (0 of 1 slot(s) up (0 warm, 0 busy))", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_WithJanusNotAnswering_Is503_NamingJanusAndItsUrl()
    {
        using var refusing = new RefusingPort();
        var closed = refusing.Url + "/janus";
        await using var server = await Server.StartAsync(
        [
            new("Janus:Enabled", "true"), new("Janus:Urls:0", closed), new("Janus:AdminKey", "k"), new("Janus:EventsPassword", "p"),
        ]);
        using var c = server.Client();
        await MetricsTests.UntilAsync(async () => (await c.GetJsonAsync("/readyz")).Body.ToJsonString().Contains(closed, StringComparison.Ordinal), "the Janus instance in the check", 10);
        (await c.GetJsonAsync("/readyz")).Error(HttpStatusCode.ServiceUnavailable, "janus (" + closed);
    }

    /// <summary>A server on its own data folder (SQLite unless the settings name a database), Janus and recorder off
    /// unless the settings turn them on.</summary>
    private sealed class Server : IAsyncDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));

        private WebApplication _app = null!;

        public Uri BaseUrl { get; private set; } = null!;

        public static async Task<Server> StartAsync(KeyValuePair<string, string?>[] extra)
        {
            var s = new Server();
            var settings = new Dictionary<string, string?>
            {
                ["Capstan:DataDir"] = s._dir, ["Capstan:Port"] = "0", ["Logging:LogLevel:Default"] = "Warning",
                ["Janus:Enabled"] = "false", ["Recorder:Enabled"] = "false",
            };
            foreach (var (k, v) in extra)
            {
                settings[k] = v;
            }
            s._app = CapstanHost.Build([], settings);
            try
            {
                await s._app.InitializeAsync(Ct);
                await s._app.StartAsync(Ct);
            }
            catch
            {
                await s.DisposeAsync();
                throw;
            }
            var address = s._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            s.BaseUrl = new Uri(address);
            return s;
        }

        public HttpClient Client() => new() { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
                // gone already, or a pooled SQLite connection still holds the file
            }
        }
    }
}
