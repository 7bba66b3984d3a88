using System.Net;
using System.Text.Json.Nodes;

namespace Capstan.Media.Tests;

/// <summary>The media fixture without the recorder: only the server and the Janus it supervises.</summary>
public sealed class JanusOnlyFixture : MediaFixture
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [new("Recorder:Enabled", "false")];
}

/// <summary><c>/readyz</c> against the real Janus the server supervises: killed, the <c>janus</c> check fails and
/// the answer is 503 naming it; restarted by the supervisor, 200 again and a participant joins.</summary>
public sealed class ReadinessMediaTests(JanusOnlyFixture f) : IClassFixture<JanusOnlyFixture>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readyz_Is503NamingJanus_WhenJanusIsKilled_And200OnceTheSupervisorRestartedIt()
    {
        using var http = new HttpClient { BaseAddress = f.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        await Wait.UntilAsync(async () => (await ReadyAsync(http)).Status == HttpStatusCode.OK, "/readyz 200 with Janus up");
        var (_, ready) = await ReadyAsync(http);
        Assert.Equal("ok", ready["data"]!["checks"]!["janus"]!["status"]!.GetValue<string>());
        var first = JanusPid();

        // SIGKILL, as a crash would: the supervisor sees the exit, and until the new Janus answers /readyz says why.
        await MediaFacts.RunAsync("kill", ["-KILL", first.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        JsonNode? down = null;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (down is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "/readyz never turned 503 after Janus was killed");
            var (status, body) = await ReadyAsync(http);
            if (status == HttpStatusCode.ServiceUnavailable)
            {
                down = body;
                break;
            }
            await Task.Delay(50, Ct);
        }
        Assert.False(down["success"]!.GetValue<bool>());
        var message = down["error"]!["message"]!.GetValue<string>();
        Assert.StartsWith("not ready: janus (", message, StringComparison.Ordinal);
        Assert.Equal("failing", down["checks"]!["janus"]!["status"]!.GetValue<string>());
        Assert.Equal("ok", down["checks"]!["database"]!["status"]!.GetValue<string>());
        Assert.DoesNotContain("database", message, StringComparison.Ordinal);
        // Liveness is not readiness.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz", Ct)).StatusCode);

        await Wait.UntilAsync(async () => (await ReadyAsync(http)).Status == HttpStatusCode.OK, "/readyz back to 200 once Janus is restarted", 40);
        var second = JanusPid();
        Assert.NotEqual(first, second);

        // The restarted Janus serves: a participant of a new meeting joins it.
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var page = await f.OpenAsync(alice.Token, 640, 360);
        await Wait.UntilAsync(async () => await page.EvaluateAsync<bool>("() => window.capstanState.joined"), "a participant joined the restarted Janus");
        await page.EvaluateAsync("() => window.capstanLeave()");
        await Task.Delay(300, Ct);
        await page.Context.CloseAsync();
    }

    private static async Task<(HttpStatusCode Status, JsonNode Body)> ReadyAsync(HttpClient http)
    {
        using var r = await http.GetAsync("/readyz", Ct);
        return (r.StatusCode, JsonNode.Parse(await r.Content.ReadAsStringAsync(Ct))!);
    }

    /// <summary>The pid of the Janus this fixture's server runs (its command line names the fixture's config folder).</summary>
    private int JanusPid()
    {
        var conf = Path.Combine(f.DataDir, "janus", "conf");
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (cmd.Length > 0 && cmd[0].EndsWith("janus", StringComparison.Ordinal) && cmd.Contains(conf))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // gone
            }
            catch (UnauthorizedAccessException)
            {
                // not ours
            }
        }
        return Assert.Single(found);
    }
}
