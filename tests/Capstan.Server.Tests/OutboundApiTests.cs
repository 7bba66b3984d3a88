using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Security;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

public sealed class OutboundApiTests_Sqlite(SqliteServer server) : OutboundApiTests(server), IClassFixture<SqliteServer>;

public sealed class OutboundApiTests_Postgres(PostgresServer server) : OutboundApiTests(server), IClassFixture<PostgresServer>;

/// <summary>The outbound policy at the request, per field: a hostile table of targets (loopback v4/v6, private,
/// CGNAT, link-local, metadata, 0.0.0.0, decimal/octal/hex/IPv4-mapped spellings, names that resolve to them) each
/// answering 400 naming the field, and storing nothing. The server runs with the default policy.</summary>
public abstract class OutboundApiTests(ServerFixture server)
{
    /// <summary>Hosts as they appear in a URL.</summary>
    public static readonly string[] UrlHosts =
    [
        "127.0.0.1", "[::1]", "10.0.0.1", "172.16.5.4", "192.168.0.10", "100.64.0.1", "169.254.169.254", "100.100.100.200",
        "[fd00:ec2::254]", "[fe80::1]", "[fd12::1]", "0.0.0.0", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]",
        "[::ffff:a9fe:a9fe]", "localhost", "LocalHost.", "metadata.google.internal", "{hostname}",
    ];

    /// <summary>Hosts as a bare <c>storage_config.host</c>.</summary>
    public static readonly string[] BareHosts =
    [
        "127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254", "0.0.0.0", "2130706433", "0x7f000001", "::ffff:127.0.0.1", "localhost", "{hostname}",
    ];

    private static string H(string host, string body) => body.Replace("HOST", host, StringComparison.Ordinal);

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var h in UrlHosts)
        {
            data.Add("recordings", H(h, """{"meeting_id":"{meeting}","url":"http://HOST/page"}"""), "url is refused");
            data.Add("webhooks", H(h, """{"name":"x","url":"https://HOST:8443/hook","events":["recording.statusUpdate"]}"""), "url is refused");
        }
        foreach (var h in new[] { "127.0.0.1", "[::1]", "169.254.169.254", "2130706433", "[::ffff:127.0.0.1]", "localhost", "{hostname}" })
        {
            data.Add("recordings", H(h, """{"meeting_id":"{meeting}","video_config":{"watermark":{"url":"http://HOST/w.png"}}}"""), "video_config.watermark.url is refused");
            data.Add("recordings", H(h, """{"meeting_id":"{meeting}","rtmp_out_config":{"rtmp_url":"rtmp://HOST/live/key"}}"""), "rtmp_out_config.rtmp_url is refused");
            data.Add("meetings", H(h, """{"title":"t","recording_config":{"video_config":{"watermark":{"url":"https://HOST/w.png"}}}}"""), "recording_config.video_config.watermark.url is refused");
            data.Add("meetings", H(h, """{"title":"t","recording_config":{"live_streaming_config":{"rtmp_url":"rtmps://HOST/live"}}}"""), "recording_config.live_streaming_config.rtmp_url is refused");
            data.Add("recordings", H(h, """{"meeting_id":"{meeting}","storage_config":{"type":"azure","access_key":"DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;BlobEndpoint=http://HOST:10000/a","bucket":"c"}}"""), "storage_config.access_key (the connection string's blob endpoint) is refused");
        }
        foreach (var h in BareHosts)
        {
            data.Add("recordings", H(h, """{"meeting_id":"{meeting}","storage_config":{"type":"sftp","host":"HOST","username":"u","auth_method":"PASSWORD","password":"p"}}"""), "storage_config.host is refused");
            data.Add("meetings", H(h, """{"title":"t","recording_config":{"storage_config":{"type":"sftp","host":"HOST","username":"u","auth_method":"PASSWORD","password":"p"}}}"""), "recording_config.storage_config.host is refused");
        }
        data.Add("recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"azure","access_key":"UseDevelopmentStorage=true","bucket":"c"}}""", "storage_config.access_key");
        data.Add("recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"aws","access_key":"k","secret":"s","bucket":"b","region":"127.0.0.1/x?"}}""", "storage_config.region must be a region name");
        data.Add("recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"digitalocean","access_key":"k","secret":"s","bucket":"b","region":"evil.example/"}}""", "storage_config.region must be a region name");
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RefusedTarget_Answers400NamingTheField_AndStoresNothing(string route, string body, string fragment)
    {
        var account = await server.CreateAccountAsync();
        var c = account.Client();
        var meeting = (await c.PostJsonAsync($"{account.AppPath}/meetings", new { title = "m" })).Data(HttpStatusCode.Created).Str("id");
        var raw = body.Replace("{meeting}", meeting, StringComparison.Ordinal).Replace("{hostname}", Dns.GetHostName(), StringComparison.Ordinal);

        var r = await c.SendAsync(HttpMethod.Post, $"{account.AppPath}/{route}", rawBody: raw);
        r.Error(HttpStatusCode.BadRequest, fragment);

        Assert.Equal(0, (await c.GetJsonAsync($"{account.AppPath}/recordings")).Body["paging"]!["total_count"]!.GetValue<int>());
        Assert.Empty((await c.GetJsonAsync($"{account.AppPath}/webhooks")).Data().AsArray());
        Assert.Single((await c.GetJsonAsync($"{account.AppPath}/meetings")).Data().AsArray());
    }

    [Fact]
    public async Task MachineHostName_ResolvesToARefusedAddress()
    {
        // The precondition of the {hostname} rows: the name is refused by what it resolves to, not by its spelling.
        var addresses = await Dns.GetHostAddressesAsync(Dns.GetHostName(), TestContext.Current.CancellationToken);
        var policy = server.Services.GetRequiredService<OutboundPolicy>();
        Assert.Contains(addresses, a => policy.CheckAddress(a) is not null);
    }

    [Fact]
    public async Task PublicTargets_AreAccepted()
    {
        var account = await server.CreateAccountAsync();
        var c = account.Client();
        var meeting = (await c.PostJsonAsync($"{account.AppPath}/meetings", new { title = "m" })).Data(HttpStatusCode.Created).Str("id");
        (await c.PostJsonAsync($"{account.AppPath}/webhooks", new { name = "h", url = "https://8.8.8.8/hook", events = new[] { "recording.statusUpdate" } })).Data(HttpStatusCode.Created);
        var rec = (await c.PostJsonAsync($"{account.AppPath}/recordings", new
        {
            meeting_id = meeting,
            url = "https://pages.example.com/view",
            video_config = new { watermark = new { url = "https://93.184.216.34/w.png" } },
            storage_config = new { type = "sftp", host = "files.example.com", username = "u", auth_method = "PASSWORD", password = "p" },
        })).Data();
        Assert.Equal("INVOKED", rec.Str("status"));
    }

    [Fact]
    public async Task MeetingRecordingConfig_StoredBeforeThePolicyRefusedIt_IsCheckedAtStart()
    {
        // A stored meeting config written behind the API's back (as an older server without the policy would have).
        var account = await server.CreateAccountAsync();
        var c = account.Client();
        var meeting = (await c.PostJsonAsync($"{account.AppPath}/meetings", new { title = "m" })).Data(HttpStatusCode.Created).Str("id");
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Capstan.Server.Data.CapstanDbContext>();
            var row = await db.Meetings.FindAsync([Guid.Parse(meeting)], TestContext.Current.CancellationToken);
            var protector = scope.ServiceProvider.GetRequiredService<SecretProtector>();
            var config = new Capstan.Contracts.RecordingConfig { VideoConfig = new Capstan.Contracts.VideoConfig { Watermark = new Capstan.Contracts.WatermarkConfig { Url = "http://169.254.169.254/latest/meta-data/" } } };
            row!.RecordingConfigJson = Capstan.Server.Domain.Mapping.Write(Capstan.Server.Domain.RecordingConfigs.Store(config, protector));
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }
        (await c.PostJsonAsync($"{account.AppPath}/recordings", new { meeting_id = meeting }))
            .Error(HttpStatusCode.BadRequest, "recording_config.video_config.watermark.url (meeting or app) is refused", "metadata");
        Assert.Equal(0, (await c.GetJsonAsync($"{account.AppPath}/recordings")).Body["paging"]!["total_count"]!.GetValue<int>());
    }
}

