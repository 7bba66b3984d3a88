namespace Capstan.Contracts;

/// <summary><c>GET /user/tokens/verify</c>: Cloudflare's <c>{id, status}</c> plus the account the token belongs to
/// (a Capstan API token belongs to exactly one account).</summary>
public sealed record TokenVerifyDto(string Id, string Status, string AccountId);
