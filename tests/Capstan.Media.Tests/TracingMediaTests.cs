using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Media.Tests;

/// <summary>The media fixture exporting traces over OTLP (HTTP/protobuf) to a receiver of the test's own.</summary>
public sealed class TracedMediaFixture : MediaFixture
{
    public OtlpReceiver Otlp { get; private set; } = null!;

    protected override async Task BeforeStartAsync() => Otlp = await OtlpReceiver.StartAsync();

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("OTEL_EXPORTER_OTLP_ENDPOINT", Otlp.Endpoint.ToString().TrimEnd('/')),
        new("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        new("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Otlp is not null)
        {
            await Otlp.DisposeAsync();
        }
    }
}

/// <summary>One trace per recording, for real: a composite recording (the browser and the GStreamer capture) and a
/// track recording (Janus records the room, janus-pp-rec makes the files) of the same meeting each give a
/// <c>recording.session</c> root span with <c>recorder.claim</c>, <c>recording.capture</c> and
/// <c>recording.postprocess</c> under it and an <c>upload</c> per delivered file in the same trace.</summary>
public sealed class TracingMediaTests(TracedMediaFixture f) : IClassFixture<TracedMediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task CompositeAndTrackRecordings_EachGiveOneTrace_WithClaimCapturePostprocessAndUploads()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var page = await f.OpenAsync(alice.Token, 640, 360);
        await MediaFixture.PublishingAsync(page, "participant joined");
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == 1, "a live participant");

        var composite = await RecordAsync("/recordings", new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }, d => d);
        var track = await RecordAsync("/recordings/track", new { meeting_id = meeting }, d => d["recording"]!);
        await page.EvaluateAsync("() => window.capstanLeave()");
        await Task.Delay(300, Ct);
        await page.Context.CloseAsync();

        foreach (var (id, type, files) in new[] { (composite, "COMPOSITE", 1), (track, "TRACK", 2) })
        {
            OtlpReceiver.Span? session = null;
            await Wait.UntilAsync(() =>
            {
                session = f.Otlp.Spans.FirstOrDefault(s => s.Name == "recording.session" && s.Attributes.GetValueOrDefault("capstan.recording_id") == id);
                return Task.FromResult(session is not null && f.Otlp.Spans.Count(s => s.TraceId == session.TraceId && s.Name == "upload") >= files);
            }, $"the {type} recording's session span and its uploads", 30);
            var trace = f.Otlp.Spans.Where(s => s.TraceId == session!.TraceId).ToList();
            var names = string.Join(", ", trace.Select(s => s.Name));
            Assert.Equal(string.Empty, session!.ParentSpanId);
            Assert.Equal(type, session.Attributes["capstan.recording_type"]);
            Assert.Equal(meeting, session.Attributes["capstan.meeting_id"]);
            var claim = Assert.Single(trace, s => s.Name == "recorder.claim");
            var capture = Assert.Single(trace, s => s.Name == "recording.capture");
            var post = Assert.Single(trace, s => s.Name == "recording.postprocess");
            Assert.True(new[] { claim, capture, post }.All(s => s.ParentSpanId == session.SpanId), $"claim, capture and postprocess are not children of the session: {names}");
            // Every upload hangs under the session (through the post-processing that delivers it).
            var spanIds = trace.ToDictionary(s => s.SpanId);
            foreach (var upload in trace.Where(s => s.Name == "upload"))
            {
                var ancestor = upload;
                while (ancestor.ParentSpanId.Length > 0 && ancestor.SpanId != session.SpanId && spanIds.TryGetValue(ancestor.ParentSpanId, out var parent))
                {
                    ancestor = parent;
                }
                Assert.True(ancestor.SpanId == session.SpanId, $"an upload outside the session: {names}");
                Assert.Equal("default", upload.Attributes["capstan.destination_type"]);
            }
            if (type == "TRACK")
            {
                Assert.Equal("janus", capture.Attributes["capstan.capture"]);
                Assert.True(double.Parse(capture.Attributes["capstan.recorded_seconds"], CultureInfo.InvariantCulture) > 1, "recorded_seconds: " + capture.Attributes["capstan.recorded_seconds"]);
                Assert.True(int.Parse(post.Attributes["capstan.files"], CultureInfo.InvariantCulture) >= 2, "files: " + post.Attributes["capstan.files"]);
                Assert.Contains(trace, s => s.Name == "upload" && s.Attributes["capstan.object_key"].EndsWith("manifest.json", StringComparison.Ordinal));
            }
        }
    }

    private async Task<string> RecordAsync(string path, object body, Func<JsonNode, JsonNode> recording)
    {
        var r = await f.Api.PostAsJsonAsync(f.AppPath + path, body, Ct);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        var id = recording(json!["data"]!)["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING", 40);
        await Task.Delay(3000, Ct);
        await f.ActAsync(id, "stop");
        await f.WaitStatusAsync(id, "UPLOADED", 60);
        return id;
    }
}
