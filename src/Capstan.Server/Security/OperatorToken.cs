using System.Security.Cryptography;
using System.Text;

namespace Capstan.Server.Security;

/// <summary>The operator's credential: <c>Capstan:OperatorToken</c>, one secret for the deployment-wide Capstan
/// extensions (<c>GET /system/nodes</c>), sent like an API token (<c>Authorization: Bearer</c> or <c>X-Auth-Key</c>).
/// Choice: a setting rather than a kind of API token in the database, because what it grants is not an account's
/// (the nodes and the queue of every account) and an operator sets up the deployment's settings anyway; unset, the
/// operator routes answer 403. Compared in constant time, over SHA-256 digests so that the length leaks nothing either.</summary>
public static class OperatorToken
{
    /// <summary>The shortest operator token accepted (a random 32-character token or longer).</summary>
    public const int MinLength = 32;

    /// <summary>Whether <paramref name="presented"/> is the configured token (false when none is configured).</summary>
    public static bool Matches(string? configured, string? presented)
    {
        if (string.IsNullOrEmpty(configured) || string.IsNullOrEmpty(presented))
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
    }
}
