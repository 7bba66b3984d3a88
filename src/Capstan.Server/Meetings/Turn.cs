using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Meetings;

/// <summary>TURN settings, section <c>Turn</c>: the TURN server (coturn) participants behind a NAT or a firewall that
/// blocks UDP relay their media through. coturn runs with <c>use-auth-secret</c> and <c>static-auth-secret</c> (its
/// "TURN REST API" scheme): Capstan hands every participant, with the join, a credential that coturn checks with the
/// shared secret alone and that stops working at its expiry (<see cref="TurnCredentials"/>).</summary>
public sealed class TurnOptions
{
    public const string Section = "Turn";

    /// <summary>The TURN server's URIs as browsers take them (RFC 7065), for example
    /// <c>turn:turn.example.com:3478?transport=udp</c>, <c>turn:turn.example.com:3478?transport=tcp</c>,
    /// <c>turns:turn.example.com:5349?transport=tcp</c>. Empty: no TURN (participants connect directly).</summary>
    public List<string> Urls { get; set; } = [];

    /// <summary>coturn's <c>static-auth-secret</c>.</summary>
    public string? Secret { get; set; }

    /// <summary>How long a handed-out credential works for new allocations and refreshes (a join reloaded later
    /// gets a new one). Default one day, the lifetime of a participant token.</summary>
    public TimeSpan CredentialTtl { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The supervised Janus gathers relay candidates through the same TURN server as well, with
    /// credentials it asks Capstan for per connection (Janus's <c>turn_rest_api</c>). Default true.</summary>
    public bool Janus { get; set; } = true;

    public bool Enabled => Urls.Count > 0;

    /// <summary>The URIs Janus can use (it takes only <c>turn:</c> and <c>turns:</c>).</summary>
    public IReadOnlyList<string> TurnUrls => [.. Urls.Where(u => u.StartsWith("turn:", StringComparison.OrdinalIgnoreCase) || u.StartsWith("turns:", StringComparison.OrdinalIgnoreCase))];
}

/// <summary>Refuses bad <see cref="TurnOptions"/> at start: every URI must be a <c>turn:</c>, <c>turns:</c> or
/// <c>stun:</c> URI with a host, an optional port and an optional <c>transport=udp|tcp</c>; a secret (at least 16
/// characters) is required with a TURN URI and meaningless without one; the TTL runs from a minute to 30 days.</summary>
public sealed class TurnOptionsValidator : IValidateOptions<TurnOptions>
{
    public ValidateOptionsResult Validate(string? name, TurnOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        for (var i = 0; i < options.Urls.Count; i++)
        {
            if (TurnUri.Problem(options.Urls[i]) is { } problem)
            {
                errors.Add($"Turn:Urls:{i} {problem}, got '{options.Urls[i]}'");
            }
        }
        var needsSecret = options.TurnUrls.Count > 0;
        if (needsSecret && string.IsNullOrEmpty(options.Secret))
        {
            errors.Add("Turn:Secret is required with a turn: or turns: URI in Turn:Urls (coturn's static-auth-secret)");
        }
        else if (!string.IsNullOrEmpty(options.Secret) && (options.Secret.Length < 16 || options.Secret.Any(char.IsWhiteSpace)))
        {
            errors.Add("Turn:Secret must be at least 16 characters without spaces");
        }
        if (!needsSecret && !string.IsNullOrEmpty(options.Secret))
        {
            errors.Add("Turn:Secret is set but Turn:Urls has no turn: or turns: URI to use it with");
        }
        if (options.CredentialTtl < TimeSpan.FromMinutes(1) || options.CredentialTtl > TimeSpan.FromDays(30))
        {
            errors.Add($"Turn:CredentialTtl must be from 00:01:00 to 30.00:00:00, got {options.CredentialTtl}");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>RFC 7064/7065 STUN and TURN URIs: <c>scheme:host[:port][?transport=udp|tcp]</c>.</summary>
public static class TurnUri
{
    /// <summary>Why <paramref name="uri"/> is not a usable STUN/TURN URI, or null when it is.</summary>
    public static string? Problem(string? uri)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            return "must be a turn:, turns: or stun: URI";
        }
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon > 0 ? uri[..colon].ToLowerInvariant() : string.Empty;
        if (scheme is not ("turn" or "turns" or "stun" or "stuns"))
        {
            return "must start with turn:, turns: or stun:";
        }
        var rest = uri[(colon + 1)..];
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            return "must not have '//' after the scheme (turn:host:port, RFC 7065)";
        }
        var query = string.Empty;
        if (rest.IndexOf('?', StringComparison.Ordinal) is var q and >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        if (query.Length > 0)
        {
            if (scheme.StartsWith("stun", StringComparison.Ordinal))
            {
                return "a stun: URI takes no query";
            }
            if (query is not ("transport=udp" or "transport=tcp"))
            {
                return "may only end in ?transport=udp or ?transport=tcp";
            }
        }
        string host = rest, port = string.Empty;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return "has an unclosed IPv6 literal";
            }
            host = rest[1..close];
            var after = rest[(close + 1)..];
            if (after.Length > 0)
            {
                if (!after.StartsWith(':'))
                {
                    return "has text after the IPv6 literal";
                }
                port = after[1..];
            }
            if (!System.Net.IPAddress.TryParse(host, out _))
            {
                return "has a bad IPv6 literal";
            }
        }
        else if (rest.LastIndexOf(':') is var p and >= 0)
        {
            host = rest[..p];
            port = rest[(p + 1)..];
        }
        if (host.Length == 0 || Uri.CheckHostName(host) is UriHostNameType.Unknown)
        {
            return "must name a host";
        }
        if (port.Length > 0 && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 65535))
        {
            return "has a port outside 1..65535";
        }
        return null;
    }
}