/// <summary>Webhook delivery with the default policy (no private targets) and quick polling.</summary>
public sealed class OutboundWebhookServer() : ServerFixture(DatabaseProvider.Sqlite)
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("Webhooks:PollInterval", "00:00:00.100"),
        new("Webhooks:FirstRetryDelay", "00:00:00.200"),
    ];
}

/// <summary>The outbound policy at connect time: a webhook whose name passes the check at creation and resolves
/// to loopback when delivering (DNS rebinding) is never connected to, and its attempt is listed with the reason.
/// The resolver is the one boundary replaced: it answers as a rebinding DNS server would.</summary>
public sealed class OutboundWebhookTests(OutboundWebhookServer server) : IClassFixture<OutboundWebhookServer>
{
    [Fact]
    public async Task WebhookThatTurnsPrivateAtConnectTime_IsRefused_AndTheAttemptIsListedWithTheReason()
    {
        using var receiver = new TcpListener(IPAddress.Loopback, 0);
        receiver.Start();
        var port = ((IPEndPoint)receiver.LocalEndpoint).Port;
        var policy = server.Services.GetRequiredService<OutboundPolicy>();
        var original = policy.Resolve;
        var lookups = 0;
        policy.Resolve = (host, ct) => host == "rebind.test"
            ? Task.FromResult(Interlocked.Increment(ref lookups) == 1 ? new[] { IPAddress.Parse("93.184.216.34") } : [IPAddress.Loopback])
            : original(host, ct);
        try
        {
            var account = await server.CreateAccountAsync();
            var c = account.Client();
            var hook = (await c.PostJsonAsync($"{account.AppPath}/webhooks", new { name = "r", url = $"http://rebind.test:{port}/hook", events = new[] { "recording.statusUpdate" } }))
                .Data(HttpStatusCode.Created).Str("id");
            Assert.Equal(1, lookups); // checked at the request: public then
            var meeting = (await c.PostJsonAsync($"{account.AppPath}/meetings", new { title = "m" })).Data(HttpStatusCode.Created).Str("id");
            (await c.PostJsonAsync($"{account.AppPath}/recordings", new { meeting_id = meeting })).Data();

            JsonNode? delivery = null;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (delivery is null)
            {
                Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the refused attempt");
                var list = (await c.GetJsonAsync($"{account.AppPath}/webhooks/{hook}/deliveries")).Data().AsArray();
                delivery = list.FirstOrDefault(d => d!.Str("status") == "FAILED");
                if (delivery is null)
                {
                    await Task.Delay(100, TestContext.Current.CancellationToken);
                }
            }
            var attempt = delivery["attempt_log"]!.AsArray().Single()!;
            var error = attempt["error"]!.GetValue<string>();
            Assert.Contains("'rebind.test' resolves to 127.0.0.1, a loopback address", error, StringComparison.Ordinal);
            Assert.Contains("outbound policy", error, StringComparison.Ordinal);
            Assert.False(receiver.Pending(), "the delivery connected to the loopback receiver");
            Assert.True(lookups >= 2);
        }
        finally
        {
            policy.Resolve = original;
        }
    }
}

