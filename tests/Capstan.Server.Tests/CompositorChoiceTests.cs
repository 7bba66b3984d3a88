using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Capstan.Server.Data;
using Capstan.Server.Hosting;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

/// <summary>A server whose built-in layout is composited natively (<c>Recorder:Compositor = native</c>).</summary>
public sealed class NativeCompositorServer() : ServerFixture(DatabaseProvider.Sqlite)
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Recorder:Compositor", "native")];
}

/// <summary>The <c>compositor</c> extension field: chosen when a composite recording is started and kept with it.</summary>
public sealed class CompositorChoiceTests(NativeCompositorServer native, SqliteServer browser) : IClassFixture<NativeCompositorServer>, IClassFixture<SqliteServer>
{
    private static async Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode Body, HttpResponseMessage Response)> StartAsync(ServerFixture server, object extra)
    {
        var account = server.Account;
        var meeting = (await account.Client().PostJsonAsync($"{account.AppPath}/meetings", new { title = "Layout" })).Data(HttpStatusCode.Created).Str("id");
        var body = new Dictionary<string, object> { ["meeting_id"] = meeting };
        foreach (var p in extra.GetType().GetProperties())
        {
            body[p.Name] = p.GetValue(extra)!;
        }
        return await account.Client().PostJsonAsync($"{account.AppPath}/recordings", body);
    }

    [Fact]
    public async Task BuiltInLayout_FollowsTheSetting_AndIsKeptWithTheRecording()
    {
        var rec = (await StartAsync(native, new { })).Data();
        Assert.Equal("native", rec.Str("compositor"));
        var again = (await native.Account.Client().GetJsonAsync($"{native.Account.AppPath}/recordings/{rec.Str("id")}")).Data();
        Assert.Equal("native", again.Str("compositor"));
        var listed = (await native.Account.Client().GetJsonAsync($"{native.Account.AppPath}/recordings?meeting_id={rec.Str("meeting_id")}")).Body;
        // Lists leave it out (they do not read the recording's config).
        Assert.Null(listed["data"]![0]!["compositor"]);

        Assert.Equal("browser", (await StartAsync(browser, new { })).Data().Str("compositor"));
    }

    /// <summary>Native is accepted at start where GStreamer and the compositor's plugins are installed (as on every
    /// machine the tests run on: scripts/deps.sh installs them); unset, the setting is chosen at start.</summary>
    [Fact]
    public void Native_IsAcceptedWhereGStreamerIsInstalled_UnsetIsChosenAtStart()
    {
        Assert.Empty(NativeCompositorSupport.Missing());
        Assert.True(new RecorderOptionsValidator().Validate(null, new RecorderOptions { Compositor = RecorderOptions.NativeCompositor }).Succeeded);
        Assert.Null(new RecorderOptions().Compositor);
        Assert.True(new RecorderOptionsValidator().Validate(null, new RecorderOptions()).Succeeded);
        Assert.False(new RecorderOptionsValidator().Validate(null, new RecorderOptions { Compositor = "gpu" }).Succeeded);
    }

    /// <summary>The compositor's host is built beside the server (an ahead-of-time program, src/Capstan.CompositorHost);
    /// a <c>Recorder:CompositorHost</c> that names no file is refused at start with native, and named, and without
    /// native it does not matter.</summary>
    [Fact]
    public void Native_NeedsItsHost_BuiltBesideTheServer()
    {
        Assert.True(File.Exists(NativeComposite.DefaultHostPath()), NativeComposite.DefaultHostPath());
        var nowhere = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), NativeComposite.HostName);
        var missing = Assert.Single(NativeCompositorSupport.Missing(nowhere));
        Assert.Contains(nowhere, missing, StringComparison.Ordinal);
        var refused = new RecorderOptionsValidator().Validate(null, new RecorderOptions { Compositor = RecorderOptions.NativeCompositor, CompositorHost = nowhere });
        Assert.True(refused.Failed);
        Assert.Contains("Recorder:Compositor", refused.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(nowhere, refused.FailureMessage, StringComparison.Ordinal);
        Assert.True(new RecorderOptionsValidator().Validate(null, new RecorderOptions { Compositor = RecorderOptions.BrowserCompositor, CompositorHost = nowhere }).Succeeded);
    }

    /// <summary>The default: native in <c>serve</c> with its recorder, beside its own Janus, on SQLite, with GStreamer;
    /// the browser everywhere else (a stand-alone worker, no recorder, PostgreSQL, external or no Janus, GStreamer
    /// missing).</summary>
    [Fact]
    public void Default_IsNativeWhereItCanRun_ElseTheBrowser()
    {
        IReadOnlyList<string> none = [];
        string Default(bool worker = false, bool enabled = true, DatabaseProvider db = DatabaseProvider.Sqlite, Meetings.JanusOptions? janus = null, IReadOnlyList<string>? missing = null) =>
            RecorderOptions.DefaultCompositor(worker, enabled, db, janus ?? new Meetings.JanusOptions(), () => missing ?? none);
        Assert.Equal("native", Default());
        Assert.Equal("browser", Default(worker: true));
        Assert.Equal("browser", Default(enabled: false));
        Assert.Equal("browser", Default(db: DatabaseProvider.Postgres));
        Assert.Equal("browser", Default(janus: new Meetings.JanusOptions { Enabled = false }));
        Assert.Equal("browser", Default(janus: new Meetings.JanusOptions { Urls = ["http://10.0.0.5:8088/janus"] }));
        Assert.Equal("browser", Default(missing: ["the GStreamer plugin x264"]));
    }

    /// <summary>The choice is made when the options are read (AddRecorder's post-configuration), and a setting wins.</summary>
    [Theory]
    [InlineData(false, null, null, "native")]
    [InlineData(true, null, null, "browser")]
    [InlineData(false, "Host=10.0.0.7;Database=capstan", null, "browser")]
    [InlineData(false, null, "browser", "browser")]
    public void Default_IsChosenWhenTheOptionsAreRead(bool worker, string? database, string? setting, string expected)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(setting is null ? [] : [new("Recorder:Compositor", setting)]).Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(config)
            .AddSingleton(new CapstanOptions { Database = database });
        services.AddOptions<Meetings.JanusOptions>().BindConfiguration(Meetings.JanusOptions.Section);
        services.AddRecorder(standaloneWorker: worker);
        using var provider = services.BuildServiceProvider();
        Assert.Equal(expected, provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<RecorderOptions>>().Value.Compositor);
    }

    /// <summary>Warm browser surfaces: one per slot when the browser composites the built-in layout, one (for a
    /// custom url's quick start) with the native compositor.</summary>
    [Fact]
    public void WarmSurfaces_OnePerSlot_ForTheBrowser_OneForNative()
    {
        Assert.Equal(3, new RecorderOptions { Compositor = RecorderOptions.BrowserCompositor, Slots = 3 }.WarmSurfaces);
        Assert.Equal(1, new RecorderOptions { Compositor = RecorderOptions.NativeCompositor, Slots = 3 }.WarmSurfaces);
        Assert.Equal(0, new RecorderOptions { Compositor = RecorderOptions.NativeCompositor, Slots = 0 }.WarmSurfaces);
    }

    [Fact]
    public async Task CustomUrl_UsesTheBrowser_RtmpOutKeepsTheNativeCompositor()
    {
        Assert.Equal("browser", (await StartAsync(native, new { url = "https://93.184.216.34/app" })).Data().Str("compositor"));
        Assert.Equal("native", (await StartAsync(native, new { rtmp_out_config = new { rtmp_url = "rtmp://93.184.216.34/live/key" } })).Data().Str("compositor"));
        Assert.Equal("browser", (await StartAsync(browser, new { rtmp_out_config = new { rtmp_url = "rtmp://93.184.216.34/live/key" } })).Data().Str("compositor"));
    }
}
