using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Security;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

public sealed class ResourcesApiTests_Sqlite(SqliteServer server) : ResourcesApiTests(server), IClassFixture<SqliteServer>;

public sealed class ResourcesApiTests_Postgres(PostgresServer server) : ResourcesApiTests(server), IClassFixture<PostgresServer>;

/// <summary>Apps, meetings, participants, presets, sessions and webhooks against a live server, on each database.</summary>
public abstract class ResourcesApiTests(ServerFixture server)
{
    private TestAccount Account => server.Account;

    private string AccountPath => $"/client/v4/accounts/{Account.AccountId}/realtime/kit";

    [Fact]
    public async Task Apps_CreateNestsUnderApp_ListPagesAndSearches()
    {
        var own = await server.CreateAccountAsync();
        var c = own.Client();
        var path = $"/client/v4/accounts/{own.AccountId}/realtime/kit/apps";
        var created = (await c.PostJsonAsync(path, new { name = "Second App" })).Data(HttpStatusCode.Created)["app"]!;
        Assert.Equal("Second App", created.Str("name"));
        Assert.True(Guid.TryParse(created.Str("id"), out _));

        var list = await c.GetJsonAsync(path + "?per_page=1&sort_order=ASC");
        Assert.Equal(2, list.Body["paging"]!["total_count"]!.GetValue<int>());
        Assert.Equal("test app", list.Data().AsArray()[0]!.Str("name"));
        Assert.Single((await c.GetJsonAsync(path + "?search=second")).Data().AsArray());
        // The same routes without the /client/v4 prefix.
        Assert.Equal(2, (await c.GetJsonAsync($"/accounts/{own.AccountId}/realtime/kit/apps")).Data().AsArray().Count);
    }

    [Fact]
    public async Task Meetings_CreateGetPatchPutList()
    {
        var c = Account.Client();
        var m = (await c.PostJsonAsync($"{Account.AppPath}/meetings", new
        {
            title = "Board meeting",
            record_on_start = true,
            session_keep_alive_time_in_secs = 120,
            recording_config = new { max_seconds = 600, audio_config = new { codec = "MP3", channel = "mono" }, realtimekit_bucket_config = new { enabled = true } },
            ai_config = new { transcription = new { language = "de" } },
        })).Data(HttpStatusCode.Created);
        var id = m.Str("id");
        Assert.Equal(("ACTIVE", true, 120), (m.Str("status"), m["record_on_start"]!.GetValue<bool>(), m["session_keep_alive_time_in_secs"]!.GetValue<int>()));
        Assert.Equal("MP3", m["recording_config"]!["audio_config"]!.Str("codec"));
        Assert.Equal("de", m["ai_config"]!["transcription"]!.Str("language"));

        var patched = (await c.PatchJsonAsync($"{Account.AppPath}/meetings/{id}", new { status = "INACTIVE", title = "Board meeting (moved)" })).Data();
        Assert.Equal(("INACTIVE", "Board meeting (moved)", true), (patched.Str("status"), patched.Str("title"), patched["record_on_start"]!.GetValue<bool>()));
        Assert.Equal(600, patched["recording_config"]!["max_seconds"]!.GetValue<int>());

        var replaced = (await c.PutJsonAsync($"{Account.AppPath}/meetings/{id}", new { title = "Replaced" })).Data();
        Assert.Equal(("Replaced", false, 60), (replaced.Str("title"), replaced["record_on_start"]!.GetValue<bool>(), replaced["session_keep_alive_time_in_secs"]!.GetValue<int>()));
        Assert.Null(replaced["recording_config"]);
        Assert.Equal("INACTIVE", replaced.Str("status"));

        var got = (await c.GetJsonAsync($"{Account.AppPath}/meetings/{id}")).Data();
        Assert.Equal("Replaced", got.Str("title"));
        var found = (await c.GetJsonAsync($"{Account.AppPath}/meetings?search=replaced&status=INACTIVE")).Data().AsArray();
        Assert.Contains(found, x => x!.Str("id") == id);
        Assert.Null(found[0]!["ai_config"]);
        (await c.GetJsonAsync($"{Account.AppPath}/meetings/{Guid.NewGuid()}")).Error(HttpStatusCode.NotFound, "No meeting found");
    }

