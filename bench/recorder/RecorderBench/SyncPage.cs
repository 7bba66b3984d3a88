using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Capstan.Bench.Recorder;

/// <summary><see cref="AvSync.PageHtml"/> (flashes white and beeps at the same instants, at uneven intervals) served
/// on 127.0.0.1 by an <see cref="HttpListener"/> of this benchmark, for a custom <c>url</c> recording; every path
/// answers the page (the recorder adds its own query). The server must allow 127.0.0.0/8 outbound (Server.cs).</summary>
public sealed class SyncPage : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Task _loop;
    private readonly byte[] _page = Encoding.UTF8.GetBytes(AvSync.PageHtml);

    private SyncPage(HttpListener listener, Uri url)
    {
        _listener = listener;
        Url = url;
        _loop = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    public int Requests { get; private set; }

    public static SyncPage Start()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var prefix = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/";
        var listener = new HttpListener();
        listener.Prefixes.Add(prefix);
        listener.Start();
        return new SyncPage(listener, new Uri(prefix + "sync.html"));
    }

    private async Task ServeAsync()
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
            Requests++;
            try
            {
                c.Response.ContentType = "text/html; charset=utf-8";
                c.Response.Headers["Cache-Control"] = "no-store";
                c.Response.ContentLength64 = _page.Length;
                await c.Response.OutputStream.WriteAsync(_page);
                c.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // the browser went away
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }

    /// <summary>The offsets at the start and at the end of a delivered file: its first and last
    /// <paramref name="window"/> seconds cut without re-encoding (<c>ffmpeg -ss/-t -c copy</c>) into temporary files,
    /// each measured with <see cref="AvSync.MeasureAsync"/>; the cuts are deleted after.</summary>
    public static async Task<SyncResult> MeasureEndsAsync(string file, double duration, double window, string workDir, CancellationToken ct)
    {
        window = Math.Min(window, duration);
        var start = Path.Combine(workDir, "sync-start-" + Guid.NewGuid().ToString("N")[..8] + Path.GetExtension(file));
        var end = Path.Combine(workDir, "sync-end-" + Guid.NewGuid().ToString("N")[..8] + Path.GetExtension(file));
        try
        {
            await CutAsync(file, 0, window, start, ct);
            await CutAsync(file, Math.Max(0, duration - window), window, end, ct);
            try
            {
                return new SyncResult(window, duration, await AvSync.MeasureAsync(start), await AvSync.MeasureAsync(end));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or FormatException)
            {
                throw new BenchException("sync measurement failed: " + e.Message);
            }
        }
        finally
        {
            File.Delete(start);
            File.Delete(end);
        }
    }

    private static Task<string> CutAsync(string file, double from, double seconds, string output, CancellationToken ct) =>
        FileFacts.RunAsync("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", F(from), "-t", F(seconds), "-i", file, "-c", "copy", output], ct);

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
