using System.Security.Cryptography;
using System.Text;

namespace Capstan.Server.Security;

public static class ApiTokens
{
    public const string Prefix = "cap_";

    /// <summary>A new random token: <c>cap_</c> + 43 base64url characters (256 bits).</summary>
    public static string Generate() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>Tokens are stored as SHA-256 (they are 256-bit random, so no slow hash is needed).</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static string Hint(string token) => token.Length <= 8 ? "****" : token[..Math.Min(8, token.Length)] + "...";

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static byte[] FromBase64Url(string value)
    {
        var s = value.Replace('-', '+').Replace('_', '/');
        s += (s.Length % 4) switch { 2 => "==", 3 => "=", _ => string.Empty };
        return Convert.FromBase64String(s);
    }
}
