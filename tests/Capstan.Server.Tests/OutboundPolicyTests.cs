using System.Net;
using System.Net.Sockets;
using Capstan.Server.Security;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Tests;

/// <summary>The outbound policy on its own: address classes, spellings, allow lists, option validation, and the
/// connect-time path (resolve once, check, connect to the checked address).</summary>
public sealed class OutboundPolicyTests
{
    private static OutboundPolicy Policy(bool allowPrivate = false, string[]? networks = null, string[]? hosts = null) =>
        new(Options.Create(new OutboundOptions { AllowPrivateTargets = allowPrivate, AllowedNetworks = [.. networks ?? []], AllowedHosts = [.. hosts ?? []] }));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.0.9", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::7f00:1", "loopback")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("::ffff:10.0.0.1", "private")]
    [InlineData("fd12:3456::1", "unique-local")]
    [InlineData("fc00::1", "unique-local")]
    [InlineData("100.64.0.1", "CGNAT")]
    [InlineData("100.127.255.254", "CGNAT")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fec0::1", "site-local")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("169.254.169.254", "metadata")]
    [InlineData("169.254.1.1", "metadata")]
    [InlineData("100.100.100.200", "metadata")]
    [InlineData("fd00:ec2::254", "metadata")]
    [InlineData("::ffff:169.254.169.254", "metadata")]
    public void RefusedAddresses_NameTheirClass(string address, string kind)
    {
        var why = Policy().CheckAddress(IPAddress.Parse(address));
        Assert.NotNull(why);
        Assert.Contains(kind, why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("93.184.216.34")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    public void PublicAddresses_AreAllowed(string address) =>
        Assert.Null(Policy().CheckAddress(IPAddress.Parse(address)));

    [Fact]
    public void AllowPrivateTargets_AllowsPrivateButNotMetadata()
    {
        var p = Policy(allowPrivate: true);
        Assert.Null(p.CheckAddress(IPAddress.Loopback));
        Assert.Null(p.CheckAddress(IPAddress.Parse("10.0.0.1")));
        Assert.Null(p.CheckAddress(IPAddress.Parse("fd12::1")));
        Assert.Contains("metadata", p.CheckAddress(IPAddress.Parse("169.254.169.254")));
        Assert.Contains("metadata", p.CheckAddress(IPAddress.Parse("fd00:ec2::254")));
        Assert.Contains("metadata", p.CheckAddress(IPAddress.Parse("100.100.100.200")));
    }

    [Fact]
    public void AllowedNetworks_AllowTheirAddressesOnly_AndMetadataOnlyWhenNamed()
    {
        var p = Policy(networks: ["10.99.0.0/24", "0.0.0.0/0", "::/0"]);
        Assert.Null(p.CheckAddress(IPAddress.Parse("10.99.0.1")));
        Assert.Null(p.CheckAddress(IPAddress.Loopback)); // 0.0.0.0/0 lists everything but metadata
        Assert.Contains("metadata", p.CheckAddress(IPAddress.Parse("169.254.169.254")));
        Assert.Contains("metadata", p.CheckAddress(IPAddress.Parse("fd00:ec2::254")));

        var narrow = Policy(networks: ["10.99.0.0/24"]);
        Assert.Null(narrow.CheckAddress(IPAddress.Parse("10.99.0.200")));
        Assert.Contains("private", narrow.CheckAddress(IPAddress.Parse("10.99.1.1")));

        var named = Policy(networks: ["169.254.169.254/32", "fd00:ec2::254"]);
        Assert.Null(named.CheckAddress(IPAddress.Parse("169.254.169.254")));
        Assert.Null(named.CheckAddress(IPAddress.Parse("fd00:ec2::254")));
        Assert.Contains("metadata", named.CheckAddress(IPAddress.Parse("169.254.169.253")));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("2130706433")] // decimal
    [InlineData("0177.0.0.1")] // octal
    [InlineData("0x7f.0.0.1")] // hex
    [InlineData("0x7f000001")]
    [InlineData("127.1")]
    [InlineData("[::ffff:127.0.0.1]")]
    [InlineData("[::ffff:7f00:1]")]
    [InlineData("[0:0:0:0:0:ffff:127.0.0.1]")]
    [InlineData("localhost")]
    [InlineData("LOCALHOST.")]
    [InlineData("app.localhost")]
    public async Task LoopbackSpellings_AreRefusedAtTheRequest(string host)
    {
        var why = await Policy().CheckHostAsync(host, Ct);
        Assert.NotNull(why);
        Assert.Contains("loopback", why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://2130706433/")]
    [InlineData("http://0x7f.1/")]
    [InlineData("http://0177.0.0.1/")]
    [InlineData("http://[::ffff:127.0.0.1]/")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://2852039166/")] // 169.254.169.254 in decimal
    [InlineData("http://metadata.google.internal/")]
    public async Task UrlHosts_InOddSpellings_AreRefused(string url)
    {
        var uri = new Uri(url);
        Assert.NotNull(await Policy().CheckHostAsync(uri.IdnHost, Ct));
    }

    [Fact]
    public async Task Names_AreJudgedByWhatTheyResolveTo_AndUnresolvableNamesPassTheRequestCheck()
    {
        var p = Policy();
        p.Resolve = (host, _) => Task.FromResult(host switch
        {
            "public.test" => new[] { IPAddress.Parse("93.184.216.34") },
            "mixed.test" => [IPAddress.Parse("93.184.216.34"), IPAddress.Parse("10.0.0.5")],
            "meta.test" => [IPAddress.Parse("169.254.169.254")],
            _ => throw new SocketException((int)SocketError.HostNotFound),
        });
        Assert.Null(await p.CheckHostAsync("public.test", Ct));
        Assert.Contains("10.0.0.5, a private address", await p.CheckHostAsync("mixed.test", Ct));
        Assert.Contains("metadata", await p.CheckHostAsync("meta.test", Ct));
        Assert.Null(await p.CheckHostAsync("nowhere.test", Ct));
    }

    [Fact]
    public async Task AllowedHosts_AreAllowedWhateverTheyResolveTo()
    {
        var p = Policy(hosts: ["internal.corp", "*.svc.local"]);
        p.Resolve = (_, _) => Task.FromResult(new[] { IPAddress.Parse("10.0.0.7") });
        Assert.Null(await p.CheckHostAsync("internal.corp", Ct));
        Assert.Null(await p.CheckHostAsync("a.b.svc.local", Ct));
        Assert.Null(await p.CheckHostAsync("svc.local", Ct));
        Assert.NotNull(await p.CheckHostAsync("other.corp", Ct));
        Assert.NotNull(await p.CheckHostAsync("evilsvc.local", Ct));
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("not-a-network")]
    [InlineData("10.0.0.0/")]
    [InlineData("2130706433")]
    public void OptionsValidation_RefusesBadNetworks(string network)
    {
        var result = new OutboundOptionsValidator().Validate(null, new OutboundOptions { AllowedNetworks = [network] });
        Assert.True(result.Failed);
        Assert.Contains("Outbound:AllowedNetworks:0", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionsValidation_AcceptsNetworksAndSingleAddresses()
    {
        var result = new OutboundOptionsValidator().Validate(null, new OutboundOptions { AllowedNetworks = ["10.99.0.0/24", "fd00::/8", "192.0.2.1", "::1"], AllowedHosts = ["a.example", "*.b.example"] });
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    /// <summary>DNS rebinding: the name answers a public address first and loopback second. The request check sees
    /// the first; the connection resolves again, sees loopback, and never connects.</summary>
    [Fact]
    public async Task Handler_ConnectsOnlyToCheckedAddresses_SoRebindingIsRefused()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var calls = 0;
        var p = Policy();
        p.Resolve = (_, _) => Task.FromResult(Interlocked.Increment(ref calls) == 1 ? new[] { IPAddress.Parse("93.184.216.34") } : [IPAddress.Loopback]);
        Assert.Null(await p.CheckHostAsync("rebind.test", Ct));

        using var client = new HttpClient(p.CreateHandler(allowRedirects: true));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"http://rebind.test:{port}/"), Ct));
        Assert.Contains("loopback", OutboundRefusal.Find(e)!.Message, StringComparison.Ordinal);
        Assert.False(listener.Pending(), "the refused address was connected to");
    }

    [Fact]
    public async Task Handler_ReChecksRedirectTargets()
    {
        // A real server on loopback (allowed as a listed network) that redirects to a metadata address.
        using var server = new TestHttpServer(ctx =>
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.RedirectLocation = "http://169.254.169.254/latest/meta-data/";
        });
        var port = server.Port;
        var p = Policy(networks: ["127.0.0.1/32"]);
        using var client = new HttpClient(p.CreateHandler(allowRedirects: true));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(new Uri($"http://127.0.0.1:{port}/wm.png"), Ct));
        Assert.Contains("metadata", OutboundRefusal.Find(e)!.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Handler_ConnectsToAllowedAddresses()
    {
        using var server = new TestHttpServer(ctx => ctx.Response.StatusCode = 204);
        var port = server.Port;
        using var client = new HttpClient(Policy(networks: ["127.0.0.0/8"]).CreateHandler(allowRedirects: true));
        using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/"), Ct);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }
}
