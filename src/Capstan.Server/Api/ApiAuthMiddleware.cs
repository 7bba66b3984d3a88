using System.Collections.Concurrent;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Api;

/// <summary>Authenticates API routes (after routing, before binding): <c>Authorization: Bearer</c> or
/// <c>X-Auth-Key</c> (+ <c>X-Auth-Email</c>, ignored). Missing or unknown token: 401. A token of another account
/// than the path's: 403. An app id that is not this account's: 404, as if it did not exist. Operator routes
/// (<see cref="RequiresOperatorAttribute"/>): no token 401; any token but <c>Capstan:OperatorToken</c> (an API token
/// included), or none configured, 403.</summary>
public sealed class ApiAuthMiddleware(RequestDelegate next, TimeProvider time, Hosting.CapstanOptions options)
{
    private static readonly TimeSpan TokenCacheTtl = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, (string AccountId, DateTimeOffset Until)> _tokens = new();
    private readonly ConcurrentDictionary<Guid, string> _appAccounts = new();

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<RequiresOperatorAttribute>() is not null)
        {
            CheckOperator(context.Request);
            await next(context);
            return;
        }
        if (endpoint?.Metadata.GetMetadata<RequiresAccountAttribute>() is null)
        {
            await next(context);
            return;
        }

        var token = ReadToken(context.Request);
        if (token is null)
        {
            throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "missing API token: send 'Authorization: Bearer <token>'");
        }
        var ct = context.RequestAborted;
        var db = context.RequestServices.GetRequiredService<CapstanDbContext>();
        var account = await AccountOfTokenAsync(db, token, ct)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "invalid API token");

        var routeAccount = context.GetRouteValue("account_id") as string;
        if (!string.Equals(routeAccount, account, StringComparison.Ordinal))
        {
            throw new CapstanException(ErrorCategory.Forbidden, "forbidden", $"the API token does not grant access to account '{Ids.Trim(routeAccount ?? string.Empty)}'");
        }

        var appId = Guid.Empty;
        if (context.GetRouteValue("app_id") is string appText)
        {
            appId = Ids.Parse(appText, "app_id");
            if (!await AppBelongsToAsync(db, appId, account, ct))
            {
                throw CapstanException.NotFound($"No app found with id {appId}");
            }
        }
        context.Items[ApiCaller.ItemKey] = new ApiCaller(account, appId);
        await next(context);
    }

    private void CheckOperator(HttpRequest request)
    {
        var token = ReadToken(request)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "missing operator token: send 'Authorization: Bearer <Capstan:OperatorToken>'");
        if (string.IsNullOrEmpty(options.OperatorToken))
        {
            throw new CapstanException(ErrorCategory.Forbidden, "forbidden", "operator routes are off: no Capstan:OperatorToken is configured on this server");
        }
        if (!OperatorToken.Matches(options.OperatorToken, token))
        {
            throw new CapstanException(ErrorCategory.Forbidden, "forbidden", "the token is not this server's operator token (Capstan:OperatorToken)");
        }
    }

    internal static string? ReadToken(HttpRequest request)
    {
        var auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var t = auth["Bearer ".Length..].Trim();
            return t.Length is > 0 and <= 512 ? t : null;
        }
        var key = request.Headers["X-Auth-Key"].ToString().Trim();
        return key.Length is > 0 and <= 512 ? key : null;
    }

    private async Task<string?> AccountOfTokenAsync(CapstanDbContext db, string token, CancellationToken ct)
    {
        var hash = ApiTokens.Hash(token);
        var now = time.GetUtcNow();
        if (_tokens.TryGetValue(hash, out var hit) && hit.Until > now)
        {
            return hit.AccountId;
        }
        var account = await db.ApiTokens.AsNoTracking().Where(t => t.TokenHash == hash).Select(t => t.AccountId).FirstOrDefaultAsync(ct);
        if (account is not null)
        {
            _tokens[hash] = (account, now + TokenCacheTtl);
        }
        return account;
    }

    private async Task<bool> AppBelongsToAsync(CapstanDbContext db, Guid appId, string account, CancellationToken ct)
    {
        if (_appAccounts.TryGetValue(appId, out var owner))
        {
            return owner == account;
        }
        owner = await db.Apps.AsNoTracking().Where(a => a.Id == appId).Select(a => a.AccountId).FirstOrDefaultAsync(ct);
        if (owner is null)
        {
            return false;
        }
        _appAccounts[appId] = owner;
        return owner == account;
    }
}
