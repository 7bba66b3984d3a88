namespace Capstan.Client;

/// <summary>Settings of a <see cref="CapstanClient"/>.</summary>
public sealed class CapstanClientOptions
{
    /// <summary>The server, e.g. <c>http://127.0.0.1:8080</c>. A URL that already ends in <c>/client/v4</c> is
    /// taken as is (the base URL of the official Cloudflare SDK); otherwise <c>/client/v4</c> is appended.</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>The API token, sent as <c>Authorization: Bearer ...</c>.</summary>
    public required string ApiToken { get; init; }

    /// <summary>The account every RealtimeKit route is under (<c>/accounts/{account_id}/realtime/kit/...</c>).</summary>
    public required string AccountId { get; init; }

    /// <summary>How often a request that failed with a connection error, 408, 409, 429 or a 5xx is repeated
    /// (default 2). A response header <c>x-should-retry</c> overrides the choice either way, as in the official SDK.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>First delay between retries (doubled each time, at most 8 s, with up to 25 % jitter), unless the
    /// server asks for another with <c>retry-after-ms</c> or <c>retry-after</c>.</summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Reads <c>CAPSTAN_URL</c>, <c>CAPSTAN_TOKEN</c> and <c>CAPSTAN_ACCOUNT_ID</c>.</summary>
    /// <exception cref="InvalidOperationException">A variable is missing or the URL is not absolute.</exception>
    public static CapstanClientOptions FromEnvironment()
    {
        static string Need(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException($"environment variable {name} is not set");
        var url = Need("CAPSTAN_URL");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            throw new InvalidOperationException($"CAPSTAN_URL must be an absolute URL, got '{url}'");
        }
        return new CapstanClientOptions { BaseUrl = uri, ApiToken = Need("CAPSTAN_TOKEN"), AccountId = Need("CAPSTAN_ACCOUNT_ID") };
    }
}
