using System.Net;
using Capstan.Server.Data;
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
    /// machine the tests run on: scripts/deps.sh installs them); the default is the browser.</summary>
    [Fact]
    public void Native_IsAcceptedWhereGStreamerIsInstalled_TheDefaultIsTheBrowser()
    {
        Assert.Empty(NativeCompositorSupport.Missing());
        Assert.True(new RecorderOptionsValidator().Validate(null, new RecorderOptions { Compositor = RecorderOptions.NativeCompositor }).Succeeded);
        Assert.Equal(RecorderOptions.BrowserCompositor, new RecorderOptions().Compositor);
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
