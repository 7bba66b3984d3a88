using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

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
        g.MapGet("/{webhook_id}/deliveries", Deliveries).WithName("webhooks.getDeliveries")
            .WithSummary("Capstan extension: the webhook's deliveries, newest first, with every attempt").WithQuery(OpenApiDocs.PageNo, OpenApiDocs.PerPage);
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

    private static async Task<Ok<PagedEnvelope<List<WebhookDeliveryDto>>>> Deliveries(ApiCaller caller, string webhook_id, HttpRequest request, WebhookService webhooks, Data.CapstanDbContext db, CancellationToken ct)
    {
        var hook = await webhooks.FindAsync(caller.AppId, Ids.Parse(webhook_id, "webhook_id"), tracking: false, ct);
        var page = new QueryReader(request.Query).Page();
        var q = db.WebhookDeliveries.AsNoTracking().Where(d => d.WebhookId == hook.Id);
        var total = await q.LongCountAsync(ct);
        var rows = await q.OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id).Skip(page.Skip).Take(page.PerPage).ToListAsync(ct);
        var ids = rows.Select(r => r.Id).ToList();
        var attempts = await db.WebhookAttempts.AsNoTracking().Where(a => ids.Contains(a.DeliveryId)).OrderBy(a => a.Id).ToListAsync(ct);
        var items = rows.Select(r => new WebhookDeliveryDto(Ids.Format(r.Id), r.EventName, r.Status, r.Attempts, r.LastStatusCode, r.LastError, r.CreatedAt, r.DeliveredAt,
            attempts.Where(a => a.DeliveryId == r.Id).Select(a => new WebhookAttemptDto(a.AttemptedAt, a.StatusCode, a.Error, a.DurationMs)).ToList())).ToList();
        return Envelopes.Page(items, page.PagingFor(total, items.Count));
    }

    private static async Task<Ok<Envelope<WebhookDto>>> Delete(ApiCaller caller, string webhook_id, WebhookService webhooks, CancellationToken ct) =>
        Envelopes.Ok((await webhooks.DeleteAsync(caller.AppId, Ids.Parse(webhook_id, "webhook_id"), ct)).ToDto());
}
