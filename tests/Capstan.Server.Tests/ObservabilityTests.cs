using System.Net;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests;

/// <summary>Metrics and traces are process-wide in .NET (a MeterListener sees every Meter named "Capstan", and
/// OpenTelemetry merges same-named instruments), so these classes run alone, after the parallel ones, when no other
/// test server is alive to add to the counters.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ObservabilityCollection
{
    public const string Name = "observability";
}

public abstract class MetricsServer(DatabaseProvider provider) : ServerFixture(provider)
{
    public const string Token = "metrics-token-0123456789abcdef";

    /// <summary>Held for the whole run (both databases' servers use it), so no other test's server can take it.</summary>
    public static readonly RefusingPort ClosedPort = new();

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("Metrics:Token", Token),
        new("Metrics:Node", "test-node"),
        new("Webhooks:AllowPrivateTargets", "true"),
        new("Webhooks:PollInterval", "00:00:00.100"),
        new("Webhooks:FirstRetryDelay", "00:00:00.200"),
        // An S3 endpoint that resets every connection: an unreachable destination, retried briefly, then failed.
        new("Storage:Endpoints:aws", ClosedPort.Url),
        new("Storage:RetryFor", "00:00:01"),
        new("Storage:FirstRetryDelay", "00:00:00.200"),
    ];
}

public sealed class MetricsSqliteServer() : MetricsServer(DatabaseProvider.Sqlite);

public sealed class MetricsPostgresServer() : MetricsServer(DatabaseProvider.Postgres);

[Collection(ObservabilityCollection.Name)]
public sealed class MetricsTests_Sqlite(MetricsSqliteServer server) : MetricsTests(server), IClassFixture<MetricsSqliteServer>;

[Collection(ObservabilityCollection.Name)]
public sealed class MetricsTests_Postgres(MetricsPostgresServer server) : MetricsTests(server), IClassFixture<MetricsPostgresServer>;

