using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Capstan.Client.Models;
using Capstan.Client.Tests.Infrastructure;
using Capstan.Client.Webhooks;

namespace Capstan.Client.Tests;

/// <summary>Errors, paging, the injected HttpClient and webhook signatures, against the live server.</summary>
public sealed class SdkBehaviourTests(ClientServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UnknownRecording_Throws404_WithCodeMessageAndRawBody()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var id = Guid.NewGuid().ToString("D");
        var e = await Assert.ThrowsAsync<CapstanApiException>(() => client.RealtimeKit.Recordings.GetOneRecordingAsync(app, id, Ct));
        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        Assert.Equal(404, e.ErrorCode);
        Assert.Contains(id, e.ErrorMessage, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(e.RawBody);
        Assert.False(body.RootElement.GetProperty("success").GetBoolean());
        Assert.Equal(e.ErrorMessage, body.RootElement.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("GET", e.RequestMethod);
        Assert.EndsWith("/recordings/" + id, e.RequestUri!.AbsolutePath, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidStart_Throws400_NamingTheField()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, cancellationToken: Ct);
        var e = await Assert.ThrowsAsync<CapstanApiException>(() => client.RealtimeKit.Recordings.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting.Id, MaxSeconds = 5 }, Ct));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Equal(400, e.ErrorCode);
        Assert.Contains("max_seconds", e.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("\"success\":false", e.RawBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecondStart_Throws409_AndIsNotRetried_ThroughTheInjectedHttpClient()
    {
        using var handler = new CountingHandler();
        using var http = new HttpClient(handler);
        var (_, client, app) = await server.NewClientAsync(http);
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = "busy" }, Ct);
        await client.RealtimeKit.Recordings.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting.Id }, Ct);
        var before = handler.Count;
        var e = await Assert.ThrowsAsync<CapstanApiException>(() => client.RealtimeKit.Recordings.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting.Id }, Ct));
        Assert.Equal(HttpStatusCode.Conflict, e.StatusCode);
        Assert.Equal(409, e.ErrorCode);
        // 409 is retryable by default, but the server says x-should-retry: false: exactly one POST went out.
        Assert.Equal(before + 1, handler.Count);
        Assert.Equal(3, handler.Requests.Count);
        Assert.All(handler.Requests, r => Assert.Contains("/client/v4/accounts/", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WrongToken_Throws401()
    {
        var (account, _, app) = await server.NewClientAsync();
        using var client = new CapstanClient(server.BaseUrl, "cap_wrong", account.AccountId);
        var e = await Assert.ThrowsAsync<CapstanApiException>(() => client.RealtimeKit.Meetings.GetAsync(app, cancellationToken: Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
    }

    [Fact]
    public async Task Stopping_AnInvokedRecording_ErrorsIt_AndPausingThenSays400WithTheStatus()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, cancellationToken: Ct);
        var r = await client.RealtimeKit.Recordings.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting.Id }, Ct);
        var stopped = await client.RealtimeKit.Recordings.StopAsync(app, r.Id, Ct);
        Assert.Equal(RecordingStatus.Errored, stopped.Status);
        Assert.Equal("API_CALL", stopped.StopReason?.Reason);
        var e = await Assert.ThrowsAsync<CapstanApiException>(() => client.RealtimeKit.Recordings.PauseAsync(app, r.Id, Ct));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("ERRORED", e.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paging_OnePage_AndAutoPagingFollowsEveryPage()
    {
        using var handler = new CountingHandler();
        using var http = new HttpClient(handler);
        var (_, client, app) = await server.NewClientAsync(http);
        using var _c = client;
        for (var i = 0; i < 5; i++)
        {
            await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = $"m{i}" }, Ct);
        }
        var first = await client.RealtimeKit.Meetings.GetAsync(app, new MeetingListOptions { PerPage = 2 }, Ct);
        Assert.Equal(2, first.Count);
        Assert.Equal(new Paging(5, 1, 2), first.Paging);
        Assert.True(first.HasMore);
        var last = await client.RealtimeKit.Meetings.GetAsync(app, new MeetingListOptions { PerPage = 2, PageNo = 3 }, Ct);
        Assert.Equal(new Paging(5, 5, 5), last.Paging);
        Assert.False(last.HasMore);

        var before = handler.Count;
        var all = await client.RealtimeKit.Meetings.GetAutoPagingAsync(app, new MeetingListOptions { PerPage = 2 }, Ct).ToListAsync(Ct);
        Assert.Equal(5, all.Select(m => m.Id).Distinct().Count());
        Assert.Equal(before + 3, handler.Count);
        Assert.Contains(handler.Requests, r => r.EndsWith("page_no=3&per_page=2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WebhookVerifier_AcceptsARealDelivery_AndRejectsATamperedBody()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        using var receiver = new Capstan.Server.Tests.Infrastructure.WebhookReceiver();
        var hook = await client.RealtimeKit.Webhooks.CreateWebhookAsync(app, new CreateWebhookOptions { Name = "r", Url = receiver.Url, Events = [WebhookEvents.RecordingStatusUpdate] }, Ct);
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, cancellationToken: Ct);
        var recording = await client.RealtimeKit.Recordings.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting.Id }, Ct);
        var (headers, body) = await receiver.FirstAsync();

        using var verifier = await client.RealtimeKit.Webhooks.GetVerifierAsync(Ct);
        var ev = verifier.ConstructEvent(body, headers);
        Assert.Equal(WebhookEvents.RecordingStatusUpdate, ev.Event);
        Assert.Equal(hook.Id, ev.WebhookId);
        Assert.Equal(recording.Id, ev.Payload.GetProperty("recording").GetProperty("id").GetString());
        Assert.True(verifier.Verify(body, headers[WebhookVerifier.SignatureHeader]));

        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("INVOKED", "UPLOADED", StringComparison.Ordinal));
        Assert.NotEqual(body, tampered);
        Assert.False(verifier.Verify(tampered, headers[WebhookVerifier.SignatureHeader]));
        Assert.Throws<WebhookSignatureException>(() => verifier.ConstructEvent(tampered, headers));
        Assert.Throws<WebhookSignatureException>(() => verifier.ConstructEvent(body, new Dictionary<string, string>()));
        Assert.False(verifier.Verify(body, "not base64!"));

        var delivered = await SdkResourceTests.UntilAsync(() => client.RealtimeKit.Webhooks.GetDeliveriesAsync(app, hook.Id, cancellationToken: Ct), p => p.Any(d => d.Status == "DELIVERED"));
        Assert.Equal(ev.DeliveryId, delivered[0].Id);
        Assert.Equal(200, delivered[0].AttemptLog[^1].StatusCode);
    }

    [Fact]
    public void TrackDownloadUrl_ReadsTheLayerArray_AndWritesItBackUnchanged()
    {
        const string json = """{"id":"r","status":"UPLOADED","type":"TRACK","download_url":[{"layer_name":"default","download_urls":{"a.webm":{"download_url":"http://x/a"},"b.webm":{"download_url":"http://x/b"}}}]}""";
        var r = JsonSerializer.Deserialize<Recording>(json, ClientJson.Options)!;
        Assert.True(r.DownloadUrl!.IsLayers);
        Assert.Equal([("a.webm", "http://x/a"), ("b.webm", "http://x/b")], r.DownloadUrl.Files().ToArray());
        var written = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(r, ClientJson.Options))!;
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(json)!["download_url"], written["download_url"]), written.ToJsonString());
        var composite = JsonSerializer.Deserialize<Recording>("""{"id":"r","status":"UPLOADED","download_url":"http://x/c.mp4","extra_field":1}""", ClientJson.Options)!;
        Assert.Equal("http://x/c.mp4", composite.DownloadUrl!.Url);
        Assert.Contains("\"extra_field\":1", JsonSerializer.Serialize(composite, ClientJson.Options), StringComparison.Ordinal);
    }
}