/// <summary><c>capstan app storage set</c> (the app default storage) goes through the same request-time check.</summary>
public sealed class OutboundCommandLineTests
{
    [Fact]
    public async Task AppStorageSet_OnARefusedHost_ExitsWithAnErrorAndStoresNothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            Guid appId;
            await using (var app = Capstan.Server.Hosting.CapstanHost.Build([], [new("Capstan:DataDir", dir), new("Capstan:Port", "0")]))
            {
                await Capstan.Server.Data.DatabaseSetup.MigrateAsync(app.Services, TestContext.Current.CancellationToken);
                await using var scope = app.Services.CreateAsyncScope();
                var accounts = scope.ServiceProvider.GetRequiredService<Capstan.Server.Domain.AccountService>();
                var account = await accounts.CreateAccountAsync(null, TestContext.Current.CancellationToken);
                appId = (await accounts.CreateAppAsync(account, "cli", null, TestContext.Current.CancellationToken)).Id;
            }
            string[] Args(string host) => ["app", "storage", "set", "--app", appId.ToString("D"), "--data-dir", dir, "--type", "sftp", "--host", host, "--username", "u", "--auth-method", "PASSWORD", "--password", "p"];

            Assert.Equal(1, await Capstan.Server.Hosting.CapstanCommands.RunAsync(Args("0x7f.0.0.1")));
            Assert.Null(await DefaultConfigAsync(dir, appId));
            Assert.Equal(0, await Capstan.Server.Hosting.CapstanCommands.RunAsync(Args("files.example.com")));
            Assert.NotNull(await DefaultConfigAsync(dir, appId));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<string?> DefaultConfigAsync(string dir, Guid appId)
    {
        await using var app = Capstan.Server.Hosting.CapstanHost.Build([], [new("Capstan:DataDir", dir), new("Capstan:Port", "0")]);
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        return (await db.Apps.FindAsync([appId], TestContext.Current.CancellationToken))!.DefaultRecordingConfigJson;
    }
}
