using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

public sealed class WebhookDeliveryTests_Sqlite(WebhookSqliteServer server) : WebhookDeliveryTests(server), IClassFixture<WebhookSqliteServer>;

public sealed class WebhookDeliveryTests_Postgres(WebhookPostgresServer server) : WebhookDeliveryTests(server), IClassFixture<WebhookPostgresServer>;

/// <summary>Webhooks delivered for real to a receiver on loopback: signed, retried on 5xx, not on 4xx, every
/// attempt listed.</summary>
public abstract class WebhookDeliveryTests(ServerFixture server)
{
    private async Task<string> HookAsync(string url, params string[] events) =>
        (await server.Account.Client().PostJsonAsync($"{server.Account.AppPath}/webhooks", new { name = "receiver", url, events })).Data(HttpStatusCode.Created).Str("id");

    private async Task<string> StartRecordingAsync()
    {
        var c = server.Account.Client();
        var meeting = (await c.PostJsonAsync($"{server.Account.AppPath}/meetings", new { title = "hooked" })).Data(HttpStatusCode.Created).Str("id");
        return (await c.PostJsonAsync($"{server.Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
    }

    private async Task<JsonArray> DeliveriesAsync(string hook) =>
        (await server.Account.Client().GetJsonAsync($"{server.Account.AppPath}/webhooks/{hook}/deliveries")).Data().AsArray();

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task RecordingStatusUpdate_IsDelivered_SignedWithThePublishedKey()
    {
        using var receiver = new WebhookReceiver();
        var hook = await HookAsync(receiver.Url, "recording.statusUpdate");
        var other = await HookAsync(receiver.Url + "other", "meeting.started");
        var recording = await StartRecordingAsync();
        await UntilAsync(() => Task.FromResult(!receiver.Requests.IsEmpty), "a delivery");

        var (headers, body, _) = receiver.Requests.First();
        var json = JsonNode.Parse(body)!;
        Assert.Equal("recording.statusUpdate", json["event"]!.GetValue<string>());
        Assert.Equal(recording, json["recording"]!["id"]!.GetValue<string>());
        Assert.Equal("INVOKED", json["recording"]!["status"]!.GetValue<string>());
        Assert.Equal(hook, headers["rtk-webhook-id"]);
        Assert.True(Guid.TryParse(headers["rtk-uuid"], out _));

        var wellKnown = (await server.Client().GetJsonAsync("/.well-known/webhooks.json")).Body;
        Assert.True(wellKnown["success"]!.GetValue<bool>());
        using var rsa = RSA.Create();
        rsa.ImportFromPem(wellKnown["data"]!["publicKey"]!.GetValue<string>());
        Assert.True(rsa.VerifyData(body, Convert.FromBase64String(headers["rtk-signature"]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1), "signature does not verify");
        var tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("INVOKED", "UPLOADED", StringComparison.Ordinal));
        Assert.False(rsa.VerifyData(tampered, Convert.FromBase64String(headers["rtk-signature"]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        await UntilAsync(async () => (await DeliveriesAsync(hook)).Any(d => d!.Str("status") == "DELIVERED"), "DELIVERED in the list");
        // The other webhook is not subscribed to recording events: the same fan-out gave it nothing.
        Assert.Empty(await DeliveriesAsync(other));
    }

    [Fact]
    public async Task ServerError_IsRetriedWithTheSameUuid_UntilDelivered()
    {
        using var receiver = new WebhookReceiver(500, 503);
        var hook = await HookAsync(receiver.Url, "recording.statusUpdate");
        await StartRecordingAsync();
        await UntilAsync(async () => (await DeliveriesAsync(hook)).Any(d => d!.Str("status") == "DELIVERED"), "delivered after retries");
        var delivery = (await DeliveriesAsync(hook)).Single()!;
        Assert.Equal(3, delivery["attempts"]!.GetValue<int>());
        Assert.Equal([500, 503, 200], delivery["attempt_log"]!.AsArray().Select(a => a!["status_code"]!.GetValue<int>()).ToList());
        Assert.Single(receiver.Requests.Select(r => r.Headers["rtk-uuid"]).Distinct());
    }

    [Fact]
    public async Task PendingDelivery_SurvivesAServerRestart_AndIsDeliveredAfterIt()
    {
        // The receiver is down at first: attempts fail with a network error and the delivery stays pending.
        var url = WebhookReceiver.FreeUrl();
        var hook = await HookAsync(url, "recording.statusUpdate");
        var recording = await StartRecordingAsync();
        await UntilAsync(async () => (await DeliveriesAsync(hook)).Any(d => d!["attempts"]!.GetValue<int>() >= 1), "a failed attempt");
        var pending = (await DeliveriesAsync(hook)).Single()!;
        Assert.Equal("PENDING", pending.Str("status"));

        await server.RestartAsync();
        using var receiver = new WebhookReceiver(url);
        await UntilAsync(async () => (await DeliveriesAsync(hook)).Any(d => d!.Str("status") == "DELIVERED"), "delivered after the restart");
        var delivered = (await DeliveriesAsync(hook)).Single()!;
        Assert.Equal(pending.Str("id"), delivered.Str("id"));
        Assert.True(delivered["attempts"]!.GetValue<int>() > pending["attempts"]!.GetValue<int>());
        var request = Assert.Single(receiver.Requests);
        Assert.Equal(delivered.Str("id"), request.Headers["rtk-uuid"]);
        Assert.Contains(recording, Encoding.UTF8.GetString(request.Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientError_IsNotRetried()
    {
        using var receiver = new WebhookReceiver(400);
        var hook = await HookAsync(receiver.Url, "recording.statusUpdate");
        await StartRecordingAsync();
        await UntilAsync(async () => (await DeliveriesAsync(hook)).Any(d => d!.Str("status") == "FAILED"), "FAILED");
        var delivery = (await DeliveriesAsync(hook)).Single()!;
        Assert.Equal(1, delivery["attempts"]!.GetValue<int>());
        Assert.Equal(400, delivery["last_status_code"]!.GetValue<int>());
        Assert.Single(receiver.Requests);
    }
}