/// <summary><c>/metrics</c> behind <c>Metrics:Token</c>: the scrape is refused without it; the listed instruments
/// are exported under their exact names and move with real API calls, webhook deliveries, uploads and recording
/// transitions. The API suites cannot record media (no Janus or browser here), so the RECORDING and UPLOADED
/// transitions are driven through <see cref="RecordingLifecycle"/>, as the recorder does.</summary>
public abstract class MetricsTests(ServerFixture server)
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Scrape_WithoutOrWithWrongToken_Is401InTheErrorEnvelope()
    {
        using var c = server.Client();
        (await c.GetJsonAsync("/metrics")).Error(HttpStatusCode.Unauthorized, "Metrics:Token");
        using var wrong = server.Client("metrics-token-but-not-the-right-one");
        var refused = await wrong.GetJsonAsync("/metrics");
        refused.Error(HttpStatusCode.Unauthorized, "metrics token");
        Assert.Equal("Bearer", refused.Response.Headers.WwwAuthenticate.ToString());
        // The API token is not the metrics token either.
        (await server.Account.Client().GetJsonAsync("/metrics")).Error(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Scrape_ExportsTheListedNames_AndHttpAndRuntimeMetrics()
    {
        (await server.Account.Client().GetJsonAsync($"{server.Account.AppPath}/meetings")).Data();
        var metrics = server.Services.GetRequiredService<CapstanMetrics>();
        metrics.AttachRecorder(() => new RecorderLoad(3, 1, 2, new Recorder.NodeCapacity(1.6, 0.55, 4096, 1024, 1, new Dictionary<string, Recorder.ClassEstimate>())));
        var scrape = await Scrape.GetAsync(server.BaseUrl, MetricsServer.Token);
        foreach (var name in new[]
        {
            "capstan_recordings", "capstan_recorder_queue_depth", "capstan_janus_rooms", "capstan_janus_participants",
            "capstan_recorder_slots", "capstan_recorder_busy", "capstan_capture_frames_dropped_total", "capstan_capture_restarts_total",
            "http_server_request_duration_seconds_count", "dotnet_gc_collections_total",
        })
        {
            Assert.True(scrape.Names.Contains(name), $"{name} is not in the scrape:\n{scrape.Text}");
        }
        Assert.Equal(3, scrape.Value("capstan_recorder_slots", ("node", "test-node")));
        Assert.Equal(1, scrape.Value("capstan_recorder_busy", ("node", "test-node")));
        // The measured capacity (Recorder.CostMeter).
        Assert.Equal((1.6, 0.55, 4096.0, 1024.0), (scrape.Value("capstan_recorder_cpu_capacity_cores", ("node", "test-node")), scrape.Value("capstan_recorder_cpu_used_cores", ("node", "test-node")),
            scrape.Value("capstan_recorder_memory_capacity_bytes", ("node", "test-node")), scrape.Value("capstan_recorder_memory_used_bytes", ("node", "test-node"))));
        Assert.True(scrape.Has("capstan_recordings", ("status", "UPLOADED"), ("type", "COMPOSITE")), "every status is exported, 0 included");
        // ASP.NET Core records the request's duration as the request ends, which can be just after the client has the answer.
        Scrape last = scrape;
        await UntilAsync(async () => (last = await Scrape.GetAsync(server.BaseUrl, MetricsServer.Token))
            .Value("http_server_request_duration_seconds_count", ("http_route", "/accounts/{account_id}/realtime/kit/{app_id}/meetings*"), ("http_request_method", "GET")) >= 1,
            "the GET of meetings in http_server_request_duration_seconds", failure: () => string.Join('\n', last.Text.Split('\n').Where(l => l.StartsWith("http_server_request_duration_seconds_count", StringComparison.Ordinal))));
    }

    [Fact]
    public async Task Counters_AndHistograms_MoveWithRecordingsUploadsAndWebhooks()
    {
        var account = await server.CreateAccountAsync();
        var c = account.Client();
        using var receiver = new WebhookReceiver();
        (await c.PostJsonAsync($"{account.AppPath}/webhooks", new { name = "m", url = receiver.Url, events = new[] { "recording.statusUpdate" } })).Data(HttpStatusCode.Created);
        var before = await Scrape.GetAsync(server.BaseUrl, MetricsServer.Token);

        var meeting = (await c.PostJsonAsync($"{account.AppPath}/meetings", new { title = "metered" })).Data(HttpStatusCode.Created).Str("id");
        var recording = Guid.Parse((await c.PostJsonAsync($"{account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id"));
        await UntilAsync(async () =>
        {
            var s = await Scrape.GetAsync(server.BaseUrl, MetricsServer.Token);
            return s.Value("capstan_recordings", ("status", "INVOKED"), ("type", "COMPOSITE")) == before.Value("capstan_recordings", ("status", "INVOKED"), ("type", "COMPOSITE")) + 1
                && s.Value("capstan_recorder_queue_depth") == before.Value("capstan_recorder_queue_depth") + 1
                && s.Value("capstan_webhook_deliveries_total", ("result", "delivered")) >= before.Value("capstan_webhook_deliveries_total", ("result", "delivered")) + 1;
        }, "INVOKED +1, queue +1, one webhook delivered");

        // The recorder's first frame 2.5 s after the API call, as CompositeCapture reports it.
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var row = await db.Recordings.FirstAsync(r => r.Id == recording, Ct);
            await scope.ServiceProvider.GetRequiredService<RecordingLifecycle>().MarkStartedAsync(row, row.InvokedTime.AddSeconds(2.5), Ct);
            await db.SaveChangesAsync(Ct);
        }
        (await c.PutJsonAsync($"{account.AppPath}/recordings/{recording}", new { action = "stop" })).Data();
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var row = await db.Recordings.FirstAsync(r => r.Id == recording, Ct);
            Assert.Equal("UPLOADING", row.Status);
            await scope.ServiceProvider.GetRequiredService<RecordingLifecycle>().CompleteAsync(row, 1234, 3, "http://capstan.test/x", null, DateTime.UtcNow.AddDays(7), Ct);
            await db.SaveChangesAsync(Ct);
        }

        // A default-bucket store and an upload to an unreachable S3 endpoint (retried, then failed).
        var file = Path.Combine(Path.GetTempPath(), "capstan-metrics-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(file, new byte[4321], Ct);
        try
        {
            await server.Services.GetRequiredService<DefaultBucket>().StoreAsync(account.AppId, recording, file, "metered.mp4", Ct);
            var spool = server.Services.GetRequiredService<Storage.UploadSpool>();
            var item = await Storage.UploadItem.ForFileAsync(file, "metered.mp4", Ct);
            var unreachable = await Assert.ThrowsAsync<Storage.StorageException>(() => spool.DeliverAsync(
                new Contracts.StorageConfig { Type = "aws", Bucket = "b", Region = "us-east-1", AccessKey = "k", Secret = "s" }, [item], Ct));
            Assert.True(unreachable.Failure == Storage.StorageFailure.Unreachable, $"{unreachable.Failure}: {unreachable.Message}");
        }
        finally
        {
            File.Delete(file);
        }
        var metrics = server.Services.GetRequiredService<CapstanMetrics>();
        metrics.CaptureFramesDropped(7);
        metrics.CaptureRestarted();

        Scrape after = null!;
        await UntilAsync(async () =>
        {
            after = await Scrape.GetAsync(server.BaseUrl, MetricsServer.Token);
            return after.Value("capstan_recordings", ("status", "UPLOADED"), ("type", "COMPOSITE")) == before.Value("capstan_recordings", ("status", "UPLOADED"), ("type", "COMPOSITE")) + 1
                && after.Value("capstan_webhook_deliveries_total", ("result", "delivered")) >= before.Value("capstan_webhook_deliveries_total", ("result", "delivered")) + 4;
        }, "UPLOADED +1 and the four status updates delivered");
        Assert.Equal(before.Value("capstan_recording_start_seconds_count") + 1, after.Value("capstan_recording_start_seconds_count"));
        Assert.Equal(before.Value("capstan_recording_start_seconds_sum") + 2.5, after.Value("capstan_recording_start_seconds_sum"), 3);
        Assert.Equal(before.Value("capstan_recording_start_seconds_bucket", ("le", "3")) + 1, after.Value("capstan_recording_start_seconds_bucket", ("le", "3")));
        Assert.Equal(before.Value("capstan_recording_start_seconds_bucket", ("le", "2")), after.Value("capstan_recording_start_seconds_bucket", ("le", "2")));
        Assert.Equal(before.Value("capstan_recording_stop_to_uploaded_seconds_count") + 1, after.Value("capstan_recording_stop_to_uploaded_seconds_count"));
        Assert.Equal(before.Value("capstan_uploads_total", ("destination_type", "default"), ("result", "success")) + 1, after.Value("capstan_uploads_total", ("destination_type", "default"), ("result", "success")));
        Assert.Equal(before.Value("capstan_upload_bytes_total", ("destination_type", "default")) + 4321, after.Value("capstan_upload_bytes_total", ("destination_type", "default")));
        Assert.True(after.Value("capstan_uploads_total", ("destination_type", "aws"), ("result", "retry")) >= before.Value("capstan_uploads_total", ("destination_type", "aws"), ("result", "retry")) + 1, after.Text);
        Assert.Equal(before.Value("capstan_uploads_total", ("destination_type", "aws"), ("result", "failed")) + 1, after.Value("capstan_uploads_total", ("destination_type", "aws"), ("result", "failed")));
        Assert.Equal(before.Value("capstan_upload_bytes_total", ("destination_type", "aws")), after.Value("capstan_upload_bytes_total", ("destination_type", "aws")));
        Assert.Equal(before.Value("capstan_capture_frames_dropped_total") + 7, after.Value("capstan_capture_frames_dropped_total"));
        Assert.Equal(before.Value("capstan_capture_restarts_total") + 1, after.Value("capstan_capture_restarts_total"));
        Assert.Equal(before.Value("capstan_recorder_queue_depth"), after.Value("capstan_recorder_queue_depth"));
    }

    internal static async Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 20, Func<string>? failure = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what + (failure is null ? string.Empty : ": " + failure()));
            await Task.Delay(100, Ct);
        }
    }
}