    [Fact]
    public async Task Participants_AddWithVerifiableToken_ListGetEditRefreshDelete()
    {
        var c = Account.Client();
        var meeting = (await c.PostJsonAsync($"{Account.AppPath}/meetings", new { title = "p" })).Data(HttpStatusCode.Created).Str("id");
        var added = (await c.PostJsonAsync($"{Account.AppPath}/meetings/{meeting}/participants",
            new { custom_participant_id = "user-1", preset_name = "group_call_host", name = "Ada", picture = "https://img.example/ada.png" })).Data(HttpStatusCode.Created);
        var pid = added.Str("id");
        var token = added.Str("token");
        var header = JsonNode.Parse(Encoding.UTF8.GetString(ApiTokens.FromBase64Url(token.Split('.')[0])))!;
        Assert.Equal("RS256", header.Str("alg"));
        Assert.False(string.IsNullOrEmpty(header.Str("kid")));

        var tokens = server.Services.GetRequiredService<ParticipantTokens>();
        var claims = await tokens.VerifyAsync(token, TestContext.Current.CancellationToken);
        Assert.NotNull(claims);
        Assert.Equal((Account.AppId, Guid.Parse(meeting), Guid.Parse(pid), "group_call_host"), (claims!.AppId, claims.MeetingId, claims.ParticipantId, claims.Preset));
        Assert.Null(await tokens.VerifyAsync(token[..^4] + "AAAA", TestContext.Current.CancellationToken));

        var list = await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/participants");
        Assert.Single(list.Data().AsArray());
        Assert.Null(list.Data().AsArray()[0]!["token"]);
        Assert.Equal(1, list.Body["paging"]!["total_count"]!.GetValue<int>());
        Assert.Equal("Ada", (await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/participants/{pid}")).Data().Str("name"));

        var edited = (await c.PatchJsonAsync($"{Account.AppPath}/meetings/{meeting}/participants/{pid}", new { preset_name = "group_call_participant" })).Data();
        Assert.Equal(("group_call_participant", "Ada"), (edited.Str("preset_name"), edited.Str("name")));
        Assert.Equal("group_call_participant", (await tokens.VerifyAsync(edited.Str("token"), TestContext.Current.CancellationToken))!.Preset);

        var refreshed = (await c.PostJsonAsync($"{Account.AppPath}/meetings/{meeting}/participants/{pid}/token", null)).Data().Str("token");
        Assert.NotEqual(token, refreshed);
        Assert.Equal(Guid.Parse(pid), (await tokens.VerifyAsync(refreshed, TestContext.Current.CancellationToken))!.ParticipantId);

        var deleted = (await c.SendAsync(HttpMethod.Delete, $"{Account.AppPath}/meetings/{meeting}/participants/{pid}")).Data();
        Assert.Equal("user-1", deleted.Str("custom_participant_id"));
        Assert.Equal(Presets.IdOf(Account.AppId, "group_call_participant").ToString(), deleted.Str("preset_id"));
        (await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/participants/{pid}")).Error(HttpStatusCode.NotFound, $"No user found with id {pid}");
    }

    [Fact]
    public async Task ParticipantToken_ExpiresAfterItsLifetime()
    {
        var fake = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = server.Services.GetRequiredService<Capstan.Server.Hosting.CapstanOptions>();
        var tokens = new ParticipantTokens(server.Services.GetRequiredService<IServiceScopeFactory>(), server.Services.GetRequiredService<SecretProtector>(), options, fake);
        var token = await tokens.IssueAsync(Account.AppId, Guid.NewGuid(), Guid.NewGuid(), Presets.Host, TestContext.Current.CancellationToken);
        fake.Advance(options.ParticipantTokenLifetime - TimeSpan.FromMinutes(1));
        Assert.NotNull(await tokens.VerifyAsync(token, TestContext.Current.CancellationToken));
        fake.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(await tokens.VerifyAsync(token, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Presets_ListTheThreeBuiltIns_AndGetOne()
    {
        var c = Account.Client();
        var list = await c.GetJsonAsync($"{Account.AppPath}/presets");
        var names = list.Data().AsArray().Select(p => p!.Str("name")).ToList();
        Assert.Equal(["group_call_host", "group_call_participant", "recorder_preset_v2"], names);
        var recorder = list.Data().AsArray().Single(p => p!.Str("name") == "recorder_preset_v2")!;
        var details = (await c.GetJsonAsync($"{Account.AppPath}/presets/{recorder.Str("id")}")).Data();
        Assert.True(details["permissions"]!["is_recorder"]!.GetValue<bool>());
        Assert.True(details["permissions"]!["hidden_participant"]!.GetValue<bool>());
        (await c.GetJsonAsync($"{Account.AppPath}/presets/{Guid.NewGuid()}")).Error(HttpStatusCode.NotFound, "No preset found");
    }

    [Fact]
    public async Task Sessions_FromPresence_ListGetParticipantsLeaveKickAndKickAll()
    {
        var c = Account.Client();
        var meeting = (await c.PostJsonAsync($"{Account.AppPath}/meetings", new { title = "Standup" })).Data(HttpStatusCode.Created).Str("id");
        var meetingId = Guid.Parse(meeting);
        (await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/active-session")).Error(HttpStatusCode.NotFound, "No active session found for meeting_id");

        var alice = await Presence.JoinAsync(server, Account, meetingId, "alice");
        var bob = await Presence.JoinAsync(server, Account, meetingId, "bob");
        var recorder = await Presence.JoinAsync(server, Account, meetingId, "recorder", Presets.Recorder, hidden: true);
        Assert.Equal(alice.SessionId, bob.SessionId);
        Assert.Equal(alice.SessionId, recorder.SessionId);

        var active = (await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/active-session")).Data();
        Assert.Equal(("LIVE", 2, 2, meeting), (active.Str("status"), active["live_participants"]!.GetValue<int>(), active["max_concurrent_participants"]!.GetValue<int>(), active.Str("associated_id")));
        Assert.Equal("Standup", active.Str("meeting_display_name"));

        var sessions = await c.GetJsonAsync($"{Account.AppPath}/sessions?associated_id={meeting}");
        var sessionList = sessions.Data()["sessions"]!.AsArray();
        Assert.Single(sessionList);
        Assert.Equal(1, sessions.Body["paging"]!["total_count"]!.GetValue<int>());
        Assert.Single((await c.GetJsonAsync($"{Account.AppPath}/sessions?status=LIVE&participants=alice")).Data()["sessions"]!.AsArray(), s => s!.Str("id") == alice.SessionId.ToString());
        Assert.Equal(alice.SessionId.ToString(), (await c.GetJsonAsync($"{Account.AppPath}/sessions/{alice.SessionId}")).Data().Str("id"));

        var peers = (await c.GetJsonAsync($"{Account.AppPath}/sessions/{alice.SessionId}/participants?include_peer_events=true")).Data()["participants"]!.AsArray();
        Assert.Equal(["alice", "bob"], peers.Select(p => p!.Str("custom_participant_id")).ToList());
        Assert.Equal(["PEER_CREATED", "PEER_JOINING"], peers[0]!["peer_events"]!.AsArray().Select(e => e!.Str("event_name")).ToList());

        await Presence.LeaveAsync(server, bob.PeerId);
        var bobDetails = (await c.GetJsonAsync($"{Account.AppPath}/sessions/{alice.SessionId}/participants/{bob.PeerId}?include_peer_events=true")).Data()["participant"]!;
        Assert.NotNull(bobDetails["left_at"]);
        Assert.Equal("PEER_LEAVING", bobDetails["peer_events"]!.AsArray()[^1]!.Str("event_name"));
        Assert.Equal(1, (await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/active-session")).Data()["live_participants"]!.GetValue<int>());
        Assert.Equal(1, await Presence.CountOutboxAsync(server, WebhookEvents.ParticipantLeft, bob.PeerId.ToString()));
        Assert.Equal(1, await Presence.CountOutboxAsync(server, WebhookEvents.MeetingStarted, alice.SessionId.ToString()));
        Assert.Equal(0, await Presence.CountOutboxAsync(server, WebhookEvents.ParticipantJoined, recorder.PeerId.ToString()));

        var carol = await Presence.JoinAsync(server, Account, meetingId, "carol");
        var kicked = (await c.PostJsonAsync($"{Account.AppPath}/meetings/{meeting}/active-session/kick", new { custom_participant_ids = new[] { "carol" } })).Data();
        Assert.Equal(carol.PeerId.ToString(), kicked["participants"]!.AsArray().Single()!.Str("id"));

        var rec = (await c.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data();
        Assert.Equal(alice.SessionId.ToString(), rec.Str("session_id"));
        var all = (await c.PostJsonAsync($"{Account.AppPath}/meetings/{meeting}/active-session/kick-all", null)).Data();
        Assert.Equal("alice", all["participants"]!.AsArray().Single()!.Str("custom_participant_id"));

        var ended = (await c.GetJsonAsync($"{Account.AppPath}/sessions/{alice.SessionId}")).Data();
        Assert.Equal("ENDED", ended.Str("status"));
        Assert.NotNull(ended["ended_at"]);
        var stopped = (await c.GetJsonAsync($"{Account.AppPath}/recordings/{rec.Str("id")}")).Data();
        Assert.Equal(("ERRORED", "ALL_PEERS_LEFT"), (stopped.Str("status"), stopped["stop_reason"]!.Str("reason")));
        (await c.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}/active-session")).Error(HttpStatusCode.NotFound);
        Assert.Equal(1, await Presence.CountOutboxAsync(server, WebhookEvents.MeetingEnded, alice.SessionId.ToString()));

        // A new join starts a new session.
        var again = await Presence.JoinAsync(server, Account, meetingId, "alice");
        Assert.NotEqual(alice.SessionId, again.SessionId);
    }

    [Fact]
    public async Task Session_EndsAfterKeepAliveWithNobodyLeft_AndStopsRecordingsWithAllPeersLeft()
    {
        var c = Account.Client();
        var meeting = (await c.PostJsonAsync($"{Account.AppPath}/meetings", new { title = "keepalive", session_keep_alive_time_in_secs = 60 })).Data(HttpStatusCode.Created).Str("id");
        var alice = await Presence.JoinAsync(server, Account, Guid.Parse(meeting), "alice");
        var rec = (await c.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
        await Presence.LeaveAsync(server, alice.PeerId);

        var fake = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var sessions = new SessionService(db, fake, new RecordingLifecycle(db, fake));
        fake.Advance(TimeSpan.FromSeconds(30));
        await sessions.EndIdleSessionsAsync(TestContext.Current.CancellationToken);
        Assert.Equal("LIVE", (await c.GetJsonAsync($"{Account.AppPath}/sessions/{alice.SessionId}")).Data().Str("status"));
        fake.Advance(TimeSpan.FromSeconds(31));
        await sessions.EndIdleSessionsAsync(TestContext.Current.CancellationToken);
        Assert.Equal("ENDED", (await c.GetJsonAsync($"{Account.AppPath}/sessions/{alice.SessionId}")).Data().Str("status"));
        Assert.Equal("ALL_PEERS_LEFT", (await c.GetJsonAsync($"{Account.AppPath}/recordings/{rec}")).Data()["stop_reason"]!.Str("reason"));
    }

    [Fact]
    public async Task Webhooks_CreateListGetPatchPutDelete()
    {
        var c = Account.Client();
        var created = (await c.PostJsonAsync($"{Account.AppPath}/webhooks", new { name = "hook", url = "https://hooks.example.com/capstan", events = new[] { "recording.statusUpdate", "meeting.started" } }))
            .Data(HttpStatusCode.Created);
        var id = created.Str("id");
        Assert.True(created["enabled"]!.GetValue<bool>());
        Assert.Equal(["recording.statusUpdate", "meeting.started"], created["events"]!.AsArray().Select(e => e!.GetValue<string>()).ToList());

        var list = await c.GetJsonAsync($"{Account.AppPath}/webhooks");
        Assert.Contains(list.Data().AsArray(), w => w!.Str("id") == id);
        Assert.Null(list.Body["paging"]);

        var patched = (await c.PatchJsonAsync($"{Account.AppPath}/webhooks/{id}", new { enabled = false })).Data();
        Assert.Equal((false, "hook"), (patched["enabled"]!.GetValue<bool>(), patched.Str("name")));
        var replaced = (await c.PutJsonAsync($"{Account.AppPath}/webhooks/{id}", new { name = "hook2", url = "https://hooks.example.com/v2", events = new[] { "meeting.ended" } })).Data();
        Assert.Equal(("hook2", true, "meeting.ended"), (replaced.Str("name"), replaced["enabled"]!.GetValue<bool>(), replaced["events"]!.AsArray().Single()!.GetValue<string>()));
        (await c.PutJsonAsync($"{Account.AppPath}/webhooks/{id}", new { name = "x" })).Error(HttpStatusCode.BadRequest, "url is required", "events is required");
        Assert.Equal("hook2", (await c.GetJsonAsync($"{Account.AppPath}/webhooks/{id}")).Data().Str("name"));
        Assert.Equal(id, (await c.SendAsync(HttpMethod.Delete, $"{Account.AppPath}/webhooks/{id}")).Data().Str("id"));
        (await c.GetJsonAsync($"{Account.AppPath}/webhooks/{id}")).Error(HttpStatusCode.NotFound, "No webhook found");
    }

    [Fact]
    public async Task ApiTokens_AreStoredHashed()
    {
        var hashes = await Presence.WithDbAsync(server, db => db.ApiTokens.Select(t => t.TokenHash).ToListAsync(TestContext.Current.CancellationToken));
        Assert.DoesNotContain(Account.Token, hashes);
        Assert.Contains(ApiTokens.Hash(Account.Token), hashes);
    }

    [Fact]
    public async Task OpenApiDocumentAndReferencePage_AreServed()
    {
        using var c = server.Client();
        var doc = (await c.GetJsonAsync("/openapi/v1.json")).Body;
        Assert.NotNull(doc["paths"]!["/accounts/{account_id}/realtime/kit/{app_id}/recordings"]!["post"]);
        // Interactive recordings and the broadcast extension, described.
        Assert.Contains("com.capstan.id3data", doc["paths"]!["/accounts/{account_id}/realtime/kit/{app_id}/recordings"]!["post"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("16 KiB", doc["paths"]!["/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/broadcast"]!["post"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        // The gaps extension of a recording, described.
        var recording = doc["components"]!["schemas"]!["RecordingDto"]!;
        Assert.Contains("missed", recording["properties"]!["gaps"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        // The active speaker extension of the active session, described.
        Assert.Contains("active speaker", doc["components"]!["schemas"]!["SessionDto"]!["properties"]!["active_speaker"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        using var docs = await c.GetAsync("/docs", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Contains("openapi/v1.json", await docs.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }
}
