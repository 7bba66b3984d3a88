using System.Collections.Concurrent;
using System.Net;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>A webhook receiver on loopback: answers with the queued status codes (then 200) and keeps every
/// request (headers with lower-case names, the raw body, the answer given).</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
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
        Url = url;
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<(Dictionary<string, string> Headers, byte[] Body, int Answer)> Requests { get; } = new();

    /// <summary>A loopback URL on a port nothing listens on (yet).</summary>
    public static string FreeUrl()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return $"http://127.0.0.1:{((IPEndPoint)l.LocalEndpoint).Port}/hook/";
    }

    /// <summary>The first request, waiting up to 20 s for it.</summary>
    public async Task<(Dictionary<string, string> Headers, byte[] Body)> FirstAsync()
    {
        Assert.True(await _arrived.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken), "no webhook arrived within 20 s");
        Assert.True(Requests.TryPeek(out var first));
        return (first.Headers, first.Body);
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
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using var ms = new MemoryStream();
            await c.Request.InputStream.CopyToAsync(ms);
            var answer = _answers.TryDequeue(out var a) ? a : 200;
            Requests.Enqueue((c.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!.ToLowerInvariant(), k => c.Request.Headers[k]!), ms.ToArray(), answer));
            _arrived.Release();
            c.Response.StatusCode = answer;
            c.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _arrived.Dispose();
    }
}
