using System.Security.Cryptography;
using Capstan.Server.Data;
using Capstan.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Domain;

/// <summary>Accounts, API tokens and apps.</summary>
public sealed class AccountService(CapstanDbContext db, TimeProvider time)
{
    /// <summary>A new account id: 32 hex characters, like a Cloudflare account tag.</summary>
    public static string NewAccountId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public async Task<string> CreateAccountAsync(string? id, CancellationToken ct)
    {
        var accountId = id ?? NewAccountId();
        ValidateAccountId(accountId);
        db.Accounts.Add(new Account { Id = accountId, CreatedAt = Now });
        await db.SaveChangesAsync(ct);
        return accountId;
    }

    /// <summary>Stores the hash of <paramref name="token"/> (or of a new token) for the account and returns the token.</summary>
    public async Task<string> CreateTokenAsync(string accountId, string? token, CancellationToken ct)
    {
        if (!await db.Accounts.AnyAsync(a => a.Id == accountId, ct))
        {
            throw CapstanException.NotFound($"No account found with id {accountId}");
        }
        token ??= ApiTokens.Generate();
        if (token.Length is < 20 or > 512 || token.Any(char.IsWhiteSpace))
        {
            throw CapstanException.Invalid("token must be 20..512 characters without spaces");
        }
        db.ApiTokens.Add(new ApiToken { Id = Guid.NewGuid(), AccountId = accountId, TokenHash = ApiTokens.Hash(token), Hint = ApiTokens.Hint(token), CreatedAt = Now });
        await db.SaveChangesAsync(ct);
        return token;
    }

    public async Task<AppRow> CreateAppAsync(string accountId, string? name, Guid? id, CancellationToken ct)
    {
        var v = new Validation();
        v.Required(name, "name");
        v.MaxLength(name, 256, "name");
        v.ThrowIfAny();
        var app = new AppRow { Id = id ?? Guid.NewGuid(), AccountId = accountId, Name = name!.Trim(), CreatedAt = Now };
        db.Apps.Add(app);
        await db.SaveChangesAsync(ct);
        return app;
    }

    public async Task<(List<AppRow> Items, long Total)> ListAppsAsync(string accountId, string? search, bool ascending, PageRequest page, CancellationToken ct)
    {
        var q = db.Apps.AsNoTracking().Where(a => a.AccountId == accountId);
        if (!string.IsNullOrEmpty(search))
        {
            var pattern = $"%{EscapeLike(search.ToLowerInvariant())}%";
            q = q.Where(a => EF.Functions.Like(a.Name.ToLower(), pattern, "\\"));
        }
        var total = await q.LongCountAsync(ct);
        q = ascending ? q.OrderBy(a => a.CreatedAt).ThenBy(a => a.Id) : q.OrderByDescending(a => a.CreatedAt).ThenByDescending(a => a.Id);
        var items = await q.Skip(page.Skip).Take(page.PerPage).ToListAsync(ct);
        return (items, total);
    }

    /// <summary>Creates exactly the given account, app and token when the database has no account yet
    /// (CAPSTAN_BOOTSTRAP_*). Returns false when the database already had accounts.</summary>
    public async Task<bool> BootstrapAsync(string accountId, Guid appId, string token, CancellationToken ct)
    {
        if (await db.Accounts.AnyAsync(ct))
        {
            return false;
        }
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await CreateAccountAsync(accountId, ct);
        await CreateTokenAsync(accountId, token, ct);
        await CreateAppAsync(accountId, "default", appId, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    public static void ValidateAccountId(string accountId)
    {
        if (accountId.Length is < 1 or > 64 || !accountId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw CapstanException.Invalid("account id must be 1..64 letters, digits, '-' or '_'");
        }
    }

    internal static string EscapeLike(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
