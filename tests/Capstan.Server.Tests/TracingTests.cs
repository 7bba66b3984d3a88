using System.Net;
using Capstan.Server.Data;
using Capstan.Server.Hosting;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Capstan.Server.Tests;

/// <summary>Traces go over OTLP (HTTP/protobuf here) to a receiver in the test when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set: the API call, the worker's session with its claim and an upload inside
/// it, and each webhook delivery with its HTTP POST. Capture and post-processing spans need media (the media suite).</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class TracingTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private sealed class TracedServer(Uri otlp) : ServerFixture(DatabaseProvider.Sqlite)
    {
        protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
        [
            new("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.ToString().TrimEnd('/')),
            new("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            new("OTEL_BSP_SCHEDULE_DELAY", "100"),
            new("Webhooks:AllowPrivateTargets", "true"),
            new("Webhooks:PollInterval", "00:00:00.100"),
        ];
    }

    [Fact]
    public async Task Spans_OfTheApiCall_TheWorkersSession_AnUpload_AndWebhookDeliveries_ReachTheOtlpReceiver()
    {
        await using var otlp = await OtlpReceiver.StartAsync();
        await using var server = new TracedServer(otlp.Endpoint);
        await server.InitializeAsync();
        var c = server.Account.Client();
        using var receiver = new WebhookReceiver();
        (await c.PostJsonAsync($"{server.Account.AppPath}/webhooks", new { name = "t", url = receiver.Url, events = new[] { "recording.statusUpdate" } })).Data(HttpStatusCode.Created);
        var meeting = (await c.PostJsonAsync($"{server.Account.AppPath}/meetings", new { title = "traced" })).Data(HttpStatusCode.Created).Str("id");
        var recording = (await c.PostJsonAsync($"{server.Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");

        // What a worker does with the job: the session span, and an upload inside it.
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var job = await db.RecorderJobs.AsNoTracking().FirstAsync(j => j.RecordingId == Guid.Parse(recording), Ct);
            var logger = server.Services.GetRequiredService<ILoggerFactory>().CreateLogger("test");
            using var observed = RecordingTelemetry.Begin(job, logger, "test-owner", await RecordingTelemetry.LookupAsync(job, server.Services.GetRequiredService<IServiceScopeFactory>(), Ct));
            var file = Path.GetTempFileName();
            await File.WriteAllBytesAsync(file, new byte[100], Ct);
            await server.Services.GetRequiredService<DefaultBucket>().StoreAsync(server.Account.AppId, Guid.Parse(recording), file, "traced.mp4", Ct);
            File.Delete(file);
        }

        OtlpReceiver.Span? Find(Func<OtlpReceiver.Span, bool> p) => otlp.Spans.FirstOrDefault(p);
        await MetricsTests.UntilAsync(() => Task.FromResult(
            Find(s => s.Name == "webhook.delivery" && s.Attributes.GetValueOrDefault("capstan.result") == "delivered") is not null
            && Find(s => s.Name == "recording.session" && s.Attributes.GetValueOrDefault("capstan.recording_id") == recording) is not null
            && Find(s => s.Name == "upload") is not null
            && Find(s => s.Attributes.GetValueOrDefault("capstan.recording_id") == recording && s.Attributes.ContainsKey("http.route")) is not null),
            "the spans", 30, () => string.Join(", ", otlp.Spans.Select(s => s.Name)));

        var api = Find(s => s.Attributes.GetValueOrDefault("capstan.recording_id") == recording && s.Attributes.ContainsKey("http.route"))!;
        Assert.Equal("POST", api.Attributes["http.request.method"]);
        Assert.Equal("/accounts/{account_id}/realtime/kit/{app_id}/recordings/", api.Attributes["http.route"]);

        var session = Find(s => s.Name == "recording.session" && s.Attributes.GetValueOrDefault("capstan.recording_id") == recording)!;
        Assert.Equal(meeting, session.Attributes["capstan.meeting_id"]);
        Assert.Equal(string.Empty, session.ParentSpanId);
        var claim = Find(s => s.Name == "recorder.claim" && s.ParentSpanId == session.SpanId);
        Assert.NotNull(claim);
        Assert.Equal("test-owner", claim.Attributes["capstan.lease_owner"]);
        var upload = Find(s => s.Name == "upload" && s.ParentSpanId == session.SpanId);
        Assert.NotNull(upload);
        Assert.Equal("default", upload.Attributes["capstan.destination_type"]);
        Assert.Equal("traced.mp4", upload.Attributes["capstan.object_key"]);

        // One trace per delivery; the webhook POST is its child.
        var delivery = Find(s => s.Name == "webhook.delivery" && s.Attributes.GetValueOrDefault("capstan.result") == "delivered")!;
        Assert.Equal(string.Empty, delivery.ParentSpanId);
        Assert.Equal("recording.statusUpdate", delivery.Attributes["capstan.event"]);
        Assert.Contains(otlp.Spans, s => s.ParentSpanId == delivery.SpanId && s.TraceId == delivery.TraceId && s.Attributes.GetValueOrDefault("http.request.method") == "POST");
    }

    [Fact]
    public async Task WithoutAnOtlpEndpoint_NoTracerProviderIsRegistered()
    {
        await using var server = new SqliteServer();
        await server.InitializeAsync();
        Assert.Null(server.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
    }
}
