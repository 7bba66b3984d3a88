using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Server.Data;
using Capstan.Server.Hosting;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Security;

/// <summary>The claims of a participant token.</summary>
public sealed record ParticipantClaims(Guid AppId, Guid MeetingId, Guid ParticipantId, string Preset, DateTimeOffset ExpiresAt);

/// <summary>Issues and verifies participant tokens: RS256 JWTs with a <c>kid</c> header. Keys live in the
/// database (private part encrypted) so that every node verifies the same tokens; a new key is made when the
/// current one is older than <c>Capstan:SigningKeyRotation</c>, and older keys keep verifying until retired.</summary>
public sealed class ParticipantTokens(IServiceScopeFactory scopes, SecretProtector protector, CapstanOptions options, TimeProvider time)
{
    private const string Purpose = "participant-token";
    private const string Issuer = "capstan";
    private readonly ConcurrentDictionary<string, RSA> _publicKeys = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (string Kid, RSA Key, DateTime CreatedAt)? _current;

    public async Task<string> IssueAsync(Guid appId, Guid meetingId, Guid participantId, string preset, CancellationToken cancellationToken)
    {
        var (kid, key) = await CurrentKeyAsync(cancellationToken);
        var now = time.GetUtcNow();
        var header = new JwtHeader("RS256", "JWT", kid);
        var payload = new JwtPayload(
            Issuer,
            participantId.ToString("D"),
            appId.ToString("D"),
            meetingId.ToString("D"),
            participantId.ToString("D"),
            preset,
            now.ToUnixTimeSeconds(),
            now.Add(options.ParticipantTokenLifetime).ToUnixTimeSeconds(),
            Guid.NewGuid().ToString("N"));
        var signingInput = Segment(header) + "." + Segment(payload);
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + ApiTokens.Base64Url(signature);
    }

    /// <summary>Verifies signature, issuer and expiry. Returns null for any invalid or expired token.</summary>
    public async Task<ParticipantClaims?> VerifyAsync(string? token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 8192)
        {
            return null;
        }
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }
        try
        {
            var header = JsonSerializer.Deserialize<JwtHeader>(ApiTokens.FromBase64Url(parts[0]));
            if (header is null || header.Alg != "RS256" || string.IsNullOrEmpty(header.Kid))
            {
                return null;
            }
            var key = await PublicKeyAsync(header.Kid, cancellationToken);
            if (key is null)
            {
                return null;
            }
            var ok = key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), ApiTokens.FromBase64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            if (!ok)
            {
                return null;
            }
            var payload = JsonSerializer.Deserialize<JwtPayload>(ApiTokens.FromBase64Url(parts[1]));
            if (payload is null || payload.Iss != Issuer)
            {
                return null;
            }
            var expires = DateTimeOffset.FromUnixTimeSeconds(payload.Exp);
            if (expires <= time.GetUtcNow())
            {
                return null;
            }
            return new ParticipantClaims(Guid.Parse(payload.AppId), Guid.Parse(payload.MeetingId), Guid.Parse(payload.ParticipantId), payload.Preset, expires);
        }
        catch (Exception e) when (e is FormatException or JsonException or CryptographicException or ArgumentException)
        {
            return null;
        }
    }

    private async Task<(string Kid, RSA Key)> CurrentKeyAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        if (_current is { } c && now - c.CreatedAt < options.SigningKeyRotation)
        {
            return (c.Kid, c.Key);
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_current is { } again && now - again.CreatedAt < options.SigningKeyRotation)
            {
                return (again.Kid, again.Key);
            }
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var rotateBefore = now - options.SigningKeyRotation;
            var row = await db.SigningKeys.AsNoTracking()
                .Where(k => k.Purpose == Purpose && k.RetiredAt == null && k.CreatedAt > rotateBefore)
                .OrderByDescending(k => k.CreatedAt)
                .FirstOrDefaultAsync(cancellationToken);
            if (row is null)
            {
                using var rsa = RSA.Create(2048);
                row = new SigningKeyRow
                {
                    Kid = Guid.NewGuid().ToString("N")[..16],
                    Purpose = Purpose,
                    PrivateKeyProtected = protector.Protect(Convert.ToBase64String(rsa.ExportPkcs8PrivateKey())),
                    PublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem(),
                    CreatedAt = now,
                };
                db.SigningKeys.Add(row);
                // Keys older than rotation + token lifetime can no longer have valid tokens: retire them.
                var retireBefore = now - options.SigningKeyRotation - options.ParticipantTokenLifetime;
                await db.SigningKeys.Where(k => k.Purpose == Purpose && k.RetiredAt == null && k.CreatedAt < retireBefore)
                    .ExecuteUpdateAsync(s => s.SetProperty(k => k.RetiredAt, now), cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
            }
            var key = RSA.Create();
            key.ImportPkcs8PrivateKey(Convert.FromBase64String(protector.Unprotect(row.PrivateKeyProtected)), out _);
            _current = (row.Kid, key, row.CreatedAt);
            return (row.Kid, key);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<RSA?> PublicKeyAsync(string kid, CancellationToken cancellationToken)
    {
        if (_publicKeys.TryGetValue(kid, out var cached))
        {
            return cached;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var row = await db.SigningKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Kid == kid && k.Purpose == Purpose && k.RetiredAt == null, cancellationToken);
        if (row is null)
        {
            return null;
        }
        var rsa = RSA.Create();
        rsa.ImportFromPem(row.PublicKeyPem);
        return _publicKeys.GetOrAdd(kid, rsa);
    }

    private static string Segment<T>(T value) => ApiTokens.Base64Url(JsonSerializer.SerializeToUtf8Bytes(value));

    private sealed record JwtHeader(
        [property: JsonPropertyName("alg")] string Alg,
        [property: JsonPropertyName("typ")] string Typ,
        [property: JsonPropertyName("kid")] string Kid);

    private sealed record JwtPayload(
        [property: JsonPropertyName("iss")] string Iss,
        [property: JsonPropertyName("sub")] string Sub,
        [property: JsonPropertyName("app_id")] string AppId,
        [property: JsonPropertyName("meeting_id")] string MeetingId,
        [property: JsonPropertyName("participant_id")] string ParticipantId,
        [property: JsonPropertyName("preset")] string Preset,
        [property: JsonPropertyName("iat")] long Iat,
        [property: JsonPropertyName("exp")] long Exp,
        [property: JsonPropertyName("jti")] string Jti);
}
