using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Server.Meetings;

/// <summary>A failed Janus request: Janus's error code and reason, or the plugin's.</summary>
public sealed class JanusException(string message, int code = 0) : Exception(message)
{
    public int Code { get; } = code;
}

/// <summary>The Janus REST API (HTTP transport) of one instance, with one long-lived control session and
/// VideoRoom handle used for synchronous room requests (create, destroy, kick, exists). The session is kept
/// alive and recreated when Janus forgets it (restart, timeout).</summary>
public sealed class JanusClient(HttpClient http, Uri baseUrl, string adminKey) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (long Session, long Handle)? _control;
    private long _tx;

    public Uri BaseUrl { get; } = baseUrl;

    public string AdminKey { get; } = adminKey;

    public async Task<JsonObject> InfoAsync(CancellationToken ct)
    {
        using var r = await http.GetAsync(new Uri(BaseUrl + "/info"), ct);
        r.EnsureSuccessStatusCode();
        return (await r.Content.ReadFromJsonAsync<JsonObject>(ct))!;
    }

    /// <summary>Sends a synchronous VideoRoom request and returns <c>plugindata.data</c>; throws on any error.</summary>
    public async Task<JsonObject> VideoRoomAsync(JsonObject body, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        for (var attempt = 0; ; attempt++)
        {
            var (session, handle) = await ControlAsync(ct);
            var reply = await PostAsync($"/{session}/{handle}", new JsonObject { ["janus"] = "message", ["body"] = body.DeepClone() }, ct);
            if (reply["janus"]?.GetValue<string>() == "error")
            {
                var code = reply["error"]?["code"]?.GetValue<int>() ?? 0;
                // 458: no such session, 459: no such handle; the control session was lost (Janus restarted).
                if (code is 458 or 459 && attempt == 0)
                {
                    _control = null;
                    continue;
                }
                throw new JanusException($"Janus error {code}: {reply["error"]?["reason"]}", code);
            }
            var data = reply["plugindata"]?["data"] as JsonObject ?? throw new JanusException("Janus reply without plugindata");
            if (data["error_code"] is { } ec)
            {
                throw new JanusException($"VideoRoom error {ec}: {data["error"]}", ec.GetValue<int>());
            }
            return data;
        }
    }

    /// <summary>Keeps the control session alive (Janus drops sessions idle for 60 s).</summary>
    public async Task KeepAliveAsync(CancellationToken ct)
    {
        if (_control is { } c)
        {
            var reply = await PostAsync($"/{c.Session}", new JsonObject { ["janus"] = "keepalive" }, ct);
            if (reply["janus"]?.GetValue<string>() == "error")
            {
                _control = null;
            }
        }
    }

    private async Task<(long Session, long Handle)> ControlAsync(CancellationToken ct)
    {
        if (_control is { } c)
        {
            return c;
        }
        await _gate.WaitAsync(ct);
        try
        {
            if (_control is { } again)
            {
                return again;
            }
            var session = Id(await PostAsync(string.Empty, new JsonObject { ["janus"] = "create" }, ct));
            var handle = Id(await PostAsync($"/{session}", new JsonObject { ["janus"] = "attach", ["plugin"] = "janus.plugin.videoroom" }, ct));
            _control = (session, handle);
            return (session, handle);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<JsonObject> PostAsync(string path, JsonObject body, CancellationToken ct)
    {
        body["transaction"] = "capstan-" + Interlocked.Increment(ref _tx).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var r = await http.PostAsJsonAsync(new Uri(BaseUrl + path), body, ct);
        r.EnsureSuccessStatusCode();
        return await r.Content.ReadFromJsonAsync<JsonObject>(ct) ?? throw new JanusException("empty Janus reply");
    }

    private static long Id(JsonObject reply)
    {
        if (reply["janus"]?.GetValue<string>() != "success")
        {
            throw new JanusException($"Janus refused: {reply.ToJsonString()}");
        }
        return reply["data"]!["id"]!.GetValue<long>();
    }

    public void Dispose() => _gate.Dispose();

    internal static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web);
}