/// <summary>One time-limited TURN credential: <see cref="Username"/> is <c>expiry[:id]</c> (Unix seconds), and
/// <see cref="Credential"/> is base64(HMAC-SHA1(secret, username)), what coturn's <c>use-auth-secret</c> computes.</summary>
public sealed record TurnCredential(string Username, string Credential, DateTimeOffset Expires);

/// <summary>The coturn REST-API credential scheme (draft-uberti-behave-turn-rest-00, section 2.2).</summary>
public static class TurnCredentials
{
    /// <summary>A credential that expires <paramref name="ttl"/> after <paramref name="now"/>. <paramref name="id"/>
    /// (optional) follows the expiry after a colon and lands in coturn's log, so an allocation can be traced to its
    /// participant; characters other than letters, digits, '.', '_' and '-' are dropped from it.</summary>
    public static TurnCredential Create(string secret, TimeSpan ttl, DateTimeOffset now, string? id = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        var expires = now + ttl;
        var unix = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var clean = id is null ? string.Empty : new string([.. id.Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')]);
        if (clean.Length > 100)
        {
            clean = clean[..100];
        }
        var username = clean.Length == 0 ? unix : unix + ":" + clean;
        return new TurnCredential(username, Sign(secret, username), DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    /// <summary>base64(HMAC-SHA1(secret, username)).</summary>
    public static string Sign(string secret, string username)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(username);
        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));
    }
}

/// <summary>An RTCIceServer of the join answer.</summary>
public sealed record IceServer(IReadOnlyList<string> Urls, string? Username, string? Credential);

/// <summary>Makes the ICE servers of a join and answers Janus's TURN REST API requests.</summary>
public sealed class TurnService(IOptions<TurnOptions> options, TimeProvider time)
{
    public TurnOptions Options => options.Value;

    /// <summary>The ICE servers for participant <paramref name="id"/>: the configured URIs with a fresh credential
    /// (STUN URIs without one); empty when TURN is not configured.</summary>
    public IReadOnlyList<IceServer> IceServersFor(string id)
    {
        var o = options.Value;
        if (!o.Enabled)
        {
            return [];
        }
        var servers = new List<IceServer>();
        var turn = o.TurnUrls;
        if (turn.Count > 0)
        {
            var c = TurnCredentials.Create(o.Secret!, o.CredentialTtl, time.GetUtcNow(), id);
            servers.Add(new IceServer(turn, c.Username, c.Credential));
        }
        var stun = o.Urls.Except(turn).ToList();
        if (stun.Count > 0)
        {
            servers.Add(new IceServer(stun, null, null));
        }
        return servers;
    }

    /// <summary>The body of a TURN REST API answer (<c>username</c>, <c>password</c>, <c>ttl</c>, <c>uris</c>).</summary>
    public TurnRestAnswer ForJanus(string? username)
    {
        var o = options.Value;
        var c = TurnCredentials.Create(o.Secret!, o.CredentialTtl, time.GetUtcNow(), "janus-" + (username ?? "peer"));
        return new TurnRestAnswer(c.Username, c.Credential, (long)o.CredentialTtl.TotalSeconds, o.TurnUrls);
    }
}

/// <summary>draft-uberti-behave-turn-rest-00, section 2.2 (what Janus's <c>turn_rest_api</c> client reads).</summary>
public sealed record TurnRestAnswer(string Username, string Password, long Ttl, IReadOnlyList<string> Uris);
