using System.Globalization;
using System.Text;

namespace Capstan.Bench.Recorder;

/// <summary><see cref="AvSync.PageHtml"/> (flashes white and beeps at the same instants, at uneven intervals) served
/// on 127.0.0.1 by a <see cref="TestHttpServer"/> of this benchmark, for a custom <c>url</c> recording; every path
/// answers the page (the recorder adds its own query). The server must allow 127.0.0.0/8 outbound (Server.cs).</summary>
public sealed class SyncPage : IAsyncDisposable
{
    private readonly TestHttpServer _server;
    private readonly byte[] _page = Encoding.UTF8.GetBytes(AvSync.PageHtml);

    private SyncPage()
    {
        _server = new TestHttpServer(c =>
        {
            c.Response.Headers["Cache-Control"] = "no-store";
            TestHttpServer.Write(c, _page, "text/html; charset=utf-8");
        });
        Url = new Uri(_server.Url("sync.html"));
    }

    public Uri Url { get; }

    public int Requests => _server.Requests.Count;

    public static SyncPage Start() => new();

    public ValueTask DisposeAsync()
    {
        _server.Dispose();
        return ValueTask.CompletedTask;
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
