using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

public static class WebhooksApi
{
    public static RouteGroupBuilder MapWebhooksApi(this RouteGroupBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var g = app.MapGroup("/webhooks").WithTags("Webhooks");
        g.MapPost("", Create).WithName("webhooks.createWebhook").Produces<Envelope<WebhookDto>>(StatusCodes.Status201Created);
        g.MapGet("", List).WithName("webhooks.getWebhooks");
        g.MapGet("/{webhook_id}", Get).WithName("webhooks.getWebhookByID");
        g.MapPatch("/{webhook_id}", Patch).WithName("webhooks.editWebhook");
        g.MapPut("/{webhook_id}", Put).WithName("webhooks.replaceWebhook");
        g.MapDelete("/{webhook_id}", Delete).WithName("webhooks.deleteWebhook");
        return app;
    }

    private static async Task<JsonHttpResult<Envelope<WebhookDto>>> Create(ApiCaller caller, WebhookRequest? body, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Created((await webhooks.CreateAsync(caller.AppId, body, ct)).ToDto());

    private static async Task<Ok<Envelope<List<WebhookDto>>>> List(ApiCaller caller, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Ok((await webhooks.ListAsync(caller.AppId, ct)).Select(w => w.ToDto()).ToList());

    private static async Task<Ok<Envelope<WebhookDto>>> Get(ApiCaller caller, string webhook_id, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Ok((await webhooks.FindAsync(caller.AppId, Ids.Parse(webhook_id, "webhook_id"), tracking: false, ct)).ToDto());

    private static async Task<Ok<Envelope<WebhookDto>>> Patch(ApiCaller caller, string webhook_id, WebhookRequest? body, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Ok((await webhooks.UpdateAsync(caller.AppId, Ids.Parse(webhook_id, "webhook_id"), body, replace: false, ct)).ToDto());

    private static async Task<Ok<Envelope<WebhookDto>>> Put(ApiCaller caller, string webhook_id, WebhookRequest? body, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Ok((await webhooks.UpdateAsync(caller.AppId, Ids.Parse(webhook_id, "webhook_id"), body, replace: true, ct)).ToDto());

    private static async Task<Ok<Envelope<WebhookDto>>> Delete(ApiCaller caller, string webhook_id, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Ok((await webhooks.DeleteAsync(caller.AppId, Ids.Parse(webhook_id, "webhook_id"), ct)).ToDto());
}