/// <summary><c>Metrics:Port</c>: <c>/metrics</c> alone on its own port, without a token; not on the main port.</summary>
public sealed class MetricsPortServer() : ServerFixture(DatabaseProvider.Sqlite)
{
    public int MetricsPort { get; } = new Uri(WebhookReceiver.FreeUrl()).Port;

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Metrics:Port", MetricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture))];
}

[Collection(ObservabilityCollection.Name)]
public sealed class MetricsPortTests(MetricsPortServer server) : IClassFixture<MetricsPortServer>
{
    [Fact]
    public async Task MetricsPort_ServesTheScrapeAlone_AndTheMainPortDoesNot()
    {
        var metricsUrl = new Uri($"http://127.0.0.1:{server.MetricsPort}");
        var scrape = await Scrape.GetAsync(metricsUrl, token: null);
        Assert.Contains("capstan_recordings", scrape.Names);
        using var main = server.Client();
        (await main.GetJsonAsync("/metrics")).Error(HttpStatusCode.NotFound);
        using var side = new HttpClient { BaseAddress = metricsUrl };
        (await side.GetJsonAsync("/healthz")).Error(HttpStatusCode.NotFound, "only /metrics");
        (await side.GetJsonAsync($"{server.Account.AppPath}/meetings")).Error(HttpStatusCode.NotFound, "only /metrics");
    }
}

