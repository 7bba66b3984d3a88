using System.Globalization;
using System.Net;
using Capstan.Server.Data;
using Capstan.Server.Hosting;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Tests;

/// <summary>A server with test-sized budgets: 3 recording requests and 5 other API requests per 2 s window.</summary>
public sealed class RateLimitedServer() : ServerFixture(DatabaseProvider.Sqlite)
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("RateLimits:Recordings:PermitLimit", "3"),
        new("RateLimits:Recordings:Window", "00:00:02"),
        new("RateLimits:Api:PermitLimit", "5"),
        new("RateLimits:Api:Window", "00:00:02"),
    ];
}

/// <summary>Per-account rate limits: the request past the budget gets 429 with <c>retry-after</c> and the error
/// envelope; other accounts and the other budget are unaffected; the window reopens.</summary>
public sealed class RateLimitTests(RateLimitedServer server) : IClassFixture<RateLimitedServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RecordingRoutes_PastTheBudget_Answer429WithRetryAfterAndTheEnvelope_ThenReopen()
    {
        var account = await server.CreateAccountAsync();
        var c = account.Client();
        var list = $"{account.AppPath}/recordings";

        // A fresh account: its window starts with its first request. Four quick requests: the fourth is refused.
        var statuses = new List<HttpStatusCode>();
        (HttpStatusCode Status, System.Text.Json.Nodes.JsonNode Body, HttpResponseMessage Response) last = default;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 10 && last.Status != HttpStatusCode.TooManyRequests; i++)
        {
            last = await c.GetJsonAsync(list);
            statuses.Add(last.Status);
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        Assert.All(statuses.SkipLast(1), s => Assert.Equal(HttpStatusCode.OK, s));
        if (clock.Elapsed < TimeSpan.FromSeconds(1.5))
        {
            Assert.Equal(3, statuses.Count - 1); // all within one window: exactly the budget passed
        }
        var message = last.Error(HttpStatusCode.TooManyRequests, "rate limit reached", "3 requests per 2 s", "recording routes");
        var retryAfter = int.Parse(last.Response!.Headers.GetValues("retry-after").Single(), CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 2);
        Assert.Contains($"retry after {retryAfter} s", message, StringComparison.Ordinal);

        // Another account has its own budget; the same account's other API routes have theirs.
        var other = await server.CreateAccountAsync();
        (await other.Client().GetJsonAsync($"{other.AppPath}/recordings")).Data();
        (await c.GetJsonAsync($"{account.AppPath}/meetings")).Data();

        // The window reopens after retry-after.
        var deadline = DateTime.UtcNow.AddSeconds(retryAfter + 5);
        await Task.Delay(TimeSpan.FromSeconds(retryAfter), Ct);
        HttpStatusCode again;
        while ((again = (await c.GetJsonAsync(list)).Status) == HttpStatusCode.TooManyRequests)
        {
            Assert.True(DateTime.UtcNow < deadline, "the window did not reopen");
            await Task.Delay(100, Ct);
        }
        Assert.Equal(HttpStatusCode.OK, again);
    }

    [Fact]
    public async Task OtherApiRoutes_HaveTheirOwnBudget_AndPostsPastItAreNotStored()
    {
        var account = await server.CreateAccountAsync();
        var c = account.Client();
        var created = 0;
        (HttpStatusCode Status, System.Text.Json.Nodes.JsonNode Body, HttpResponseMessage Response) r = default;
        for (var i = 0; i < 6; i++)
        {
            r = await c.PostJsonAsync($"{account.AppPath}/meetings", new { title = "m" + i });
            if (r.Status == HttpStatusCode.TooManyRequests)
            {
                break;
            }
            Assert.Equal(HttpStatusCode.Created, r.Status);
            created++;
        }
        r.Error(HttpStatusCode.TooManyRequests, "5 requests per 2 s", "API routes");
        Assert.True(r.Response!.Headers.Contains("retry-after"));
        Assert.InRange(created, 1, 5);
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        Assert.Equal(created, db.Meetings.Count(m => m.AppId == account.AppId));
    }

    [Fact]
    public async Task UnauthenticatedRequests_DoNotSpendTheAccountsBudget()
    {
        var account = await server.CreateAccountAsync();
        using var anonymous = server.Client();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetJsonAsync($"{account.AppPath}/recordings")).Status);
        }
        (await account.Client().GetJsonAsync($"{account.AppPath}/recordings")).Data();
    }
}

/// <summary>Options are validated at start: a bad CIDR or budget stops the server from starting.</summary>
public sealed class StartupValidationTests
{
    [Theory]
    [InlineData("Outbound:AllowedNetworks:0", "10.0.0.0/40", "Outbound:AllowedNetworks:0")]
    [InlineData("Outbound:AllowedHosts:0", "bad host/name", "Outbound:AllowedHosts:0")]
    [InlineData("RateLimits:Recordings:PermitLimit", "0", "RateLimits:Recordings:PermitLimit")]
    [InlineData("RateLimits:Api:Window", "00:00:00", "RateLimits:Api:Window")]
    public async Task BadSetting_IsAStartupError(string key, string value, string named)
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await using var app = CapstanHost.Build([],
            [
                new("Capstan:DataDir", dir), new("Capstan:Port", "0"), new("Janus:Enabled", "false"), new("Recorder:Enabled", "false"),
                new("Webhooks:Deliver", "false"), new("Logging:LogLevel:Default", "None"), new(key, value),
            ]);
            var e = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains(named, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("Webhooks:AllowPrivateTargets", true)]
    [InlineData("Outbound:AllowPrivateTargets", true)]
    [InlineData("Outbound:AllowedHosts:0", false)]
    public async Task WebhooksAllowPrivateTargets_IsAnAliasOfOutboundAllowPrivateTargets(string key, bool allowsPrivate)
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await using var app = CapstanHost.Build([],
            [
                new("Capstan:DataDir", dir), new("Capstan:Port", "0"), new(key, allowsPrivate ? "true" : "hooks.example.com"),
            ]);
            var policy = app.Services.GetRequiredService<Capstan.Server.Security.OutboundPolicy>();
            Assert.Equal(allowsPrivate, policy.AllowPrivateTargets);
            Assert.Equal(allowsPrivate, policy.CheckAddress(System.Net.IPAddress.Loopback) is null);
            Assert.NotNull(policy.CheckAddress(System.Net.IPAddress.Parse("169.254.169.254")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
