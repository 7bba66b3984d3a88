using System.Net;
using System.Net.Sockets;
using System.Text;
using Capstan.Server.Recorder;
using Capstan.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Tests;

/// <summary>The recorder browser's filtering proxy, driven over real sockets as a browser drives it: absolute-form
/// HTTP and CONNECT (HTTPS and WebSockets), towards real servers on loopback. Loopback is refused by the default
/// policy except the trusted endpoint (the Capstan server) and networks the test lists.</summary>
public sealed class OutboundProxyTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestHttpServer? _trustedServer;
    private TestHttpServer? _otherServer;
    private int _trustedPort;
    private int _otherPort;
    private int _otherHits;

    public ValueTask InitializeAsync()
    {
        _trustedServer = Serve("trusted", () => { });
        _otherServer = Serve("other", () => Interlocked.Increment(ref _otherHits));
        _trustedPort = _trustedServer.Port;
        _otherPort = _otherServer.Port;
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _trustedServer?.Dispose();
        _otherServer?.Dispose();
        return ValueTask.CompletedTask;
    }

    private static TestHttpServer Serve(string name, Action hit) => new(ctx =>
    {
        hit();
        if (ctx.Request.Url!.AbsolutePath == "/redirect")
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.RedirectLocation = "http://169.254.169.254/latest/meta-data/";
            return;
        }
        ctx.Response.KeepAlive = true;
        TestHttpServer.Write(ctx, $"{name} {ctx.Request.HttpMethod} {ctx.Request.Url.PathAndQuery} proxy-header={ctx.Request.Headers["Proxy-Authorization"] ?? "none"}", "text/plain");
    });

    private async Task<OutboundProxy> StartAsync(OutboundOptions? options = null, Action<OutboundPolicy>? configure = null)
    {
        var policy = new OutboundPolicy(Options.Create(options ?? new OutboundOptions()));
        configure?.Invoke(policy);
        var proxy = new OutboundProxy(policy, [new Uri($"http://127.0.0.1:{_trustedPort}/")], NullLogger.Instance);
        proxy.Start();
        await Task.CompletedTask;
        return proxy;
    }

    /// <summary>Sends raw bytes to the proxy and reads until it closes the connection.</summary>
    private static async Task<string> RawAsync(int proxyPort, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, proxyPort, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request), Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        using var reader = new StreamReader(stream, Encoding.Latin1);
        return await reader.ReadToEndAsync(timeout.Token);
    }

    [Fact]
    public async Task Http_ToTheTrustedServer_IsForwarded_InOriginForm_WithoutProxyHeaders_AndClosed()
    {
        await using var proxy = await StartAsync();
        var answer = await RawAsync(proxy.Port, $"GET http://127.0.0.1:{_trustedPort}/meeting?authToken=x HTTP/1.1\r\nHost: 127.0.0.1:{_trustedPort}\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.Contains("trusted GET /meeting?authToken=x proxy-header=none", answer, StringComparison.Ordinal);
        Assert.Contains("Connection: close", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("keep-alive", answer, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("GET http://127.0.0.1:{other}/secret HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1 is a loopback address")]
    [InlineData("GET http://localhost:{other}/secret HTTP/1.1\r\nHost: x\r\n\r\n", "loopback name")]
    [InlineData("GET http://2130706433:{other}/secret HTTP/1.1\r\nHost: x\r\n\r\n", "loopback")]
    [InlineData("GET http://[::ffff:127.0.0.1]:{other}/secret HTTP/1.1\r\nHost: x\r\n\r\n", "loopback")]
    [InlineData("GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n", "metadata")]
    [InlineData("CONNECT 127.0.0.1:{other} HTTP/1.1\r\nHost: 127.0.0.1:{other}\r\n\r\n", "127.0.0.1 is a loopback address")]
    [InlineData("CONNECT [::1]:{other} HTTP/1.1\r\n\r\n", "loopback")]
    [InlineData("CONNECT 169.254.169.254:443 HTTP/1.1\r\n\r\n", "metadata")]
    [InlineData("CONNECT 10.1.2.3:443 HTTP/1.1\r\n\r\n", "private")]
    public async Task RefusedTargets_Answer403WithTheReason_AndAreNeverContacted(string request, string reason)
    {
        await using var proxy = await StartAsync();
        var answer = await RawAsync(proxy.Port, request.Replace("{other}", _otherPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.StartsWith("HTTP/1.1 403 Forbidden", answer, StringComparison.Ordinal);
        Assert.Contains(reason, answer, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref _otherHits));
    }

    [Fact]
    public async Task Connect_ToAListedNetwork_TunnelsBothWays()
    {
        await using var proxy = await StartAsync(new OutboundOptions { AllowedNetworks = ["127.0.0.1/32"] });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, proxy.Port, Ct);
        var stream = tcp.GetStream();
        // The tunnel's first bytes travel with the CONNECT, as clients may send them.
        await stream.WriteAsync(Encoding.Latin1.GetBytes($"CONNECT 127.0.0.1:{_otherPort} HTTP/1.1\r\n\r\nGET /through-the-tunnel HTTP/1.1\r\nHost: 127.0.0.1:{_otherPort}\r\nConnection: close\r\n\r\n"), Ct);
        using var reader = new StreamReader(stream, Encoding.Latin1);
        var all = await reader.ReadToEndAsync(Ct);
        Assert.StartsWith("HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200", all, StringComparison.Ordinal);
        Assert.Contains("other GET /through-the-tunnel", all, StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref _otherHits));
    }

    [Fact]
    public async Task Connect_ToTheTrustedServer_IsAllowedWhateverThePolicy()
    {
        await using var proxy = await StartAsync();
        var all = await RawAsync(proxy.Port, $"CONNECT 127.0.0.1:{_trustedPort} HTTP/1.1\r\n\r\nGET /ws HTTP/1.1\r\nHost: 127.0.0.1:{_trustedPort}\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 Connection Established", all, StringComparison.Ordinal);
        Assert.Contains("trusted GET /ws", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrustIsByExactEndpoint_NotByHost()
    {
        // The Capstan server's host on another port (Janus's admin API, PostgreSQL...) is not trusted.
        await using var proxy = await StartAsync();
        var answer = await RawAsync(proxy.Port, $"GET http://127.0.0.1:{_otherPort}/admin HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", answer, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref _otherHits));
    }

    [Fact]
    public async Task NameThatResolvesToLoopback_IsRefused()
    {
        await using var proxy = await StartAsync(configure: p => p.Resolve = (_, _) => Task.FromResult(new[] { IPAddress.Loopback }));
        var answer = await RawAsync(proxy.Port, $"CONNECT rebind.test:{_otherPort} HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", answer, StringComparison.Ordinal);
        Assert.Contains("'rebind.test' resolves to 127.0.0.1, a loopback address", answer, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref _otherHits));
    }

    [Fact]
    public async Task RedirectToARefusedAddress_IsAnsweredAsIs_AndItsTargetIsCheckedWhenFollowed()
    {
        await using var proxy = await StartAsync(new OutboundOptions { AllowedNetworks = ["127.0.0.1/32"] });
        var first = await RawAsync(proxy.Port, $"GET http://127.0.0.1:{_otherPort}/redirect HTTP/1.1\r\nHost: 127.0.0.1:{_otherPort}\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 302", first, StringComparison.Ordinal);
        var followed = await RawAsync(proxy.Port, "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", followed, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\r\n\r\n")]
    [InlineData("GARBAGE\r\n\r\n")]
    [InlineData("GET /relative HTTP/1.1\r\n\r\n")]
    [InlineData("GET ftp://example.com/ HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT nohostport HTTP/1.1\r\n\r\n")]
    [InlineData("CONNECT example.com:99999 HTTP/1.1\r\n\r\n")]
    public async Task MalformedRequests_Answer400(string request)
    {
        await using var proxy = await StartAsync();
        Assert.StartsWith("HTTP/1.1 400", await RawAsync(proxy.Port, request), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_ClosesOpenTunnels()
    {
        var proxy = await StartAsync(new OutboundOptions { AllowedNetworks = ["127.0.0.1/32"] });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, proxy.Port, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes($"CONNECT 127.0.0.1:{_otherPort} HTTP/1.1\r\n\r\n"), Ct);
        var buffer = new byte[64];
        var n = await stream.ReadAsync(buffer, Ct);
        Assert.StartsWith("HTTP/1.1 200", Encoding.Latin1.GetString(buffer, 0, n), StringComparison.Ordinal);
        var disposed = proxy.DisposeAsync().AsTask();
        Assert.Same(disposed, await Task.WhenAny(disposed, Task.Delay(TimeSpan.FromSeconds(10), Ct)));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        Assert.Equal(0, await stream.ReadAsync(buffer, timeout.Token));
    }
}
