using Capstan.Contracts;
using Capstan.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Domain;

/// <summary>Webhook subscriptions (delivery reads the outbox).</summary>
public sealed class WebhookService(CapstanDbContext db, TimeProvider time, OutboundTargets outbound)
{
    public async Task<WebhookRow> CreateAsync(Guid appId, WebhookRequest? body, CancellationToken ct)
    {
        body ??= new WebhookRequest();
        var v = new Validation();
        v.Required(body.Name, "name");
        v.Required(body.Url, "url");
        if (body.Events is null)
        {
            v.Add("events is required");
        }
        await ValidateAsync(body, v, ct);
        var now = Now;
        var w = new WebhookRow
        {
            Id = Guid.NewGuid(), AppId = appId, Name = body.Name!, Url = body.Url!, Events = string.Join(',', body.Events!.Distinct()),
            Enabled = body.Enabled ?? true, CreatedAt = now, UpdatedAt = now,
        };
        db.Webhooks.Add(w);
        await db.SaveChangesAsync(ct);
        return w;
    }

    public async Task<WebhookRow> UpdateAsync(Guid appId, Guid webhookId, WebhookRequest? body, bool replace, CancellationToken ct)
    {
        body ??= new WebhookRequest();
        var v = new Validation();
        if (replace)
        {
            v.Required(body.Name, "name");
            v.Required(body.Url, "url");
            if (body.Events is null)
            {
                v.Add("events is required");
            }
        }
        await ValidateAsync(body, v, ct);
        var w = await FindAsync(appId, webhookId, tracking: true, ct);
        w.Name = body.Name ?? w.Name;
        w.Url = body.Url ?? w.Url;
        w.Events = body.Events is { } e ? string.Join(',', e.Distinct()) : w.Events;
        w.Enabled = body.Enabled ?? (replace ? true : w.Enabled);
        w.UpdatedAt = Now;
        await db.SaveChangesAsync(ct);
        return w;
    }

    public async Task<WebhookRow> FindAsync(Guid appId, Guid webhookId, bool tracking, CancellationToken ct)
    {
        var q = tracking ? db.Webhooks : db.Webhooks.AsNoTracking();
        return await q.FirstOrDefaultAsync(w => w.Id == webhookId && w.AppId == appId, ct)
            ?? throw CapstanException.NotFound($"No webhook found with id {webhookId}");
    }

    public Task<List<WebhookRow>> ListAsync(Guid appId, CancellationToken ct) =>
        db.Webhooks.AsNoTracking().Where(w => w.AppId == appId).OrderBy(w => w.CreatedAt).ThenBy(w => w.Id).ToListAsync(ct);

    public async Task<WebhookRow> DeleteAsync(Guid appId, Guid webhookId, CancellationToken ct)
    {
        var w = await FindAsync(appId, webhookId, tracking: true, ct);
        db.Webhooks.Remove(w);
        await db.SaveChangesAsync(ct);
        return w;
    }

    private async Task ValidateAsync(WebhookRequest body, Validation v, CancellationToken ct)
    {
        v.MaxLength(body.Name, 256, "name");
        v.Url(body.Url, "url", "http", "https");
        if (body.Events is { } events)
        {
            if (events.Count == 0)
            {
                v.Add("events must name at least one event");
            }
            foreach (var e in events)
            {
                v.OneOf(e, WebhookEvents.All, "events[]");
            }
        }
        v.ThrowIfAny();
        await outbound.UrlAsync(body.Url, "url", v, ct);
        v.ThrowIfAny();
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
