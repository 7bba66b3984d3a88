using System.Security.Cryptography;
using Capstan.Server.Data;
using Capstan.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Webhooks;

/// <summary>Signs webhook bodies with RSASSA-PKCS1-v1_5 / SHA-256 (the <c>rtk-signature</c> header). The key pair
/// lives in the database (private part encrypted) so that every node signs with it; its public key is served at
/// <c>/.well-known/webhooks.json</c>.</summary>
public sealed class WebhookSigner(IServiceScopeFactory scopes, SecretProtector protector, TimeProvider time)
{
    private const string Purpose = "webhook";
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (RSA Key, string PublicPem)? _key;

    public async Task<string> SignAsync(byte[] body, CancellationToken ct)
    {
        var (key, _) = await KeyAsync(ct);
        return Convert.ToBase64String(key.SignData(body, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    public async Task<string> PublicKeyPemAsync(CancellationToken ct) => (await KeyAsync(ct)).PublicPem;

    private async Task<(RSA Key, string PublicPem)> KeyAsync(CancellationToken ct)
    {
        if (_key is { } k)
        {
            return k;
        }
        await _gate.WaitAsync(ct);
        try
        {
            if (_key is { } again)
            {
                return again;
            }
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var row = await db.SigningKeys.AsNoTracking().Where(x => x.Purpose == Purpose && x.RetiredAt == null).OrderBy(x => x.CreatedAt).FirstOrDefaultAsync(ct);
            if (row is null)
            {
                using var rsa = RSA.Create(2048);
                row = new SigningKeyRow
                {
                    Kid = "wh-" + Guid.NewGuid().ToString("N")[..13],
                    Purpose = Purpose,
                    PrivateKeyProtected = protector.Protect(Convert.ToBase64String(rsa.ExportPkcs8PrivateKey())),
                    PublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem(),
                    CreatedAt = time.GetUtcNow().UtcDateTime,
                };
                db.SigningKeys.Add(row);
                await db.SaveChangesAsync(ct);
                // Two nodes creating the key at once: the oldest one wins, everywhere.
                row = await db.SigningKeys.AsNoTracking().Where(x => x.Purpose == Purpose && x.RetiredAt == null).OrderBy(x => x.CreatedAt).FirstAsync(ct);
            }
            var key = RSA.Create();
            key.ImportPkcs8PrivateKey(Convert.FromBase64String(protector.Unprotect(row.PrivateKeyProtected)), out _);
            _key = (key, row.PublicKeyPem);
            return _key.Value;
        }
        finally
        {
            _gate.Release();
        }
    }
}
