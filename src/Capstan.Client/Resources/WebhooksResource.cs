using System.Text.Json;
using Capstan.Client.Models;
using Capstan.Client.Webhooks;

namespace Capstan.Client.Resources;

/// <summary><c>.../{app_id}/webhooks</c>, their deliveries (a Capstan extension) and the signing key.</summary>
public sealed class WebhooksResource
{
    private readonly ApiTransport _t;

    internal WebhooksResource(ApiTransport transport) => _t = transport;

    /// <summary>Subscribes a URL to events (<c>webhooks.createWebhook</c>).</summary>
    public Task<Webhook> CreateWebhookAsync(string appId, CreateWebhookOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Webhook>(HttpMethod.Post, _t.KitPath(appId, "webhooks"), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>All webhooks of the app; the route has no paging (<c>webhooks.getWebhooks</c>).</summary>
    public async Task<IReadOnlyList<Webhook>> GetWebhooksAsync(string appId, CancellationToken cancellationToken = default) =>
        await _t.DataAsync<List<Webhook>>(HttpMethod.Get, _t.KitPath(appId, "webhooks"), null, null, cancellationToken).ConfigureAwait(false);

    /// <summary>A webhook (<c>webhooks.getWebhookByID</c>).</summary>
    public Task<Webhook> GetWebhookByIdAsync(string appId, string webhookId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Webhook>(HttpMethod.Get, _t.KitPath(appId, "webhooks", webhookId), null, null, cancellationToken);

    /// <summary>Changes the given fields (<c>webhooks.editWebhook</c>, PATCH).</summary>
    public Task<Webhook> EditWebhookAsync(string appId, string webhookId, EditWebhookOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Webhook>(HttpMethod.Patch, _t.KitPath(appId, "webhooks", webhookId), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Replaces a webhook (<c>webhooks.replaceWebhook</c>, PUT).</summary>
    public Task<Webhook> ReplaceWebhookAsync(string appId, string webhookId, CreateWebhookOptions options, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Webhook>(HttpMethod.Put, _t.KitPath(appId, "webhooks", webhookId), options ?? throw new ArgumentNullException(nameof(options)), null, cancellationToken);

    /// <summary>Deletes a webhook and returns it (<c>webhooks.deleteWebhook</c>).</summary>
    public Task<Webhook> DeleteWebhookAsync(string appId, string webhookId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<Webhook>(HttpMethod.Delete, _t.KitPath(appId, "webhooks", webhookId), null, null, cancellationToken);

    /// <summary>Capstan extension: one page of a webhook's deliveries, newest first, each with its attempts.</summary>
    public Task<Page<WebhookDelivery>> GetDeliveriesAsync(string appId, string webhookId, WebhookDeliveryListOptions? options = null, CancellationToken cancellationToken = default) =>
        DeliveriesPageAsync(appId, webhookId, options ?? new(), null, cancellationToken);

    /// <summary>Capstan extension: every delivery of a webhook, page after page.</summary>
    public IAsyncEnumerable<WebhookDelivery> GetDeliveriesAutoPagingAsync(string appId, string webhookId, WebhookDeliveryListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => DeliveriesPageAsync(appId, webhookId, o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>The server's webhook public key (PEM) from <c>/.well-known/webhooks.json</c>.</summary>
    public async Task<string> GetPublicKeyAsync(CancellationToken cancellationToken = default)
    {
        var uri = new Uri(_t.ServerRoot, ".well-known/webhooks.json");
        using var response = await _t.Http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new CapstanApiException(response.StatusCode, null, response.ReasonPhrase ?? "error", text, "GET", uri);
        }
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("data").GetProperty("publicKey").GetString()
            ?? throw new JsonException("publicKey is null");
    }

    /// <summary>A <see cref="WebhookVerifier"/> for the server's current key.</summary>
    public async Task<WebhookVerifier> GetVerifierAsync(CancellationToken cancellationToken = default) =>
        new(await GetPublicKeyAsync(cancellationToken).ConfigureAwait(false));

    private Task<Page<WebhookDelivery>> DeliveriesPageAsync(string appId, string webhookId, WebhookDeliveryListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<WebhookDelivery>(_t.KitPath(appId, "webhooks", webhookId, "deliveries"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0, null, ct);
}
