using Capstan.Server.Hosting;
using Capstan.Server.Meetings;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>TURN: the coturn REST-API credential (username expiry[:id], credential base64(HMAC-SHA1(secret,
/// username))), the validation of <c>Turn:*</c>, the ICE servers of a join, and Janus's generated TURN settings.</summary>
public sealed class TurnTests
{
    private const string Secret = "0123456789abcdef-secret";

    [Fact]
    public void Credential_IsExpiryColonId_SignedWithHmacSha1OfTheSecret()
    {
        // Expected values from an independent HMAC-SHA1 (Python's hmac module).
        var c = TurnCredentials.Create(Secret, TimeSpan.FromHours(1), DateTimeOffset.FromUnixTimeSeconds(1_699_996_400), "alice");
        Assert.Equal("1700000000:alice", c.Username);
        Assert.Equal("/F42eaImLNE8Ndqtu0Eo/wcd44I=", c.Credential);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), c.Expires);

        var bare = TurnCredentials.Create(Secret, TimeSpan.FromHours(1), DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddMilliseconds(900));
        Assert.Equal("1700003600", bare.Username);
        Assert.Equal("IN0IU/odcQO0AqESDrV8iCopXw0=", bare.Credential);
    }

    [Fact]
    public void Credential_Id_KeepsOnlySafeCharacters()
    {
        var c = TurnCredentials.Create(Secret, TimeSpan.FromMinutes(5), DateTimeOffset.FromUnixTimeSeconds(0), "a:b c/<d>_e-f.9");
        Assert.Equal("300:abcd_e-f.9", c.Username);
        Assert.Equal(TurnCredentials.Sign(Secret, "300:abcd_e-f.9"), c.Credential);
        Assert.Equal("300", TurnCredentials.Create(Secret, TimeSpan.FromMinutes(5), DateTimeOffset.FromUnixTimeSeconds(0), ":::").Username);
    }

    [Theory]
    [InlineData("turn:turn.example.com:3478?transport=udp")]
    [InlineData("turn:turn.example.com:3478?transport=tcp")]
    [InlineData("turns:turn.example.com:5349?transport=tcp")]
    [InlineData("turn:10.0.0.5")]
    [InlineData("turn:[2001:db8::1]:3478")]
    [InlineData("stun:stun.example.com:3478")]
    public void Uri_Accepted(string uri) => Assert.Null(TurnUri.Problem(uri));

    [Theory]
    [InlineData("", "must be a turn:")]
    [InlineData("http://turn.example.com", "must start with turn:")]
    [InlineData("turn://turn.example.com:3478", "'//'")]
    [InlineData("turn:turn.example.com:0", "port outside")]
    [InlineData("turn:turn.example.com:70000", "port outside")]
    [InlineData("turn:turn.example.com:34x8", "port outside")]
    [InlineData("turn:turn.example.com?transport=sctp", "transport=udp or ?transport=tcp")]
    [InlineData("stun:stun.example.com?transport=udp", "takes no query")]
    [InlineData("turn::3478", "must name a host")]
    [InlineData("turn:bad host:3478", "must name a host")]
    [InlineData("turn:[2001:db8::1:3478", "unclosed")]
    public void Uri_Refused(string uri, string problem) => Assert.Contains(problem, TurnUri.Problem(uri), StringComparison.Ordinal);

    private static ValidateOptionsResult Validate(TurnOptions o) => new TurnOptionsValidator().Validate(null, o);

    [Fact]
    public void Options_NoTurn_AndACompleteTurn_AreValid()
    {
        Assert.True(Validate(new TurnOptions()).Succeeded);
        Assert.True(Validate(new TurnOptions { Urls = ["stun:stun.example.com"] }).Succeeded);
        Assert.True(Validate(new TurnOptions { Urls = ["turn:t.example.com:3478", "turns:t.example.com:5349?transport=tcp"], Secret = Secret, CredentialTtl = TimeSpan.FromHours(2) }).Succeeded);
    }

    [Theory]
    [InlineData("turn:t.example.com", null, "01:00:00", "Turn:Secret is required")]
    [InlineData("turn:t.example.com", "short", "01:00:00", "at least 16 characters")]
    [InlineData("turn:t.example.com", "has a space in the secret", "01:00:00", "without spaces")]
    [InlineData(null, Secret, "01:00:00", "Turn:Urls has no turn: or turns: URI")]
    [InlineData("stun:s.example.com", Secret, "01:00:00", "Turn:Urls has no turn: or turns: URI")]
    [InlineData("turn:t.example.com", Secret, "00:00:30", "Turn:CredentialTtl must be from")]
    [InlineData("turn:t.example.com", Secret, "31.00:00:00", "Turn:CredentialTtl must be from")]
    [InlineData("turn://t.example.com", Secret, "01:00:00", "Turn:Urls:0 must not have '//'")]
    public void Options_Refused(string? url, string? secret, string ttl, string message)
    {
        var r = Validate(new TurnOptions { Urls = url is null ? [] : [url], Secret = secret, CredentialTtl = TimeSpan.Parse(ttl, System.Globalization.CultureInfo.InvariantCulture) });
        Assert.True(r.Failed);
        Assert.Contains(message, r.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadTurnSetting_IsAStartupError_NamingIt()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await using var app = CapstanHost.Build([],
            [
                new("Capstan:DataDir", dir), new("Capstan:Port", "0"), new("Janus:Enabled", "false"), new("Recorder:Enabled", "false"),
                new("Webhooks:Deliver", "false"), new("Logging:LogLevel:Default", "None"), new("Turn:Urls:0", "turn:turn.example.com:3478"),
            ]);
            var e = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains("Turn:Secret is required", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void IceServers_GiveTheTurnUrisOneCredential_AndStunUrisNone()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var o = new TurnOptions { Urls = ["turn:t.example.com:3478?transport=udp", "stun:s.example.com", "turns:t.example.com:5349?transport=tcp"], Secret = Secret, CredentialTtl = TimeSpan.FromMinutes(10) };
        var turn = new TurnService(Options.Create(o), clock);
        var servers = turn.IceServersFor("bob");
        Assert.Equal(2, servers.Count);
        Assert.Equal(["turn:t.example.com:3478?transport=udp", "turns:t.example.com:5349?transport=tcp"], servers[0].Urls);
        Assert.Equal("1700000600:bob", servers[0].Username);
        Assert.Equal(TurnCredentials.Sign(Secret, "1700000600:bob"), servers[0].Credential);
        Assert.Equal(["stun:s.example.com"], servers[1].Urls);
        Assert.Null(servers[1].Username);

        var janus = turn.ForJanus("capstan-42");
        Assert.Equal("1700000600:janus-capstan-42", janus.Username);
        Assert.Equal(TurnCredentials.Sign(Secret, janus.Username), janus.Password);
        Assert.Equal(600, janus.Ttl);
        Assert.Equal(["turn:t.example.com:3478?transport=udp", "turns:t.example.com:5349?transport=tcp"], janus.Uris);

        Assert.Empty(new TurnService(Options.Create(new TurnOptions()), clock).IceServersFor("bob"));
    }

    [Fact]
    public void JanusConfig_WithTurn_AsksTheServersTurnRestApi()
    {
        var without = JanusConfig.Files(new JanusConfigSpec("/d/conf", "/usr/lib/janus", 8188, 7188, "s", "k", "http://127.0.0.1:8080/internal/janus-events", "evpass", "v0", null, "20000-20999"));
        Assert.DoesNotContain("turn_", without["janus.jcfg"], StringComparison.Ordinal);
        var with = JanusConfig.Files(new JanusConfigSpec("/d/conf", "/usr/lib/janus", 8188, 7188, "s", "k", "http://127.0.0.1:8080/internal/janus-events", "evpass", "v0", null, "20000-20999",
            "http://127.0.0.1:8080/internal/turn-credentials", "evpass"))["janus.jcfg"];
        var nat = with[with.IndexOf("nat: {", StringComparison.Ordinal)..];
        nat = nat[..nat.IndexOf('}', StringComparison.Ordinal)];
        Assert.Contains("turn_rest_api = \"http://127.0.0.1:8080/internal/turn-credentials\"", nat, StringComparison.Ordinal);
        Assert.Contains("turn_rest_api_key = \"evpass\"", nat, StringComparison.Ordinal);
        Assert.Contains("turn_rest_api_method = \"GET\"", nat, StringComparison.Ordinal);
        Assert.DoesNotContain("turn_server", nat, StringComparison.Ordinal);
    }
}
