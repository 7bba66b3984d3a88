using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Capstan.Media.Tests;

/// <summary>The media fixture with coturn (Debian's <c>turnserver</c>) as its TURN server: started by the fixture on
/// the namespace's veth address with <c>use-auth-secret</c> and ended with it; the server hands out credentials for
/// it (<c>Turn:Urls</c>, <c>Turn:Secret</c>) and its Janus gathers relay candidates through it too.</summary>
public sealed class TurnMediaFixture : MediaFixture
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "capstan-turn-" + Guid.NewGuid().ToString("N"));
    private readonly StringBuilder _log = new();
    private Process? _turn;

    public string Secret { get; } = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public string Address { get; private set; } = null!;

    public int Port { get; private set; }

    /// <summary>What coturn logged so far.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    protected override async Task BeforeStartAsync()
    {
        var iface = Environment.GetEnvironmentVariable("CAPSTAN_NETNS_INTERFACE")!;
        Address = NetworkInterface.GetAllNetworkInterfaces().First(n => n.Name == iface).GetIPProperties().UnicastAddresses
            .First(a => a.Address.AddressFamily == AddressFamily.InterNetwork).Address.ToString();
        Port = FreeUdpPort();
        Directory.CreateDirectory(_dir);
        var psi = new ProcessStartInfo("/usr/bin/turnserver") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            "-n", "--listening-ip", Address, "--relay-ip", Address, "--listening-port", Port.ToString(CultureInfo.InvariantCulture),
            "--min-port", "41000", "--max-port", "41999", "--use-auth-secret", "--static-auth-secret", Secret, "--realm", "capstan.test",
            "--fingerprint", "--no-tls", "--no-dtls", "--no-cli", "--no-tcp-relay", "--no-software-attribute", "--no-multicast-peers",
            "--pidfile", Path.Combine(_dir, "turnserver.pid"), "--log-file", "stdout", "--simple-log", "--verbose",
        })
        {
            psi.ArgumentList.Add(a);
        }
        _turn = Process.Start(psi)!;
        _turn.OutputDataReceived += (_, e) => Append(e.Data);
        _turn.ErrorDataReceived += (_, e) => Append(e.Data);
        _turn.BeginOutputReadLine();
        _turn.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!Log.Contains("Total General servers", StringComparison.Ordinal) && !Log.Contains("relay " + Address, StringComparison.Ordinal))
        {
            Assert.False(_turn.HasExited, "coturn exited: " + Log);
            Assert.True(DateTime.UtcNow < deadline, "coturn did not start: " + Log);
            await Task.Delay(100);
        }
    }

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("Turn:Urls:0", $"turn:{Address}:{Port}?transport=udp"),
        new("Turn:Secret", Secret),
        new("Turn:CredentialTtl", "01:00:00"),
    ];

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private static int FreeUdpPort()
    {
        using var s = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.Client.LocalEndPoint!).Port;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_turn is not null)
        {
            try
            {
                _turn.Kill(entireProcessTree: true);
                await _turn.WaitForExitAsync(new CancellationTokenSource(5000).Token);
            }
            catch (InvalidOperationException)
            {
                // exited
            }
            _turn.Dispose();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // left for the OS temp cleaner
        }
    }
}

