using System.Net;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests;

/// <summary>Broadcast messages: the REST extension (<c>POST .../meetings/{id}/broadcast</c>), the page's send
/// (<c>/meeting-api/broadcast</c>) and its stream (<c>/meeting-api/broadcasts</c>, server-sent events): kept with the
/// live session, delivered to every other page, size-limited.</summary>
public sealed class BroadcastTests(SqliteServer server) : IClassFixture<SqliteServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A meeting with two participants (tokens) in a live session.</summary>
    private async Task<(TestAccount Account, string Meeting, string Alice, string Bob, Guid AliceId)> LiveMeetingAsync(bool live = true)
    {
        var account = await server.CreateAccountAsync();
        using var api = account.Client();
        var meeting = (await api.PostJsonAsync($"{account.AppPath}/meetings", new { title = "broadcast" })).Data(HttpStatusCode.Created).Str("id");
        async Task<(string Token, Guid Id)> AddAsync(string name)
        {
            var p = (await api.PostJsonAsync($"{account.AppPath}/meetings/{meeting}/participants", new { custom_participant_id = name, preset_name = Presets.Participant, name }))
                .Data(HttpStatusCode.Created);
            return (p.Str("token"), Guid.Parse(p.Str("id")));
        }
        var (alice, aliceId) = await AddAsync("alice");
        var (bob, bobId) = await AddAsync("bob");
        if (live)
        {
            await using var scope = server.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var sessions = scope.ServiceProvider.GetRequiredService<SessionService>();
            var m = await db.Meetings.AsNoTracking().FirstAsync(x => x.Id == Guid.Parse(meeting), Ct);
            foreach (var id in new[] { aliceId, bobId })
            {
                await sessions.JoinAsync(m, await db.Participants.AsNoTracking().FirstAsync(x => x.Id == id, Ct), hidden: false, Ct);
            }
        }
        return (account, meeting, alice, bob, aliceId);
    }

    /// <summary>A page's event stream: the <c>broadcast</c> events' data as they arrive.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly HttpClient _client;
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;

        private Listener(HttpClient client, HttpResponseMessage response, StreamReader reader)
        {
            _client = client;
            _response = response;
            _reader = reader;
        }

        public HttpResponseMessage Response => _response;

        public static async Task<Listener> OpenAsync(ServerFixture server, string token, string clientId)
        {
            var client = server.Client();
            var response = await client.GetAsync($"/meeting-api/broadcasts?auth_token={Uri.EscapeDataString(token)}&client_id={clientId}", HttpCompletionOption.ResponseHeadersRead, Ct);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
            var listener = new Listener(client, response, reader);
            if (response.IsSuccessStatusCode)
            {
                Assert.Equal("ready", (await listener.NextAsync(TimeSpan.FromSeconds(10))).Event);
            }
            return listener;
        }

        /// <summary>The next event (name, data), or (null, null) when none comes within <paramref name="wait"/>.</summary>
        public async Task<(string? Event, JsonNode? Data)> NextAsync(TimeSpan wait)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            cts.CancelAfter(wait);
            string? name = null;
            try
            {
                while (await _reader.ReadLineAsync(cts.Token) is { } line)
                {
                    if (line.StartsWith("event: ", StringComparison.Ordinal))
                    {
                        name = line[7..];
                    }
                    else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        return (name, JsonNode.Parse(line[6..]));
                    }
                }
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                // nothing within the wait
            }
            return (null, null);
        }

        public ValueTask DisposeAsync()
        {
            _reader.Dispose();
            _response.Dispose();
            _client.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Page_Broadcast_ReachesTheOtherPage_NotItself_AndIsKeptWithTheSession()
    {
        var (_, meeting, alice, bob, aliceId) = await LiveMeetingAsync();
        await using var bobListens = await Listener.OpenAsync(server, bob, "bob-page");
        await using var aliceListens = await Listener.OpenAsync(server, alice, "alice-page");
        using var page = server.Client();

        var sent = (await page.PostJsonAsync("/meeting-api/broadcast", new { auth_token = alice, client_id = "alice-page", type = "ID3Data", payload = new { question = "2+2?", n = 1 } })).Data();
        Assert.Equal("ID3Data", sent.Str("type"));
        Assert.Equal(aliceId.ToString("D"), sent.Str("participant_id"));
        Assert.False(string.IsNullOrEmpty(sent.Str("peer_id")));

        var (name, data) = await bobListens.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("broadcast", name);
        Assert.Equal(sent.Str("id"), data!.Str("id"));
        Assert.Equal("2+2?", data!["payload"]!["question"]!.GetValue<string>());
        Assert.Equal(sent.Str("received_at"), data.Str("received_at"));
        // The sender's own page is not sent its message back.
        Assert.Null((await aliceListens.NextAsync(TimeSpan.FromSeconds(1))).Data);

        var row = await Presence.WithDbAsync(server, db => db.SessionBroadcasts.AsNoTracking().SingleAsync(b => b.MeetingId == Guid.Parse(meeting), Ct));
        Assert.Equal("ID3Data", row.Type);
        Assert.Equal("""{"question":"2+2?","n":1}""", row.PayloadJson);
        Assert.Equal(DateTime.Parse(sent.Str("received_at"), System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime(), row.ReceivedAt, TimeSpan.FromMilliseconds(1));
        Assert.NotNull(row.PeerId);
    }

    [Fact]
    public async Task Rest_Broadcast_ReachesEveryPage_WithoutASender()
    {
        var (account, meeting, alice, bob, _) = await LiveMeetingAsync();
        await using var aliceListens = await Listener.OpenAsync(server, alice, "a");
        await using var bobListens = await Listener.OpenAsync(server, bob, "b");
        using var api = account.Client();
        var sent = (await api.PostJsonAsync($"{account.AppPath}/meetings/{meeting}/broadcast", new { type = "CLOSE_TRANSPORT", payload = "bye" })).Data();
        Assert.Null(sent["participant_id"]);
        foreach (var l in new[] { aliceListens, bobListens })
        {
            var (name, data) = await l.NextAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("broadcast", name);
            Assert.Equal("CLOSE_TRANSPORT", data!.Str("type"));
            Assert.Equal("bye", data!["payload"]!.GetValue<string>());
        }
        // Also under the path without /client/v4.
        var bare = account.AppPath.Replace("/client/v4", string.Empty, StringComparison.Ordinal);
        (await api.PostJsonAsync($"{bare}/meetings/{meeting}/broadcast", new { type = "x", payload = 1 })).Data();
    }

    [Fact]
    public async Task Broadcast_TooLargeOrIncomplete_IsRefusedNamingTheField()
    {
        var (account, meeting, alice, _, _) = await LiveMeetingAsync();
        using var api = account.Client();
        var path = $"{account.AppPath}/meetings/{meeting}/broadcast";
        // 16 KiB serialized is allowed (the string's quotes count); one byte more is 413.
        (await api.PostJsonAsync(path, new { type = "ID3Data", payload = new string('a', BroadcastService.MaxPayloadBytes - 2) })).Data();
        (await api.PostJsonAsync(path, new { type = "ID3Data", payload = new string('a', BroadcastService.MaxPayloadBytes - 1) }))
            .Error(HttpStatusCode.RequestEntityTooLarge, "payload is 16385 bytes", "16384");
        (await api.PostJsonAsync(path, new { payload = 1 })).Error(HttpStatusCode.BadRequest, "type is required");
        (await api.PostJsonAsync(path, new { type = new string('t', 129), payload = 1 })).Error(HttpStatusCode.BadRequest, "type is longer than 128");
        (await api.PostJsonAsync(path, new { type = "ID3Data" })).Error(HttpStatusCode.BadRequest, "payload is required");
        using var page = server.Client();
        (await page.PostJsonAsync("/meeting-api/broadcast", new { auth_token = alice, type = "ID3Data", payload = new string('a', 20000) }))
            .Error(HttpStatusCode.RequestEntityTooLarge, "payload is");
        (await page.PostJsonAsync("/meeting-api/broadcast", new { auth_token = "not-a-token", type = "ID3Data", payload = 1 }))
            .Error(HttpStatusCode.Unauthorized, "not valid");
        using var anonymous = server.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostJsonAsync(path, new { type = "ID3Data", payload = 1 })).Status);
    }

    [Fact]
    public async Task Broadcast_WithoutALiveSession_Is404_AndAStreamNeedsAToken()
    {
        var (account, meeting, alice, _, _) = await LiveMeetingAsync(live: false);
        using var api = account.Client();
        (await api.PostJsonAsync($"{account.AppPath}/meetings/{meeting}/broadcast", new { type = "ID3Data", payload = 1 }))
            .Error(HttpStatusCode.NotFound, "No active session", "live session");
        using var page = server.Client();
        (await page.PostJsonAsync("/meeting-api/broadcast", new { auth_token = alice, type = "ID3Data", payload = 1 }))
            .Error(HttpStatusCode.NotFound, "No active session");
        await using var refused = await Listener.OpenAsync(server, "not-a-token", "x");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Response.StatusCode);
        Assert.Equal(0, await Presence.WithDbAsync(server, db => db.SessionBroadcasts.CountAsync(b => b.MeetingId == Guid.Parse(meeting), Ct)));
    }
}
