using System.Net;
using System.Net.Sockets;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Domain;

/// <summary>Webhook subscriptions (delivery reads the outbox).</summary>
public sealed class WebhookService(CapstanDbContext db, TimeProvider time, IOptions<WebhookOptions> options)
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
        Validate(body, v);
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
        Validate(body, v);
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

    private void Validate(WebhookRequest body, Validation v)
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
        if (!v.HasErrors && body.Url is { } url && !options.Value.AllowPrivateTargets && IsPrivateTarget(new Uri(url)))
        {
            v.Add($"url points at a loopback, private, link-local or metadata address ('{new Uri(url).Host}'); the operator can allow it with Webhooks:AllowPrivateTargets");
        }
        v.ThrowIfAny();
    }

    /// <summary>True for hosts that must not receive webhooks by default. IP literals are checked by range;
    /// names that always mean this machine or a cloud metadata service are refused by name. Names are resolved
    /// again at delivery time.</summary>
    public static bool IsPrivateTarget(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var host = uri.IdnHost.TrimEnd('.').ToLowerInvariant();
        if (host is "localhost" or "metadata" or "metadata.google.internal" || host.EndsWith(".localhost", StringComparison.Ordinal) || host.EndsWith(".internal", StringComparison.Ordinal))
        {
            return true;
        }
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IsPrivateAddress(ip);
    }

    public static bool IsPrivateAddress(IPAddress ip)
    {
        ArgumentNullException.ThrowIfNull(ip);
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }
        if (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
        {
            return true;
        }
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = ip.GetAddressBytes();
            return b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] is >= 64 and <= 127) || b[0] >= 224;
        }
        return ip.IsIPv6LinkLocal || ip.IsIPv6SiteLocal || ip.IsIPv6UniqueLocal || ip.IsIPv6Multicast;
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