/// <summary>A participant that can only relay (<c>?iceTransportPolicy=relay</c>) joins through coturn with the
/// credential handed out with the join, and a composite recording records it.</summary>
public sealed class TurnMediaTests(TurnMediaFixture f) : IClassFixture<TurnMediaFixture>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task ParticipantForcedToRelay_JoinsThroughCoturn_AndIsRecorded()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var context = await f.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 640, Height = 360 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(f.BaseUrl, "/meeting?iceTransportPolicy=relay&authToken=" + Uri.EscapeDataString(alice.Token)).ToString());
        await MediaFixture.PublishingAsync(page, "participant joined");
        // Publishing: her camera's frames leave through the relay.
        await Wait.UntilAsync(async () => JsonNode.Parse(await page.EvaluateAsync<string>("async () => JSON.stringify(await window.capstanStats())"))!["framesSent"]!.GetValue<int>() > 30, "frames sent", 30);
        var pair = JsonNode.Parse(await page.EvaluateAsync<string>("async () => JSON.stringify(await window.capstanCandidates())"))!;
        var publisher = pair["publisher"];
        Assert.True(publisher is not null && publisher["local"]!.GetValue<string>() == "relay", "the publisher's selected pair is not relayed: " + pair.ToJsonString());
        Assert.Equal(f.Address, publisher["localAddress"]!.GetValue<string>());

        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }, Ct);
        var started = await r.Content.ReadFromJsonAsync<JsonObject>(Ct);
        Assert.True(r.StatusCode == HttpStatusCode.OK, started!.ToJsonString());
        var id = started!["data"]!["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");
        await Task.Delay(5000, Ct);
        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED", 60);
        await page.EvaluateAsync("() => window.capstanLeave()");
        await Task.Delay(300, Ct);
        await context.CloseAsync();

        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        try
        {
            // The file runs from started_time to stopped_time (no pause, no gap here).
            var facts = await MediaFacts.ProbeAsync(file);
            var span = (Time(done, "stopped_time") - Time(done, "started_time")).TotalSeconds;
            Assert.Empty(done["gaps"]!.AsArray());
            Assert.InRange(span, 4.5, 30);
            Assert.InRange(facts.Duration, span - 0.5, span + 0.5);
            Assert.True(await MediaFacts.AverageLumaAsync(file) > 40, "video is black");
            Assert.True(await MediaFacts.MeanVolumeAsync(file) > -50, "audio is silent");
        }
        finally
        {
            File.Delete(file);
        }

        // coturn saw it: an allocation with Alice's credential (expiry:participant id) and, with Janus's own
        // credential from the TURN REST API (expiry:janus-...), Janus's allocations.
        var log = f.Log;
        Assert.True(log.Contains($":{alice.Id}>: incoming packet ALLOCATE processed, success", StringComparison.Ordinal),
            "coturn did not allocate a relay for Alice: " + Tail(log));
        Assert.True(log.Contains(":janus-", StringComparison.Ordinal) && log.Contains("ALLOCATE processed, success", StringComparison.Ordinal),
            "coturn saw no allocation of Janus: " + Tail(log));
        Assert.Contains("CREATE_PERMISSION processed, success", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Join_HandsEachParticipantATimeLimitedCredential_ButNotTheRecorder()
    {
        var meeting = await f.NewMeetingAsync();
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        using var http = new HttpClient { BaseAddress = f.BaseUrl };
        var join = (await (await http.PostAsJsonAsync("/meeting-api/join", new { auth_token = bob.Token }, Ct)).Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!;
        var server = join["ice_servers"]!.AsArray().Single()!;
        Assert.Equal($"turn:{f.Address}:{f.Port}?transport=udp", server["urls"]!.AsArray().Single()!.GetValue<string>());
        var username = server["username"]!.GetValue<string>();
        Assert.EndsWith(":" + bob.Id, username, StringComparison.Ordinal);
        var expiry = DateTimeOffset.FromUnixTimeSeconds(long.Parse(username.Split(':')[0], CultureInfo.InvariantCulture));
        Assert.InRange(expiry, DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));
        Assert.Equal(Capstan.Server.Meetings.TurnCredentials.Sign(f.Secret, username), server["credential"]!.GetValue<string>());

        var recorder = await f.AddParticipantAsync(meeting, "Rec", Capstan.Server.Domain.Presets.Recorder);
        var recorderJoin = (await (await http.PostAsJsonAsync("/meeting-api/join", new { auth_token = recorder.Token }, Ct)).Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!;
        Assert.Empty(recorderJoin["ice_servers"]!.AsArray());

        // Janus's TURN REST API: only with an instance's key.
        using var refused = await http.GetAsync("/internal/turn-credentials?service=turn&username=x&key=wrong", Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static DateTime Time(JsonNode recording, string field) =>
        DateTime.Parse(recording[field]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);

    private static string Tail(string log) => log.Length > 4000 ? log[^4000..] : log;
}
