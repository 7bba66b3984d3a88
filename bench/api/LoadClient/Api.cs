using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Capstan.Bench;

/// <summary>One pooled HTTP/1.1 client for the whole run: at most <c>concurrency</c> keep-alive connections to
/// the server on loopback, the API token on every request (also on /healthz, which ignores it, so that the
/// trivial endpoint and the API carry the same request).</summary>
public sealed class Api : IDisposable
{
    private readonly HttpClient _http;

    public Api(RunOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Kit = options.KitBase;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Concurrency,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        };
        _http = new HttpClient(handler) { BaseAddress = options.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary><c>/client/v4/accounts/{account}/realtime/kit/{app}</c>.</summary>
    public string Kit { get; }

    /// <summary>Sends and reads the whole body; returns the status and the body.</summary>
    public async Task<(int Status, byte[] Body)> SendAsync(HttpMethod method, string path, string? json = null, CancellationToken ct = default)
    {
        using var req = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            req.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var resp = await _http.SendAsync(req, HttpCompletionOption.ResponseContentRead, ct);
        var body = await resp.Content.ReadAsByteArrayAsync(ct);
        return ((int)resp.StatusCode, body);
    }

    /// <summary>A request that must succeed (setup and checks): returns the parsed body or throws.</summary>
    public async Task<JsonElement> CallAsync(HttpMethod method, string path, string? json = null, CancellationToken ct = default)
    {
        var (status, body) = await SendAsync(method, path, json, ct);
        if (status is < 200 or > 299)
        {
            throw new BenchException($"{method} {path} answered {status}: {Encoding.UTF8.GetString(body)}");
        }
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>The <c>data.id</c> of an envelope, or null.</summary>
    public static string? DataId(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("id", out var id)
                ? id.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string Body(object value) => JsonSerializer.Serialize(value);

    public void Dispose() => _http.Dispose();
}
