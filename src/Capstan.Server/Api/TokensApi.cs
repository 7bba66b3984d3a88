using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Api;

/// <summary><c>GET /client/v4/user/tokens/verify</c>: which account the API token belongs to. Cloudflare's route of
/// the same path answers <c>{id, status}</c>; Capstan answers in the RealtimeKit envelope and adds <c>account_id</c>,
/// which a client holding only a token (the dashboard) needs to build <c>/accounts/{account_id}/...</c> paths.
/// Missing or unknown token: 401, as on every API route.</summary>
public static class TokensApi
{
    public static WebApplication MapTokensApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/user/tokens/verify", Verify).WithTags("Tokens").WithName("user.tokens.verify")
            .WithSummary("Capstan extension: the id, status and account_id of the API token sent in Authorization");
        return app;
    }

    private static async Task<Ok<Envelope<TokenVerifyDto>>> Verify(HttpRequest request, CapstanDbContext db, CancellationToken ct)
    {
        var token = ApiAuthMiddleware.ReadToken(request)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "missing API token: send 'Authorization: Bearer <token>'");
        var hash = ApiTokens.Hash(token);
        var row = await db.ApiTokens.AsNoTracking().Where(t => t.TokenHash == hash).Select(t => new { t.Id, t.AccountId }).FirstOrDefaultAsync(ct)
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "invalid API token");
        return Envelopes.Ok(new TokenVerifyDto(Ids.Format(row.Id), "active", row.AccountId));
    }
}
