using System.Security.Cryptography;
using System.Text.Json;

namespace Capstan.Client.Webhooks;

/// <summary>Checks that a webhook request came from the server: <c>rtk-signature</c> is the base64 RSASSA-PKCS1-v1_5
/// SHA-256 signature of the raw body, made with the key published at <c>/.well-known/webhooks.json</c>.</summary>
/// <remarks>Verify the body bytes exactly as received, before any JSON parsing. Get an instance with
/// <c>client.RealtimeKit.Webhooks.GetVerifierAsync()</c> or from a PEM you keep; it is thread-safe.</remarks>
public sealed class WebhookVerifier : IDisposable
{
    /// <summary>The signature header.</summary>
    public const string SignatureHeader = "rtk-signature";

    /// <summary>The delivery id header (the same on every retry: use it to drop duplicates).</summary>
    public const string DeliveryIdHeader = "rtk-uuid";

    /// <summary>The webhook id header.</summary>
    public const string WebhookIdHeader = "rtk-webhook-id";

    private readonly RSA _key;

    /// <summary>A verifier for the given public key (PEM, <c>-----BEGIN PUBLIC KEY-----</c>).</summary>
    /// <exception cref="ArgumentException">The PEM holds no RSA public key.</exception>
    public WebhookVerifier(string publicKeyPem)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(publicKeyPem);
        _key = RSA.Create();
        try
        {
            _key.ImportFromPem(publicKeyPem);
        }
        catch (CryptographicException e)
        {
            _key.Dispose();
            throw new ArgumentException("not an RSA public key in PEM form: " + e.Message, nameof(publicKeyPem), e);
        }
        PublicKeyPem = publicKeyPem;
    }

    /// <summary>The public key in use.</summary>
    public string PublicKeyPem { get; }

    /// <summary>True when <paramref name="signature"/> (the <c>rtk-signature</c> value) signs exactly <paramref name="body"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> body, string? signature)
    {
        if (string.IsNullOrWhiteSpace(signature))
        {
            return false;
        }
        var bytes = new byte[((signature.Length + 3) / 4) * 3];
        if (!Convert.TryFromBase64String(signature.Trim(), bytes, out var length))
        {
            return false;
        }
        return _key.VerifyData(body, bytes.AsSpan(0, length), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    /// <summary>Verifies the body and parses it into a <see cref="WebhookEvent"/>.</summary>
    /// <param name="body">The raw request body.</param>
    /// <param name="header">Reads a request header by (lower-case) name, e.g. <c>n =&gt; request.Headers[n]</c>.</param>
    /// <exception cref="WebhookSignatureException">The signature is missing or does not match.</exception>
    public WebhookEvent ConstructEvent(ReadOnlySpan<byte> body, Func<string, string?> header)
    {
        ArgumentNullException.ThrowIfNull(header);
        var signature = header(SignatureHeader);
        if (string.IsNullOrWhiteSpace(signature))
        {
            throw new WebhookSignatureException($"the request has no {SignatureHeader} header");
        }
        if (!Verify(body, signature))
        {
            throw new WebhookSignatureException($"{SignatureHeader} does not match the body: it was changed, or signed with another key");
        }
        JsonElement payload;
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            payload = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new WebhookSignatureException("the signed body is not JSON: " + e.Message);
        }
        var name = payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("event", out var ev) && ev.ValueKind == JsonValueKind.String ? ev.GetString() : null;
        return new WebhookEvent(name ?? string.Empty, header(DeliveryIdHeader), header(WebhookIdHeader), payload);
    }

    /// <summary>Verifies and parses, with headers as a dictionary (names matched without regard to case).</summary>
    /// <exception cref="WebhookSignatureException">The signature is missing or does not match.</exception>
    public WebhookEvent ConstructEvent(ReadOnlySpan<byte> body, IReadOnlyDictionary<string, string> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return ConstructEvent(body, name => headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value);
    }

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();
}

/// <summary>A verified webhook request.</summary>
/// <param name="Event">The <c>event</c> field, e.g. <c>recording.statusUpdate</c>.</param>
/// <param name="DeliveryId">The <c>rtk-uuid</c> header: the same on each retry of one delivery.</param>
/// <param name="WebhookId">The <c>rtk-webhook-id</c> header.</param>
/// <param name="Payload">The whole body (camelCase, as RealtimeKit sends it).</param>
public sealed record WebhookEvent(string Event, string? DeliveryId, string? WebhookId, JsonElement Payload);
