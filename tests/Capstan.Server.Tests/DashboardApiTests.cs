using System.Net;
using System.Text.RegularExpressions;
using Capstan.Server.Data;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests;

public sealed class DashboardApiTests_Sqlite(SqliteServer server) : DashboardApiTests(server), IClassFixture<SqliteServer>;

public sealed class DashboardApiTests_Postgres(PostgresServer server) : DashboardApiTests(server), IClassFixture<PostgresServer>;

/// <summary>What the dashboard needs from the server: <c>GET /user/tokens/verify</c> and the static page itself.
/// The page in a browser is tested in Capstan.Media.Tests (DashboardMediaTests).</summary>
public abstract partial class DashboardApiTests(ServerFixture server)
{
    [Fact]
    public async Task TokensVerify_GivesTheAccountOfTheToken_InTheEnvelope()
    {
        var own = await server.CreateAccountAsync();
        var data = (await own.Client().GetJsonAsync("/client/v4/user/tokens/verify")).Data();
        Assert.Equal(own.AccountId, data.Str("account_id"));
        Assert.Equal("active", data.Str("status"));
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var tokenIds = await db.ApiTokens.Where(t => t.AccountId == own.AccountId).Select(t => t.Id).ToListAsync(TestContext.Current.CancellationToken);
            Assert.Equal(tokenIds.Single(), Guid.Parse(data.Str("id")));
        }

        // Without the /client/v4 prefix, and with the X-Auth-Email + X-Auth-Key form of the same token.
        Assert.Equal(own.AccountId, (await own.Client().GetJsonAsync("/user/tokens/verify")).Data().Str("account_id"));
        using var keyed = server.Client();
        keyed.DefaultRequestHeaders.Add("X-Auth-Email", "someone@example.com");
        keyed.DefaultRequestHeaders.Add("X-Auth-Key", own.Token);
        Assert.Equal(own.AccountId, (await keyed.GetJsonAsync("/client/v4/user/tokens/verify")).Data().Str("account_id"));
    }

    [Fact]
    public async Task TokensVerify_WithoutOrWithAnUnknownToken_Is401()
    {
        using var anonymous = server.Client();
        (await anonymous.GetJsonAsync("/client/v4/user/tokens/verify")).Error(HttpStatusCode.Unauthorized, "missing API token");
        using var wrong = server.Client("cap_not-a-token");
        (await wrong.GetJsonAsync("/client/v4/user/tokens/verify")).Error(HttpStatusCode.Unauthorized, "invalid API token");
    }

    [Fact]
    public async Task Dashboard_IsServedWithAStrictPolicy_AndNeedsNothingFromElsewhere()
    {
        using var c = server.Client();
        using var page = await c.GetAsync("/dashboard", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        var assets = AssetReference().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["/dashboard/dashboard.css", "/dashboard/dashboard.js"], assets.Order(StringComparer.Ordinal));
        var texts = new List<string> { html };
        foreach (var asset in assets)
        {
            using var r = await c.GetAsync(asset, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
            texts.Add(await r.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        }
        foreach (var text in texts)
        {
            // No CDN, no web fonts, no external fetches: nothing names another origin.
            Assert.DoesNotMatch(ExternalUrl(), text);
        }
        // API strings reach the page through textContent only.
        Assert.DoesNotContain("innerHTML", texts[2], StringComparison.Ordinal);
        Assert.DoesNotContain("insertAdjacentHTML", texts[2], StringComparison.Ordinal);

        using var missing = await c.GetAsync("/dashboard/nothing.js", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [GeneratedRegex("(?:href|src)=\"(/dashboard/[^\"]+)\"", RegexOptions.None, "en")]
    private static partial Regex AssetReference();

    [GeneratedRegex(@"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", RegexOptions.IgnoreCase, "en")]
    private static partial Regex ExternalUrl();
}
