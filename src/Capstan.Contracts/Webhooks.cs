namespace Capstan.Contracts;

public sealed class WebhookRequest
{
    public string? Name { get; set; }
    public string? Url { get; set; }
    public IList<string>? Events { get; set; }
    public bool? Enabled { get; set; }
}

public sealed record WebhookDto(string Id, string Name, string Url, IReadOnlyList<string> Events, bool Enabled, DateTime CreatedAt, DateTime UpdatedAt);
