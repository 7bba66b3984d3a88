using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Capstan.Client;

/// <summary>Sends requests with the token, unwraps the <c>{"success", "data", "paging"}</c> envelope, turns error
/// statuses into <see cref="CapstanApiException"/> and retries what may be retried.</summary>
internal sealed class ApiTransport
{
    private static readonly string UserAgent = $"Capstan.Client/{typeof(ApiTransport).Assembly.GetName().Version?.ToString(3)} (.NET {Environment.Version})";
    private readonly HttpClient _http;
    private readonly CapstanClientOptions _options;
    private readonly string _apiBase;

    public ApiTransport(HttpClient http, CapstanClientOptions options)
    {
        _http = http;
        _options = options;
        var root = options.BaseUrl.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _apiBase = root.EndsWith("/client/v4", StringComparison.Ordinal) ? root : root + "/client/v4";
        ServerRoot = new Uri(_apiBase[..^"/client/v4".Length] + "/");
    }

    public HttpClient Http => _http;

    /// <summary>The server root (for routes outside <c>/client/v4</c>, such as <c>/.well-known</c>).</summary>
    public Uri ServerRoot { get; }

    /// <summary><c>/accounts/{account}/realtime/kit</c> plus the escaped segments.</summary>
    public string KitPath(params string[] segments)
    {
        var sb = new StringBuilder("/accounts/").Append(Uri.EscapeDataString(_options.AccountId)).Append("/realtime/kit");
        foreach (var s in segments)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(s);
            sb.Append('/').Append(Uri.EscapeDataString(s));
        }
        return sb.ToString();
    }

    public async Task<T> DataAsync<T>(HttpMethod method, string path, object? body, Query? query, CancellationToken ct)
    {
        using var doc = await SendAsync(method, path, body, query, ct).ConfigureAwait(false);
        return Read<T>(doc.RootElement, "data");
    }

    public async Task<Page<T>> PageAsync<T>(string path, Query query, int pageNo, int perPage, Func<JsonElement, JsonElement>? items, CancellationToken ct)
    {
        using var doc = await SendAsync(HttpMethod.Get, path, null, query, ct).ConfigureAwait(false);
        var data = doc.RootElement.GetProperty("data");
        var list = (items?.Invoke(data) ?? data).Deserialize<List<T>>(ClientJson.Options) ?? [];
        var paging = doc.RootElement.TryGetProperty("paging", out var p) ? p.Deserialize<Paging>(ClientJson.Options) : null;
        return new Page<T>(list, paging ?? new Paging(list.Count, list.Count == 0 ? 0 : 1, list.Count), pageNo, perPage);
    }

    public async Task<JsonDocument> SendAsync(HttpMethod method, string path, object? body, Query? query, CancellationToken ct)
    {
        var uri = new Uri(_apiBase + path + query);
        var payload = body is null ? null : JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), ClientJson.Options);
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.ApiToken);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            request.Headers.UserAgent.ParseAdd(UserAgent);
            if (payload is not null)
            {
                request.Content = new ByteArrayContent(payload);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException) when (attempt < _options.MaxRetries && !ct.IsCancellationRequested)
            {
                await Task.Delay(Backoff(attempt, null), ct).ConfigureAwait(false);
                continue;
            }
            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return Parse(text, response, method, uri);
                }
                if (attempt < _options.MaxRetries && ShouldRetry(response))
                {
                    await Task.Delay(Backoff(attempt, response), ct).ConfigureAwait(false);
                    continue;
                }
                throw Error(response, text, method, uri);
            }
        }
    }

    private static JsonDocument Parse(string text, HttpResponseMessage response, HttpMethod method, Uri uri)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            throw new CapstanApiException(response.StatusCode, null, "the response is not JSON", text, method.Method, uri);
        }
    }

    internal static T Read<T>(JsonElement root, string property)
    {
        if (!root.TryGetProperty(property, out var data))
        {
            throw new JsonException($"the response has no '{property}'");
        }
        return data.Deserialize<T>(ClientJson.Options) ?? throw new JsonException($"'{property}' is null");
    }

    private static bool ShouldRetry(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("x-should-retry", out var values))
        {
            var v = values.FirstOrDefault();
            if (v == "true")
            {
                return true;
            }
            if (v == "false")
            {
                return false;
            }
        }
        var s = (int)response.StatusCode;
        return s is 408 or 409 or 429 || s >= 500;
    }

    private TimeSpan Backoff(int attempt, HttpResponseMessage? response)
    {
        if (response is not null)
        {
            if (response.Headers.TryGetValues("retry-after-ms", out var ms)
                && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m is >= 0 and < 60_000)
            {
                return TimeSpan.FromMilliseconds(m);
            }
            if (response.Headers.RetryAfter is { } ra)
            {
                var wait = ra.Delta ?? (ra.Date is { } d ? d - DateTimeOffset.UtcNow : TimeSpan.Zero);
                if (wait >= TimeSpan.Zero && wait < TimeSpan.FromMinutes(1))
                {
                    return wait;
                }
            }
        }
        var baseDelay = Math.Min(_options.InitialRetryDelay.TotalMilliseconds * Math.Pow(2, attempt), 8000);
#pragma warning disable CA5394 // jitter, not security
        return TimeSpan.FromMilliseconds(baseDelay * (1 - (Random.Shared.NextDouble() * 0.25)));
#pragma warning restore CA5394
    }

    private static CapstanApiException Error(HttpResponseMessage response, string text, HttpMethod method, Uri uri)
    {
        int? code = null;
        string? message = null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                code = e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var ci) ? ci : null;
                message = e.TryGetProperty("message", out var msg) && msg.ValueKind == JsonValueKind.String ? msg.GetString() : null;
            }
        }
        catch (JsonException)
        {
            // Not the envelope (a proxy's page, say): the raw body speaks for itself.
        }
        message ??= text.Length is > 0 and <= 500 ? text : response.ReasonPhrase ?? response.StatusCode.ToString();
        return new CapstanApiException(response.StatusCode, code, message, text, method.Method, uri);
    }
}
