using Capstan.Client.Resources;

namespace Capstan.Client;

/// <summary>The entry point: <c>client.RealtimeKit.Recordings.StartRecordingsAsync(appId, options, ct)</c>.</summary>
/// <remarks>Thread-safe; create one per server and keep it. Pass your own <see cref="HttpClient"/> (from
/// <c>IHttpClientFactory</c>, or with a handler of your own) to control connections, proxies and logging; the
/// client then does not dispose it. Errors are <see cref="CapstanApiException"/>; network failures that remain
/// after the retries are <see cref="HttpRequestException"/>.</remarks>
public sealed class CapstanClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>A client with the given settings, using <paramref name="httpClient"/> when given.</summary>
    public CapstanClient(CapstanClientOptions options, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ApiToken, nameof(options));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.AccountId, nameof(options));
        if (!options.BaseUrl.IsAbsoluteUri)
        {
            throw new ArgumentException("BaseUrl must be absolute", nameof(options));
        }
        Options = options;
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var transport = new ApiTransport(_http, options);
        RealtimeKit = new RealtimeKitClient(transport);
    }

    /// <summary>A client for <paramref name="baseUrl"/> with an API token and account id.</summary>
    public CapstanClient(Uri baseUrl, string apiToken, string accountId, HttpClient? httpClient = null)
        : this(new CapstanClientOptions { BaseUrl = baseUrl, ApiToken = apiToken, AccountId = accountId }, httpClient)
    {
    }

    /// <summary>The settings.</summary>
    public CapstanClientOptions Options { get; }

    /// <summary>The RealtimeKit resources: apps, meetings, presets, sessions, recordings, webhooks.</summary>
    public RealtimeKitClient RealtimeKit { get; }

    /// <summary>Disposes the <see cref="HttpClient"/> if the client created it.</summary>
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
