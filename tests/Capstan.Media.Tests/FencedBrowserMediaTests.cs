using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Capstan.Media.Tests;

/// <summary>The media fixture with only the namespace's network listed: loopback (apart from the Capstan server,
/// the recorder proxy's trusted endpoint) and metadata addresses are refused.</summary>
public sealed class FencedMediaFixture : MediaFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("Outbound:AllowedNetworks:0", "10.99.0.0/24"),
        new("Outbound:AllowedNetworks:1", "10.99.0.0/24"),
    ];
}

/// <summary>The recorder's browser fenced in by the worker's filtering proxy: a custom <c>url</c> page on an allowed
/// network tries every way out (fetch, image, WebSocket, iframe, redirect) towards a loopback server and a
/// metadata-address server the test runs, paints itself red if any succeeds, green if none does while a request to
/// its own server does, blue if even that fails. The delivered recording is green and neither target saw a request.</summary>
public sealed class FencedBrowserMediaTests(FencedMediaFixture f) : IClassFixture<FencedMediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private const string Metadata = "169.254.169.254";

    [Fact]
    public async Task CustomPage_CannotReachLoopbackOrMetadata_ByAnyWayOut()
    {
        await MediaFacts.RunAsync("ip", ["addr", "add", $"{Metadata}/32", "dev", "lo"]);
        try
        {
            using var loopback = new TargetServer("127.0.0.1");
            using var metadata = new TargetServer(Metadata);
            using var pages = new TargetServer("10.99.0.1");
            pages.Page = Page([loopback.Base, metadata.Base]);

            var meeting = await f.NewMeetingAsync();
            var participant = await f.AddParticipantAsync(meeting, "Alice");
            var browser = await f.OpenAsync(participant.Token, 640, 360);
            await Wait.UntilAsync(async () => await browser.EvaluateAsync<bool>("() => window.capstanState.joined"), "participant joined");

            var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", new { meeting_id = meeting, url = pages.Base + "/app.html", video_config = new { width = 640, height = 360 } }, TestContext.Current.CancellationToken);
            var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
            Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
            var id = json!["data"]!["id"]!.GetValue<string>();
            await f.WaitStatusAsync(id, "RECORDING");
            await Wait.UntilAsync(() => Task.FromResult(pages.Seen("/done")), "the page to finish its attempts", 30);
            await Task.Delay(4000, TestContext.Current.CancellationToken); // the painted result on screen for a while (the capture lags under load)
            await f.ActAsync(id, "stop");
            var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
            await browser.Context.CloseAsync();

            var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
            var duration = (await MediaFacts.ProbeAsync(file)).Duration;
            var pixel = await MediaFacts.PixelAsync(file, Math.Max(0, duration - 0.7), 320, 180);
            var early = await MediaFacts.PixelAsync(file, 0.3, 320, 180);
            File.Delete(file);
            Assert.True(pages.Seen("/ok"), "the page could not reach its own server (the test itself is broken)");
            Assert.True(pixel is { G: > 180, R: < 80, B: < 80 }, $"the recorded page is not green: {pixel} at {duration - 0.7:0.0} of {duration:0.0} s (at 0.3 s: {early}); the page reported: {pages.Report}; its server saw: {string.Join(" ", pages.Requests.Select(q => q.Split('?')[0]))}");
            Assert.Empty(loopback.Requests);
            Assert.Empty(metadata.Requests);
        }
        finally
        {
            await MediaFacts.RunAsync("ip", ["addr", "del", $"{Metadata}/32", "dev", "lo"]);
        }
    }

    /// <summary>The custom page: each attempt resolves true only if the target itself answered.</summary>
    private static string Page(IEnumerable<string> targets) => $$"""
        <!doctype html><html><body style="margin:0;background:rgb(128,128,128)"><script>
        const targets = {{System.Text.Json.JsonSerializer.Serialize(targets)}};
        const reached = new Set();
        addEventListener('message', e => { if (e.data && e.data.reached) reached.add(e.data.reached); });
        const within = (p, ms) => Promise.race([p.catch(() => false), new Promise(r => setTimeout(() => r(false), ms))]);
        const frame = (src, key) => new Promise(res => {
          const f = document.createElement('iframe'); f.style.cssText = 'position:absolute;left:0;top:0;width:2px;height:2px;border:0;opacity:0'; f.src = src; document.body.appendChild(f);
          setTimeout(() => res(reached.has(key)), 5000);
        });
        const attempts = [];
        for (const t of targets) {
          attempts.push(['fetch ' + t, within(fetch(t + '/data').then(r => r.ok), 5000)]);
          attempts.push(['image ' + t, within(new Promise(res => { const i = new Image(); i.onload = () => res(true); i.onerror = () => res(false); i.src = t + '/img.png'; }), 5000)]);
          attempts.push(['websocket ' + t, within(new Promise(res => { const w = new WebSocket(t.replace('http:', 'ws:') + '/ws'); w.onopen = () => res(true); w.onerror = () => res(false); }), 5000)]);
          attempts.push(['iframe ' + t, frame(t + '/frame.html?via=iframe', t + ' iframe')]);
          attempts.push(['redirect ' + t, frame('/redirect?to=' + encodeURIComponent(t + '/frame.html?via=redirect'), t + ' redirect')]);
        }
        const own = within(fetch('/ok').then(r => r.ok), 5000);
        Promise.all([own, ...attempts.map(a => a[1])]).then(([ownOk, ...results]) => {
          const hits = attempts.filter((a, i) => results[i]).map(a => a[0]);
          document.body.style.background = !ownOk ? 'rgb(0,0,255)' : hits.length ? 'rgb(255,0,0)' : 'rgb(0,255,0)';
          fetch('/done?own=' + ownOk + '&hits=' + encodeURIComponent(hits.join(',')));
        });
        </script></body></html>
        """;

    /// <summary>An HTTP server on one address: the custom page and its own URLs, or a target (data with CORS, a PNG,
    /// a frame that reports to its parent, a WebSocket). Keeps every request.</summary>
    private sealed class TargetServer : IDisposable
    {
        private static readonly byte[] Png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==");
        private readonly TestHttpServer _server;

        public TargetServer(string address) => _server = new TestHttpServer(AnswerAsync, address);

        public string Base => _server.Base;

        public string? Page { get; set; }

        /// <summary>Path and query of every request.</summary>
        public IEnumerable<string> Requests => _server.Requests.Select(r => r.PathAndQuery);

        public string Report { get; private set; } = "(nothing)";

        public bool Seen(string path) => Requests.Any(r => r.StartsWith(path, StringComparison.Ordinal));

        private async Task AnswerAsync(HttpListenerContext c)
        {
            if (c.Request.IsWebSocketRequest)
            {
                var ws = await c.AcceptWebSocketAsync(null);
                await ws.WebSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "reached", CancellationToken.None);
                return;
            }
            c.Response.Headers["Access-Control-Allow-Origin"] = "*";
            switch (c.Request.Url!.AbsolutePath)
            {
                case "/app.html" when Page is not null:
                    TestHttpServer.Write(c, Page, "text/html");
                    break;
                case "/redirect":
                    c.Response.StatusCode = 302;
                    c.Response.RedirectLocation = c.Request.QueryString["to"];
                    break;
                case "/done":
                    Report = $"own={c.Request.QueryString["own"]} hits={c.Request.QueryString["hits"]}";
                    TestHttpServer.Write(c, "ok", "text/plain");
                    break;
                case "/ok" or "/data":
                    TestHttpServer.Write(c, "{\"reached\":true}", "application/json");
                    break;
                case "/img.png":
                    TestHttpServer.Write(c, Png, "image/png");
                    break;
                case "/frame.html":
                    TestHttpServer.Write(c, $$"""<script>parent.postMessage({ reached: '{{Base}} {{c.Request.QueryString["via"]}}' }, '*');</script>""", "text/html");
                    break;
                default:
                    c.Response.StatusCode = 404;
                    break;
            }
        }

        public void Dispose() => _server.Dispose();
    }
}
