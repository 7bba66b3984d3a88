using System.Diagnostics;
using System.Text;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Webhooks;

/// <summary>Delivers the outbox: every event goes to each enabled webhook of its app subscribed to it, at least
/// once. 2xx is delivered; 5xx and network errors are retried with exponential backoff; any other 4xx is final.
/// Every attempt is recorded. Pending deliveries live in the database, so a restart loses none. The
/// <c>webhooks</c> client connects only through the outbound policy (<see cref="Security.OutboundPolicy"/>): a target
/// that resolves to a refused address when connecting is not contacted, and its attempt is final, listed with the
/// reason. Redirects are not followed.</summary>
public sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopes, WebhookSigner signer, IHttpClientFactory httpClients, IOptions<WebhookOptions> options,
    TimeProvider time, ILogger<WebhookDispatcher> logger, CapstanMetrics? metrics = null) : BackgroundService
{
    public const string Pending = "PENDING";
    public const string Delivered = "DELIVERED";
    public const string Failed = "FAILED";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PollInterval, time);
        try
        {
            do
            {
                try
                {
                    await FanOutAsync(stoppingToken);
                    await SendDueAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogFailed(logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>Turns new outbox events into one delivery per subscribed, enabled webhook.</summary>
    public async Task FanOutAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var events = await db.OutboxEvents.Where(e => e.DispatchedAt == null).OrderBy(e => e.Id).Take(200).ToListAsync(ct);
        if (events.Count == 0)
        {
            return;
        }
        var apps = events.Select(e => e.AppId).Distinct().ToList();
        var hooks = await db.Webhooks.AsNoTracking().Where(w => apps.Contains(w.AppId) && w.Enabled).ToListAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        foreach (var e in events)
        {
            foreach (var w in hooks.Where(w => w.AppId == e.AppId && w.Events.Split(',').Contains(e.EventName)))
            {
                if (!await db.WebhookDeliveries.AnyAsync(d => d.OutboxEventId == e.Id && d.WebhookId == w.Id, ct))
                {
                    db.WebhookDeliveries.Add(new WebhookDeliveryRow
                    {
                        Id = Guid.NewGuid(), OutboxEventId = e.Id, WebhookId = w.Id, AppId = e.AppId, EventName = e.EventName,
                        Status = Pending, NextAttemptAt = now, CreatedAt = now,
                    });
                }
            }
            e.DispatchedAt = now;
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Sends the deliveries that are due. Each is first pushed out of the way (a short claim) so that two
    /// nodes do not send it at the same moment.</summary>
    public async Task SendDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        List<Guid> due;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            due = await db.WebhookDeliveries.AsNoTracking().Where(d => d.Status == Pending && d.NextAttemptAt <= now)
                .OrderBy(d => d.NextAttemptAt).Select(d => d.Id).Take(50).ToListAsync(ct);
        }
        foreach (var id in due)
        {
            await SendAsync(id, now, ct);
        }
    }

    private async Task SendAsync(Guid id, DateTime now, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var claim = now + TimeSpan.FromMinutes(2);
        if (await db.WebhookDeliveries.Where(d => d.Id == id && d.Status == Pending && d.NextAttemptAt <= now)
                .ExecuteUpdateAsync(u => u.SetProperty(d => d.NextAttemptAt, claim), ct) != 1)
        {
            return;
        }
        var delivery = await db.WebhookDeliveries.FirstAsync(d => d.Id == id, ct);
        // One trace per delivery attempt (the HTTP POST is its child span).
        using var span = CapstanTelemetry.Source.StartActivity("webhook.delivery");
        span?.SetTag("capstan.delivery_id", id.ToString("D"));
        span?.SetTag("capstan.webhook_id", delivery.WebhookId.ToString("D"));
        span?.SetTag("capstan.event", delivery.EventName);
        var hook = await db.Webhooks.AsNoTracking().FirstOrDefaultAsync(w => w.Id == delivery.WebhookId, ct);
        var payload = await db.OutboxEvents.AsNoTracking().Where(e => e.Id == delivery.OutboxEventId).Select(e => e.PayloadJson).FirstAsync(ct);
        var attempt = new WebhookAttemptRow { DeliveryId = id, AttemptedAt = time.GetUtcNow().UtcDateTime };
        var clock = Stopwatch.StartNew();
        bool retry;
        if (hook is null || !hook.Enabled)
        {
            (attempt.Error, retry) = ("the webhook was deleted or disabled", false);
        }
        else
        {
            (attempt.StatusCode, attempt.Error, retry) = await PostAsync(hook, delivery, payload, ct);
        }
        attempt.DurationMs = (int)clock.ElapsedMilliseconds;
        delivery.Attempts++;
        delivery.LastStatusCode = attempt.StatusCode;
        delivery.LastError = attempt.Error;
        var after = time.GetUtcNow().UtcDateTime;
        if (attempt.StatusCode is >= 200 and < 300)
        {
            delivery.Status = Delivered;
            delivery.DeliveredAt = after;
        }
        else if (retry && delivery.Attempts < options.Value.MaxAttempts)
        {
            delivery.Status = Pending;
            delivery.NextAttemptAt = after + Backoff(delivery.Attempts);
        }
        else
        {
            delivery.Status = Failed;
        }
        db.WebhookAttempts.Add(attempt);
        await db.SaveChangesAsync(ct);
        var result = delivery.Status switch { Delivered => "delivered", Pending => "retry", _ => "failed" };
        metrics?.WebhookDelivery(result);
        span?.SetTag("capstan.result", result);
        span?.SetTag("http.response.status_code", attempt.StatusCode);
        if (delivery.Status != Delivered)
        {
            span?.SetStatus(ActivityStatusCode.Error, attempt.Error);
        }
        LogAttempt(logger, delivery.EventName, hook?.Url ?? "(deleted)", attempt.StatusCode ?? 0, delivery.Status);
    }

    /// <summary>5 s, 10 s, 20 s ... up to <c>Webhooks:MaxRetryDelay</c>.</summary>
    private TimeSpan Backoff(int attempts) =>
        TimeSpan.FromTicks(Math.Min(options.Value.MaxRetryDelay.Ticks, options.Value.FirstRetryDelay.Ticks * (1L << Math.Min(20, attempts - 1))));

    private async Task<(int? Status, string? Error, bool Retry)> PostAsync(WebhookRow hook, WebhookDeliveryRow delivery, string payload, CancellationToken ct)
    {
        var uri = new Uri(hook.Url);
        var body = Encoding.UTF8.GetBytes(payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("rtk-signature", await signer.SignAsync(body, ct));
        request.Headers.Add("rtk-uuid", delivery.Id.ToString("D"));
        request.Headers.Add("rtk-webhook-id", hook.Id.ToString("D"));
        request.Headers.UserAgent.ParseAdd("Capstan-Webhooks/1.0");
        try
        {
            using var response = await httpClients.CreateClient("webhooks").SendAsync(request, ct);
            var code = (int)response.StatusCode;
            return (code, code is >= 200 and < 300 ? null : $"HTTP {code}", code >= 500 || code is 408 or 429);
        }
        catch (HttpRequestException e) when (Security.OutboundRefusal.Find(e) is { } refused)
        {
            // The target resolved to a refused address when connecting (it may have passed at creation: DNS
            // rebinding, or a policy change). Final: the attempt is listed with the reason.
            return (null, refused.Message, false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return (null, e.Message.Length > 500 ? e.Message[..500] : e.Message, true);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {Event} to {Url}: HTTP {Status}, now {State}")]
    private static partial void LogAttempt(ILogger logger, string @event, string url, int status, string state);

    [LoggerMessage(Level = LogLevel.Error, Message = "Webhook dispatch failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
