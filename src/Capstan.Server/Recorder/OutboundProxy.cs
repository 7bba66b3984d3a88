using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Capstan.Server.Security;

namespace Capstan.Server.Recorder;

/// <summary>A small filtering forward proxy for the recorder's browser, on loopback, applying the outbound policy
/// to everything the browser fetches: meant for Chromium's <c>--proxy-server=http://127.0.0.1:{port}</c> with
/// <c>--proxy-bypass-list=&lt;-loopback&gt;</c> (so loopback goes through it too).
/// <list type="bullet">
/// <item><c>CONNECT host:port</c> (HTTPS, and WebSockets, which Chromium tunnels through CONNECT for <c>ws:</c> and
/// <c>wss:</c> alike): the target is resolved once, checked, and the tunnel goes to the checked address; refused:
/// <c>403</c> with the reason, no connection made.</item>
/// <item>Absolute-form HTTP requests (<c>GET http://host/path</c>): the same check, then the request goes upstream in
/// origin form with <c>Connection: close</c> (proxy headers dropped), and the answer comes back with
/// <c>Connection: close</c>, one request per connection, so a later request for another host is never sent over a
/// tunnel opened for this one.</item>
/// <item>Trusted endpoints (the Capstan server the recorder view is served from; Janus is reached through it) are
/// connected to without the policy, by exact host and port: the built-in view keeps working whatever the policy.</item>
/// </list>
/// Covered, since every one is an HTTP(S) or WebSocket request of the browser: navigation, redirects (each hop is a
/// new request), iframes, fetch/XHR, images and other subresources, WebSockets, workers. Not covered: WebRTC media
/// (ICE candidates are UDP/TCP straight from the browser; a page can offer a peer connection to a private address;
/// the recorder only limits what it can then see), DNS prefetching by the browser (lookups only, no connection), and
/// anything Chromium does not send through its proxy (the DevTools endpoint the worker itself uses).</summary>
public sealed partial class OutboundProxy : IAsyncDisposable
{
    private const int MaxHeadBytes = 64 * 1024;
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(30);

    private readonly OutboundPolicy _policy;
    private readonly HashSet<(string Host, int Port)> _trusted;
    private readonly ILogger _logger;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private Task? _accepting;

    /// <param name="trusted">Endpoints connected to without the policy (scheme's default port when none is given).</param>
    public OutboundProxy(OutboundPolicy policy, IEnumerable<Uri> trusted, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(trusted);
        _policy = policy;
        _logger = logger;
        _trusted = [.. trusted.Select(u => (Normalize(u.Host), u.Port))];
    }

    /// <summary>The proxy's port on 127.0.0.1 (after <see cref="Start"/>).</summary>
    public int Port { get; private set; }

    /// <summary>The value of Chromium's <c>--proxy-server</c>.</summary>
    public string ProxyServer => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public void Start()
    {
        _listener.Start(128);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        if (_accepting is not null)
        {
            await _accepting;
        }
        Task[] open;
        lock (_connections)
        {
            open = [.. _connections];
        }
        await Task.WhenAll(open);
        _stop.Dispose();
    }

