using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Capstan.Testing;

/// <summary>An HTTP server for tests and benchmarks (<see cref="HttpListener"/>) on one address, 127.0.0.1 unless
/// told, and a free port. Every request is kept (<see cref="Requests"/>) and answered by the handler, each on its own
/// task; the response is closed after it. A client that goes away mid-answer is not an error. Shared by the media
/// tests, the server tests and bench/recorder.</summary>
public sealed class TestHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<HttpListenerContext, Task> _handler;
    private readonly List<Uri> _requests = [];
    private readonly Task _loop;

    /// <param name="port">The port to listen on; a free one when not given.</param>
    public TestHttpServer(Func<HttpListenerContext, Task> handler, string address = "127.0.0.1", int? port = null)
    {
        _handler = handler;
        Port = port ?? FreePort();
        Base = $"http://{address}:{Port.ToString(CultureInfo.InvariantCulture)}";
        _listener.Prefixes.Add(Base + "/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>A server whose handler needs no await.</summary>
    public TestHttpServer(Action<HttpListenerContext> handler, string address = "127.0.0.1")
        : this(c =>
        {
            handler(c);
            return Task.CompletedTask;
        }, address)
    {
    }

    public int Port { get; }

    /// <summary><c>http://address:port</c>, no trailing slash.</summary>
    public string Base { get; }

    public string Url(string path) => $"{Base}/{path.TrimStart('/')}";

    /// <summary>The requests so far, in arrival order (a copy).</summary>
    public IReadOnlyList<Uri> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>A TCP port on loopback nothing listens on (yet).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static void Write(HttpListenerContext c, string body, string type) => Write(c, Encoding.UTF8.GetBytes(body), type);

    public static void Write(HttpListenerContext c, byte[] body, string type)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(body);
        c.Response.ContentType = type;
        c.Response.ContentLength64 = body.Length;
        c.Response.OutputStream.Write(body);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext c;
            try
            {
                c = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            lock (_requests)
            {
                _requests.Add(c.Request.Url!);
            }
            _ = Task.Run(() => AnswerAsync(c));
        }
    }

    private async Task AnswerAsync(HttpListenerContext c)
    {
        try
        {
            await _handler(c);
            if (!c.Request.IsWebSocketRequest)
            {
                c.Response.Close();
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException or WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            // the client went away
        }
    }

    /// <summary>Closes the listener once: <c>Close</c> alone (it stops it too). .NET's managed listener takes its
    /// prefixes off again on a <c>Close</c> after <c>Stop</c>, and in doing so binds the port anew: by then another
    /// test's server may hold it (a CI run: "Address already in use" from <c>Dispose</c>).</summary>
    public void Dispose()
    {
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(2));
    }
}

/// <summary>A loopback port that is held for as long as this object lives and refuses every connection: each one is
/// accepted and reset at once. A port from <see cref="TestHttpServer.FreePort"/> is only free when it is chosen; in
/// a long run another test's server (s3rver, a webhook receiver) may take it and answer.</summary>
public sealed class RefusingPort : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public RefusingPort()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = RefuseAsync();
    }

    public int Port { get; }

    /// <summary><c>http://127.0.0.1:{Port}</c>, without a trailing slash.</summary>
    public string Url => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}");

    public void Dispose() => _listener.Dispose();

    private async Task RefuseAsync()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync();
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }
            connection.LingerState = new LingerOption(true, 0);
            connection.Dispose();
        }
    }
}
