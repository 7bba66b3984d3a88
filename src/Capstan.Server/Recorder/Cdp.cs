using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Server.Recorder;

/// <summary>A minimal Chrome DevTools Protocol client over the page target's WebSocket: evaluate an expression,
/// navigate, and set the window bounds. Enough to drive the recorder page without a browser-automation stack.</summary>
public sealed class Cdp : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _id;

    private Cdp()
    {
    }

    /// <summary>Connects to the first page target of the Chromium whose DevTools port is in
    /// <c>{userDataDir}/DevToolsActivePort</c>, waiting for it up to <paramref name="timeout"/>.</summary>
    public static async Task<Cdp> ConnectAsync(string userDataDir, HttpClient http, TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(time);
        var deadline = time.GetUtcNow() + timeout;
        var portFile = Path.Combine(userDataDir, "DevToolsActivePort");
        while (true)
        {
            try
            {
                if (File.Exists(portFile))
                {
                    var port = (await File.ReadAllLinesAsync(portFile, ct))[0].Trim();
                    var targets = await http.GetFromJsonAsync<JsonArray>(new Uri($"http://127.0.0.1:{port}/json/list"), ct);
                    var page = targets?.FirstOrDefault(t => t?["type"]?.GetValue<string>() == "page");
                    if (page?["webSocketDebuggerUrl"]?.GetValue<string>() is { } ws)
                    {
                        var cdp = new Cdp();
                        await cdp._socket.ConnectAsync(new Uri(ws), ct);
                        return cdp;
                    }
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or WebSocketException or IndexOutOfRangeException)
            {
                // not up yet
            }
            if (time.GetUtcNow() > deadline)
            {
                throw new TimeoutException("Chromium's DevTools endpoint did not come up");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct);
        }
    }

    public async Task<JsonNode?> SendAsync(string method, JsonObject? parameters, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var id = ++_id;
            var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, ct);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                using var ms = new MemoryStream();
                WebSocketReceiveResult r;
                do
                {
                    r = await _socket.ReceiveAsync(buffer, ct);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        throw new WebSocketException("DevTools connection closed");
                    }
                    ms.Write(buffer, 0, r.Count);
                }
                while (!r.EndOfMessage);
                var reply = JsonNode.Parse(ms.ToArray());
                if (reply?["id"]?.GetValue<int>() != id)
                {
                    continue; // an event
                }
                if (reply["error"] is { } error)
                {
                    throw new InvalidOperationException($"CDP {method} failed: {error.ToJsonString()}");
                }
                return reply["result"];
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page and returns its JSON value.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression, CancellationToken ct)
    {
        var r = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true }, ct);
        return r?["result"]?["value"];
    }

    public Task NavigateAsync(string url, CancellationToken ct) => SendAsync("Page.navigate", new JsonObject { ["url"] = url }, ct);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            // the browser is going away anyway
        }
        _socket.Dispose();
        _gate.Dispose();
    }

    internal static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);
}