    private async Task AcceptAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(ct);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var task = ServeAsync(client, ct);
            lock (_connections)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(task);
            }
        }
    }

    private async Task ServeAsync(Socket clientSocket, CancellationToken ct)
    {
        await Task.Yield();
        using var _ = clientSocket;
        await using var client = new NetworkStream(clientSocket, ownsSocket: false);
        try
        {
            using var headTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            headTimeout.CancelAfter(HeadTimeout);
            var (head, rest) = await ReadHeadAsync(client, headTimeout.Token);
            if (head is null)
            {
                await AnswerAsync(client, 400, "the request head is missing, malformed or larger than 64 KiB", ct);
                return;
            }
            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                await AnswerAsync(client, 400, "not an HTTP/1.x request line", ct);
                return;
            }
            var (method, target) = (parts[0], parts[1]);
            if (method == "CONNECT")
            {
                await TunnelAsync(client, target, rest, ct);
            }
            else
            {
                await ForwardAsync(client, method, target, parts[2], lines.Skip(1), rest, ct);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The browser or the target went away, or the proxy is stopping.
        }
    }

    private async Task TunnelAsync(NetworkStream client, string target, ReadOnlyMemory<byte> early, CancellationToken ct)
    {
        if (!TrySplitAuthority(target, out var host, out var port))
        {
            await AnswerAsync(client, 400, $"CONNECT needs host:port, got '{Trim(target)}'", ct);
            return;
        }
        using var upstream = await OpenAsync(client, host, port, ct);
        if (upstream is null)
        {
            return;
        }
        await client.WriteAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray(), ct);
        await using var server = new NetworkStream(upstream, ownsSocket: false);
        if (!early.IsEmpty)
        {
            await server.WriteAsync(early, ct);
        }
        await PumpAsync(client, server, ct);
    }

    private async Task ForwardAsync(NetworkStream client, string method, string target, string version, IEnumerable<string> headers, ReadOnlyMemory<byte> early, CancellationToken ct)
    {
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || string.IsNullOrEmpty(uri.Host))
        {
            await AnswerAsync(client, 400, $"a proxy request needs an absolute http URL, got '{Trim(target)}'", ct);
            return;
        }
        using var upstream = await OpenAsync(client, uri.IdnHost, uri.Port, ct);
        if (upstream is null)
        {
            return;
        }
        var head = new StringBuilder();
        head.Append(method).Append(' ').Append(uri.PathAndQuery).Append(' ').Append(version).Append("\r\n");
        foreach (var h in headers)
        {
            if (h.Length == 0 || IsHopByHop(h))
            {
                continue;
            }
            head.Append(h).Append("\r\n");
        }
        head.Append("Connection: close\r\n\r\n");
        await using var server = new NetworkStream(upstream, ownsSocket: false);
        await server.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), ct);
        if (!early.IsEmpty)
        {
            await server.WriteAsync(early, ct);
        }
        // The request body (if any) keeps flowing up while the answer comes down with its head rewritten.
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = CopyAsync(client, server, done.Token);
        var (answerHead, answerRest) = await ReadHeadAsync(server, ct);
        if (answerHead is null)
        {
            await done.CancelAsync();
            await AnswerAsync(client, 502, $"{uri.Authority} sent no valid HTTP answer", ct);
            return;
        }
        var rewritten = new StringBuilder();
        foreach (var h in answerHead.Split("\r\n"))
        {
            if (h.Length > 0 && !IsHopByHop(h))
            {
                rewritten.Append(h).Append("\r\n");
            }
        }
        rewritten.Append("Connection: close\r\nProxy-Connection: close\r\n\r\n");
        await client.WriteAsync(Encoding.Latin1.GetBytes(rewritten.ToString()), ct);
        await client.WriteAsync(answerRest, ct);
        await server.CopyToAsync(client, ct);
        await done.CancelAsync();
        await up;
    }

    /// <summary>Connects to a trusted endpoint directly, or to a checked address; answers 403/502 and returns null
    /// otherwise.</summary>
    private async Task<Socket?> OpenAsync(NetworkStream client, string host, int port, CancellationToken ct)
    {
        try
        {
            if (_trusted.Contains((Normalize(host), port)))
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(Normalize(host), port, ct);
                    return socket;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
            return await _policy.ConnectAsync(host, port, ct);
        }
        catch (OutboundRefusedException e)
        {
            LogRefused(_logger, host, port, e.Message);
            await AnswerAsync(client, 403, e.Message, ct);
            return null;
        }
        catch (SocketException e)
        {
            await AnswerAsync(client, 502, $"cannot connect to {host}:{port.ToString(CultureInfo.InvariantCulture)}: {e.SocketErrorCode}", ct);
            return null;
        }
    }

    private static async Task PumpAsync(NetworkStream a, NetworkStream b, CancellationToken ct)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var first = await Task.WhenAny(CopyAsync(a, b, done.Token), CopyAsync(b, a, done.Token));
        await done.CancelAsync();
        await first;
    }

    private static async Task CopyAsync(Stream from, Stream to, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, ct)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, n), ct);
            }
            if (to is NetworkStream ns)
            {
                ns.Socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // one side closed
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads up to the blank line that ends an HTTP head; returns the head (without it) and any bytes read
    /// past it, or null if the stream ended first or the head is too large.</summary>
    private static async Task<(string? Head, ReadOnlyMemory<byte> Early)> ReadHeadAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[MaxHeadBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(length), ct);
            if (n == 0)
            {
                return (null, ReadOnlyMemory<byte>.Empty);
            }
            var searchFrom = Math.Max(0, length - 3);
            length += n;
            var end = buffer.AsSpan(searchFrom, length - searchFrom).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                end += searchFrom;
                return (Encoding.Latin1.GetString(buffer, 0, end), buffer.AsMemory(end + 4, length - end - 4));
            }
        }
        return (null, ReadOnlyMemory<byte>.Empty);
    }

    private static async Task AnswerAsync(Stream client, int status, string reason, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes($"Capstan recorder proxy: {reason}\n");
        var text = status switch { 400 => "Bad Request", 403 => "Forbidden", _ => "Bad Gateway" };
        var head = $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n";
        await client.WriteAsync(Encoding.Latin1.GetBytes(head), ct);
        await client.WriteAsync(body, ct);
    }

    private static bool IsHopByHop(string header)
    {
        var colon = header.IndexOf(':', StringComparison.Ordinal);
        var name = (colon < 0 ? header : header[..colon]).Trim();
        return name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Proxy-Connection", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase) || name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase);
    }

    private static bool TrySplitAuthority(string authority, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        var colon = authority.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(authority.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            return false;
        }
        host = authority[..colon].Trim('[', ']');
        return host.Length > 0;
    }

    private static string Normalize(string host) => host.Trim().Trim('[', ']').TrimEnd('.').ToLowerInvariant();

    private static string Trim(string s) => s.Length > 200 ? s[..200] : s;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder browser proxy refused {Host}:{Port}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string host, int port, string reason);
}
