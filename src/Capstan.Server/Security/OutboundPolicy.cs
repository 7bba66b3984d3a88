using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Security;

/// <summary>Settings of the outbound policy, section <c>Outbound</c>: which addresses Capstan may connect to on a
/// caller's behalf (recording <c>url</c>, watermarks, RTMP, webhooks, storage hosts and endpoints taken from a
/// request). Operator-configured endpoints (<c>Storage:Endpoints:*</c>, the default bucket, Janus, the server
/// itself) are not subject to it.</summary>
public sealed class OutboundOptions
{
    public const string Section = "Outbound";

    /// <summary>Allows loopback, private (RFC 1918), unique-local, CGNAT, link-local, unspecified, multicast and
    /// reserved addresses. Cloud metadata addresses stay refused. <c>Webhooks:AllowPrivateTargets</c> is an alias.</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>CIDR networks allowed anyway (<c>10.99.0.0/24</c>, <c>fd12::/64</c>, or one address). A metadata
    /// address is allowed only by a network that lies inside its metadata range (<c>169.254.169.254/32</c>), not by
    /// a wider one such as <c>0.0.0.0/0</c>.</summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>Host names allowed anyway, whatever they resolve to: exact names, or <c>*.example.com</c> for
    /// every name under it.</summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>How long a name may take to resolve when a request is checked. A name that does not resolve is
    /// accepted at the request (it is checked again when connecting).</summary>
    public TimeSpan ResolveTimeout { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>Start-up validation of <see cref="OutboundOptions"/>: every network must be CIDR, every host a name.</summary>
public sealed class OutboundOptionsValidator : IValidateOptions<OutboundOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboundOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        foreach (var (n, i) in options.AllowedNetworks.Select((n, i) => (n, i)))
        {
            if (!OutboundPolicy.TryParseNetwork(n, out _))
            {
                errors.Add($"Outbound:AllowedNetworks:{i} must be a CIDR network such as 10.0.0.0/8 or fd00::/8, got '{n}'");
            }
        }
        foreach (var (h, i) in options.AllowedHosts.Select((h, i) => (h, i)))
        {
            var bare = h?.Trim().TrimStart('*', '.') ?? string.Empty;
            if (bare.Length == 0 || Uri.CheckHostName(bare) is UriHostNameType.Unknown)
            {
                errors.Add($"Outbound:AllowedHosts:{i} must be a host name (or *.domain), got '{h}'");
            }
        }
        if (options.ResolveTimeout <= TimeSpan.Zero)
        {
            errors.Add("Outbound:ResolveTimeout must be positive");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>A connection refused by the outbound policy (at connect time: the name resolved to a refused address).</summary>
public sealed class OutboundRefusedException(string message) : IOException(message);

public static class OutboundRefusal
{
    /// <summary>The policy's refusal somewhere in an exception chain (HttpClient and SDKs wrap it), or null.</summary>
    public static OutboundRefusedException? Find(Exception? e)
    {
        for (var depth = 0; e is not null && depth < 10; e = e.InnerException, depth++)
        {
            if (e is OutboundRefusedException refused)
            {
                return refused;
            }
            if (e is AggregateException { InnerExceptions.Count: > 0 } a && Find(a.InnerExceptions[^1]) is { } inner)
            {
                return inner;
            }
        }
        return null;
    }
}

/// <summary>The one outbound policy. <see cref="CheckAddress"/> classifies an address; <see cref="CheckHostAsync"/>
/// checks a host as written in a request (IP literals in any spelling the resolver accepts: decimal
/// <c>2130706433</c>, octal <c>0177.0.0.1</c>, hex <c>0x7f.1</c>, IPv4-mapped <c>::ffff:127.0.0.1</c>; names by what
/// they resolve to now); <see cref="ConnectAsync"/> resolves once, checks every address and connects to a checked
/// one, so a name that changes its answer between the check and the connection (DNS rebinding) gets nowhere.
/// <para>Refused unless <see cref="OutboundOptions.AllowPrivateTargets"/>: loopback (127/8, ::1), unspecified
/// (0/8, ::), RFC 1918 private, CGNAT 100.64/10, link-local (fe80::/10), unique-local fc00::/7, site-local fec0::/10,
/// multicast, broadcast and reserved ranges (192.0.0/24, documentation nets, 198.18/15, 240/4, 2001:db8::/32,
/// 100::/64). IPv4-mapped, IPv4-compatible and NAT64 (64:ff9b::/96) IPv6 forms are judged by the IPv4 address they
/// carry. Always refused unless a listed network names them: cloud metadata (all of 169.254/16, 100.100.100.200,
/// fd00:ec2::254). Names refused by name: <c>localhost</c> and <c>*.localhost</c> (private), <c>metadata</c>,
/// <c>metadata.google.internal</c> and <c>*.internal</c> (metadata), unless listed in
/// <see cref="OutboundOptions.AllowedHosts"/>.</para></summary>
public sealed class OutboundPolicy
{
    private static readonly (IPNetwork Net, string Kind)[] Metadata =
    [
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local cloud metadata address"),
        (IPNetwork.Parse("100.100.100.200/32"), "a cloud metadata address"),
        (IPNetwork.Parse("fd00:ec2::254/128"), "a cloud metadata address"),
    ];

    private static readonly (IPNetwork Net, string Kind)[] Special =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified (0.0.0.0/8) address"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private address"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private address"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private address"),
        (IPNetwork.Parse("100.64.0.0/10"), "a CGNAT (100.64.0.0/10) address"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved address"),
        (IPNetwork.Parse("192.0.2.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("198.51.100.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("203.0.113.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("198.18.0.0/15"), "a reserved (benchmarking) address"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved or broadcast address"),
        (IPNetwork.Parse("::/128"), "an unspecified (::) address"),
        (IPNetwork.Parse("::1/128"), "a loopback address"),
        (IPNetwork.Parse("fe80::/10"), "a link-local address"),
        (IPNetwork.Parse("fec0::/10"), "a site-local address"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local (private) address"),
        (IPNetwork.Parse("ff00::/8"), "a multicast address"),
        (IPNetwork.Parse("2001:db8::/32"), "a reserved (documentation) address"),
        (IPNetwork.Parse("100::/64"), "a reserved (discard) address"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork V4Compatible = IPNetwork.Parse("::/96");

    private readonly IPNetwork[] _allowedNetworks;
    private readonly string[] _allowedHosts;

    public OutboundPolicy(IOptions<OutboundOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        AllowPrivateTargets = Options.AllowPrivateTargets;
        _allowedNetworks = [.. Options.AllowedNetworks.Select(n => TryParseNetwork(n, out var net) ? net : throw new OptionsValidationException(
            OutboundOptions.Section, typeof(OutboundOptions), [$"Outbound:AllowedNetworks: '{n}' is not a CIDR network"]))];
        _allowedHosts = [.. Options.AllowedHosts.Select(h => h.Trim().TrimEnd('.').ToLowerInvariant())];
    }

    public OutboundOptions Options { get; }

    /// <summary>The name resolver (the system's). Tests replace it to answer differently at the request and at
    /// connect time, as a rebinding DNS server would (no DNS server of ours can run here).</summary>
    internal Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; set; } = Dns.GetHostAddressesAsync;

    /// <summary><c>Outbound:AllowPrivateTargets</c> or its alias <c>Webhooks:AllowPrivateTargets</c>.</summary>
    public bool AllowPrivateTargets { get; }

    /// <summary>Why the address is refused ("a loopback address"), or null when it may be connected to.</summary>
    public string? CheckAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var ip = Embedded(address);
        var metadata = Metadata.FirstOrDefault(m => m.Net.Contains(ip));
        if (metadata.Kind is not null)
        {
            // Named explicitly: a listed network that lies inside the metadata range.
            var named = _allowedNetworks.Any(n => n.Contains(ip) && n.PrefixLength >= metadata.Net.PrefixLength && metadata.Net.Contains(n.BaseAddress));
            return named ? null : metadata.Kind;
        }
        if (_allowedNetworks.Any(n => n.Contains(ip) || n.Contains(address)))
        {
            return null;
        }
        var special = Special.FirstOrDefault(s => s.Net.Contains(ip));
        return special.Kind is null || AllowPrivateTargets ? null : special.Kind;
    }

    /// <summary>True when the name is listed in <c>Outbound:AllowedHosts</c>.</summary>
    public bool IsAllowedHost(string host)
    {
        var h = Normalize(host);
        return _allowedHosts.Any(a => a.StartsWith("*.", StringComparison.Ordinal)
            ? h.EndsWith(a[1..], StringComparison.Ordinal) || h == a[2..]
            : h == a);
    }

    /// <summary>Checks a host as a request gives it (URL host or bare host name). Returns why it is refused, or
    /// null. Names are resolved (within <see cref="OutboundOptions.ResolveTimeout"/>) and refused if any address
    /// they resolve to is; a name that does not resolve is accepted here and checked again at connect time.</summary>
    public async Task<string?> CheckHostAsync(string host, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(host);
        var h = Normalize(host);
        if (h.Length == 0)
        {
            return null;
        }
        if (TryParseAddress(h, out var literal))
        {
            return CheckAddress(literal) is { } why ? $"{literal} is {why}" : null;
        }
        if (IsAllowedHost(h))
        {
            return null;
        }
        if (RefusedByName(h) is { } byName)
        {
            return $"'{h}' is {byName}";
        }
        IPAddress[] addresses;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeout.CancelAfter(Options.ResolveTimeout);
            try
            {
                addresses = await Resolve(h, timeout.Token);
            }
            catch (SocketException)
            {
                return null;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return null;
            }
        }
        return Refused(h, addresses);
    }

    /// <summary>Resolves <paramref name="host"/> once and returns the addresses to connect to, all checked; throws
    /// <see cref="OutboundRefusedException"/> if any of them is refused (a name that answers both a public and a
    /// private address is refused as a whole).</summary>
    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(host);
        var h = Normalize(host);
        if (TryParseAddress(h, out var literal))
        {
            return CheckAddress(literal) is { } why
                ? throw new OutboundRefusedException($"{literal} is {why} ({Refusal})")
                : [literal];
        }
        var allowedName = IsAllowedHost(h);
        if (!allowedName && RefusedByName(h) is { } byName)
        {
            throw new OutboundRefusedException($"'{h}' is {byName} ({Refusal})");
        }
        var addresses = await Resolve(h, ct);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        if (!allowedName && Refused(h, addresses) is { } reason)
        {
            throw new OutboundRefusedException($"{reason} ({Refusal})");
        }
        return addresses;
    }

    /// <summary>Resolves, checks and connects a TCP stream to the first checked address that answers.</summary>
    public async Task<Socket> ConnectAsync(string host, int port, CancellationToken ct)
    {
        var addresses = await ResolveAsync(host, ct);
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), ct);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>A handler whose every connection (redirect targets included) goes through <see cref="ConnectAsync"/>.
    /// No system proxy is used (a proxy would be the address connected to).</summary>
    public SocketsHttpHandler CreateHandler(bool allowRedirects)
    {
        return new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = allowRedirects,
            MaxAutomaticRedirections = 5,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            ConnectCallback = async (context, ct) =>
            {
                var socket = await ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
    }

    /// <summary>What to tell the caller about how to allow a refused target.</summary>
    public string Refusal => "refused by the outbound policy; the operator can allow it with Outbound:AllowedNetworks or Outbound:AllowedHosts"
        + (AllowPrivateTargets ? string.Empty : " (or Outbound:AllowPrivateTargets for non-metadata addresses)");

    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        var t = text?.Trim() ?? string.Empty;
        if (t.Length == 0)
        {
            return false;
        }
        if (!t.Contains('/', StringComparison.Ordinal))
        {
            if (!IPAddress.TryParse(t, out var single) || !IsCanonicalLiteral(t))
            {
                return false;
            }
            network = new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        return IPNetwork.TryParse(t, out network);
    }

    /// <summary>A host that is an IP address in any spelling the system resolver would accept: dotted, decimal,
    /// octal, hex, shortened (<c>127.1</c>), bracketed IPv6 (with a zone or not).</summary>
    public static bool TryParseAddress(string host, out IPAddress address)
    {
        var h = host.Trim().TrimEnd('.');
        if (h.StartsWith('[') && h.EndsWith(']'))
        {
            h = h[1..^1];
        }
        return IPAddress.TryParse(h, out address!);
    }

    private string? Refused(string host, IPAddress[] addresses)
    {
        foreach (var a in addresses)
        {
            if (CheckAddress(a) is { } why)
            {
                return $"'{host}' resolves to {a}, {why}";
            }
        }
        return null;
    }

    private string? RefusedByName(string h)
    {
        if (h is "metadata" or "metadata.google.internal" || h.EndsWith(".internal", StringComparison.Ordinal))
        {
            return "a cloud metadata name";
        }
        if ((h == "localhost" || h.EndsWith(".localhost", StringComparison.Ordinal)) && !AllowPrivateTargets)
        {
            return "a loopback name";
        }
        return null;
    }

    private static string Normalize(string host)
    {
        var h = host.Trim().TrimEnd('.').ToLowerInvariant();
        return h.StartsWith('[') && h.EndsWith(']') ? h[1..^1] : h;
    }

    /// <summary>The IPv4 address an IPv6 address carries (mapped, compatible, NAT64), or the address itself.</summary>
    private static IPAddress Embedded(IPAddress ip)
    {
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip;
        }
        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4();
        }
        if (ip.ScopeId != 0)
        {
            ip = new IPAddress(ip.GetAddressBytes());
        }
        if ((Nat64.Contains(ip) || (V4Compatible.Contains(ip) && !ip.Equals(IPAddress.IPv6Any) && !ip.Equals(IPAddress.IPv6Loopback))))
        {
            var b = ip.GetAddressBytes();
            return new IPAddress(b.AsSpan(12, 4));
        }
        return ip;
    }

    private static bool IsCanonicalLiteral(string t) => t.Contains(':', StringComparison.Ordinal) || t.Count(c => c == '.') == 3;
}
