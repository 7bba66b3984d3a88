namespace Capstan.Contracts;

public sealed class WebhookRequest
{
    public string? Name { get; set; }
    public string? Url { get; set; }
    public IList<string>? Events { get; set; }
    public bool? Enabled { get; set; }
}

public sealed record WebhookDto(string Id, string Name, string Url, IReadOnlyList<string> Events, bool Enabled, DateTime CreatedAt, DateTime UpdatedAt);

/// <summary>Capstan extension: one event's delivery to a webhook (<c>id</c> is the <c>rtk-uuid</c> header).</summary>
public sealed record WebhookDeliveryDto(string Id, string Event, string Status, int Attempts, int? LastStatusCode, string? LastError,
    DateTime CreatedAt, DateTime? DeliveredAt, IReadOnlyList<WebhookAttemptDto> AttemptLog);

public sealed record WebhookAttemptDto(DateTime AttemptedAt, int? StatusCode, string? Error, int DurationMs);
