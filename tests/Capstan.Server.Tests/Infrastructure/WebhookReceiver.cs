using System.Collections.Concurrent;
using System.Net;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>A webhook receiver on loopback: answers with the queued status codes (then 200) and keeps every
/// request (headers with lower-case names, the raw body, the answer given).</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly TestHttpServer _server;
    private readonly SemaphoreSlim _oneAtATime = new(1);
    private readonly ConcurrentQueue<int> _answers = new();
    private readonly SemaphoreSlim _arrived = new(0);

    public WebhookReceiver(params int[] answers)
        : this(FreeUrl(), answers)
    {
    }

    public WebhookReceiver(string url, params int[] answers)
    {
        foreach (var a in answers)
        {
            _answers.Enqueue(a);
        }
        // The receiver listens at the URL's port; its path is what senders are given.
        var uri = new Uri(url);
        _server = new TestHttpServer(AnswerAsync, uri.Host, uri.Port);
        Url = url;
    }

    public string Url { get; }

    public ConcurrentQueue<(Dictionary<string, string> Headers, byte[] Body, int Answer)> Requests { get; } = new();

    /// <summary>A loopback URL on a port nothing listens on (yet).</summary>
    public static string FreeUrl()
    {
        return $"http://127.0.0.1:{TestHttpServer.FreePort()}/hook/";
    }

    /// <summary>The first request, waiting up to 20 s for it.</summary>
    public async Task<(Dictionary<string, string> Headers, byte[] Body)> FirstAsync()
    {
        Assert.True(await _arrived.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken), "no webhook arrived within 20 s");
        Assert.True(Requests.TryPeek(out var first));
        return (first.Headers, first.Body);
    }

    // One request at a time, in arrival order: the queued answers go to the requests in the order they came.
    private async Task AnswerAsync(HttpListenerContext c)
    {
        await _oneAtATime.WaitAsync();
        try
        {
            using var ms = new MemoryStream();
            await c.Request.InputStream.CopyToAsync(ms);
            var answer = _answers.TryDequeue(out var a) ? a : 200;
            Requests.Enqueue((c.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!.ToLowerInvariant(), k => c.Request.Headers[k]!), ms.ToArray(), answer));
            _arrived.Release();
            c.Response.StatusCode = answer;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    public void Dispose()
    {
        _server.Dispose();
        _oneAtATime.Dispose();
        _arrived.Dispose();
    }
}