[Collection(ObservabilityCollection.Name)]
public sealed class MetricsOptionsTests
{
    [Theory]
    [InlineData("Metrics:Token", "short", "Metrics:Token must be at least 16 characters")]
    [InlineData("Metrics:Port", "70000", "Metrics:Port must be 1..65535")]
    [InlineData("Metrics:ListenAddress", "not-an-ip", "Metrics:ListenAddress must be an IP address")]
    [InlineData("Logging:Format", "xml", "Logging:Format must be 'text' or 'json'")]
    public async Task BadSettings_StopTheStart_NamingTheSetting(string key, string value, string message)
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?>
        {
            ["Capstan:DataDir"] = dir, ["Capstan:Port"] = "0", ["Janus:Enabled"] = "false", ["Recorder:Enabled"] = "false", [key] = value,
        };
        try
        {
            var e = await Record.ExceptionAsync(async () =>
            {
                await using var app = CapstanHost.Build([], settings);
                await app.StartAsync(TestContext.Current.CancellationToken);
                await app.StopAsync(TestContext.Current.CancellationToken);
            });
            Assert.NotNull(e);
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task WithoutTokenOrPort_MetricsAre404_NamingTheSettings()
    {
        await using var fixture = new SqliteServer();
        await fixture.InitializeAsync();
        using var c = fixture.Client();
        (await c.GetJsonAsync("/metrics")).Error(HttpStatusCode.NotFound, "Metrics:Token", "Metrics:Port");
    }
}

/// <summary>A stand-alone worker has no Kestrel: its <c>Metrics:Port</c> is served by the exporter's own listener.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class WorkerMetricsTests
{
    [Fact]
    public async Task Worker_ServesMetricsOnItsPort()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        var port = new Uri(WebhookReceiver.FreeUrl()).Port;
        var settings = new Dictionary<string, string?>
        {
            ["Capstan:DataDir"] = dir, ["Recorder:ServerUrl"] = "http://127.0.0.1:9", ["Recorder:Enabled"] = "false",
            ["Metrics:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["Logging:LogLevel:Default"] = "Warning",
        };
        using var worker = CapstanHost.BuildWorker(settings);
        await DatabaseSetup.MigrateAsync(worker.Services, TestContext.Current.CancellationToken);
        await worker.StartAsync(TestContext.Current.CancellationToken);
        try
        {
            var scrape = await Scrape.GetAsync(new Uri($"http://127.0.0.1:{port}"), token: null);
            Assert.Contains("capstan_recorder_queue_depth", scrape.Names);
            Assert.Equal(0, scrape.Value("capstan_recorder_queue_depth"));
            Assert.Contains("dotnet_gc_collections_total", scrape.Names);
        }
        finally
        {
            await worker.StopAsync(CancellationToken.None);
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // a pooled SQLite connection may still hold the file
            }
        }
    }
}
