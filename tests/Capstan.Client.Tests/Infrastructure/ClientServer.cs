using Capstan.Client;
using Capstan.Server.Data;
using Capstan.Server.Tests.Infrastructure;

[assembly: AssemblyFixture(typeof(Capstan.Client.Tests.Infrastructure.ClientServer))]

namespace Capstan.Client.Tests.Infrastructure;

/// <summary>One real Capstan server (SQLite) for the whole suite; each test makes its own account and app.
/// Download URLs point at the server itself (no <c>PublicBaseUrl</c>), and webhooks may target loopback (Outbound:AllowedNetworks) and
/// are polled quickly.</summary>
public sealed class ClientServer() : ServerFixture(DatabaseProvider.Sqlite)
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("Capstan:PublicBaseUrl", null),
        new("Outbound:AllowedNetworks:0", "127.0.0.0/8"),
        new("Webhooks:PollInterval", "00:00:00.100"),
        new("Webhooks:FirstRetryDelay", "00:00:00.200"),
    ];

    /// <summary>A new account with an app, and an SDK client for it (on <paramref name="http"/> when given).</summary>
    public async Task<(TestAccount Account, CapstanClient Client, string AppId)> NewClientAsync(HttpClient? http = null)
    {
        var account = await CreateAccountAsync();
        return (account, new CapstanClient(new CapstanClientOptions { BaseUrl = BaseUrl, ApiToken = account.Token, AccountId = account.AccountId }, http), account.AppId.ToString("D"));
    }

    /// <summary>The CLI's settings for an account, as environment variables.</summary>
    public Dictionary<string, string> CliVariables(TestAccount account) => new()
    {
        ["CAPSTAN_URL"] = BaseUrl.ToString().TrimEnd('/'),
        ["CAPSTAN_TOKEN"] = account.Token,
        ["CAPSTAN_ACCOUNT_ID"] = account.AccountId,
        ["CAPSTAN_APP_ID"] = account.AppId.ToString("D"),
    };
}

/// <summary>Counts the requests that go through an injected <see cref="HttpClient"/>.</summary>
public sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public List<string> Requests { get; } = [];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        lock (Requests)
        {
            Requests.Add($"{request.Method} {request.RequestUri!.PathAndQuery}");
        }
        return base.SendAsync(request, cancellationToken);
    }
}
