using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Security;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>Meetings with real media: Janus, Chromium with fake devices, the meeting page and presence.</summary>
public sealed class MeetingMediaTests(MediaFixture f) : IClassFixture<MediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private static async Task<JsonElement> StateAsync(IPage page) => await page.EvaluateAsync<JsonElement>("() => window.capstanState");

    private static async Task<Dictionary<string, long>> FramesAsync(IPage page)
    {
        var json = await page.EvaluateAsync<string>("() => window.capstanStats().then(s => JSON.stringify(s))");
        using var stats = JsonDocument.Parse(json);
        return stats.RootElement.GetProperty("framesDecoded").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    }

    private static Task JoinedAsync(IPage page, string who) =>
        Wait.UntilAsync(async () => (await StateAsync(page)).GetProperty("joined").GetBoolean(), who + " joined");

    private static async Task DecodingRisesAsync(IPage page, string from)
    {
        await Wait.UntilAsync(async () => (await FramesAsync(page)).GetValueOrDefault(from) > 0, $"first frames from {from}");
        var first = (await FramesAsync(page))[from];
        await Wait.UntilAsync(async () => (await FramesAsync(page))[from] >= first + 15, $"frames from {from} keep rising", 15);
    }

    [Fact]
    public async Task TwoParticipants_DecodeEachOthersVideo_AndTheApiShowsALiveSession()
    {
        var meeting = await f.NewMeetingAsync(new { title = "Two people" });
        var alice = await f.AddParticipantAsync(meeting, "Alice", Presets.Host);
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        var pa = await f.OpenAsync(alice.Token);
        var pb = await f.OpenAsync(bob.Token);
        await JoinedAsync(pa, "Alice");
        await JoinedAsync(pb, "Bob");

        await DecodingRisesAsync(pa, "Bob");
        await DecodingRisesAsync(pb, "Alice");

        JsonNode? session = null;
        await Wait.UntilAsync(async () => (session = await f.GetAsync($"/meetings/{meeting}/active-session")) is not null
            && session["live_participants"]!.GetValue<int>() == 2, "a LIVE session with 2 participants");
        Assert.Equal("LIVE", session!["status"]!.GetValue<string>());
        var peers = (await f.GetAsync($"/sessions/{session["id"]}/participants"))!["participants"]!.AsArray();
        Assert.Equal(["alice", "bob"], peers.Select(p => p!["custom_participant_id"]!.GetValue<string>()).Order().ToList());
        Assert.Equal(["Alice", "Bob"], peers.Select(p => p!["display_name"]!.GetValue<string>()).Order().ToList());

        // The grid shows the other participant by name.
        Assert.Equal("Bob", await pa.Locator(".tile:not(.self) .name").InnerTextAsync());
        await pa.Context.CloseAsync();
        await pb.Context.CloseAsync();
    }

    [Fact]
    public async Task InvalidExpiredOrRevokedToken_GetsNoMedia()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");

        var bogus = await f.OpenAsync("not-a-token");
        await Wait.UntilAsync(async () => (await StateAsync(bogus)).GetProperty("phase").GetString() == "error", "an error for a bogus token");
        Assert.Contains("not valid or has expired", await bogus.Locator("#notice").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await bogus.EvaluateAsync<int>("() => window.__pcCount"));

        // A token signed by this server that expired an hour ago.
        var past = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-25));
        var tokens = new ParticipantTokens(f.App.Services.GetRequiredService<IServiceScopeFactory>(), f.App.Services.GetRequiredService<SecretProtector>(),
            f.App.Services.GetRequiredService<CapstanOptions>(), past);
        var expired = await tokens.IssueAsync(f.AppId, Guid.Parse(meeting), Guid.Parse(alice.Id), Presets.Participant, TestContext.Current.CancellationToken);
        var old = await f.OpenAsync(expired);
        await Wait.UntilAsync(async () => (await StateAsync(old)).GetProperty("phase").GetString() == "error", "an error for an expired token");
        Assert.Equal(0, await old.EvaluateAsync<int>("() => window.__pcCount"));

        // A participant removed from the meeting: the token is well signed but grants nothing.
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        (await f.Api.DeleteAsync($"{f.AppPath}/meetings/{meeting}/participants/{bob.Id}", TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        var revoked = await f.OpenAsync(bob.Token);
        await Wait.UntilAsync(async () => (await StateAsync(revoked)).GetProperty("phase").GetString() == "error", "an error for a removed participant");
        Assert.Contains("no longer a participant", await revoked.Locator("#notice").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await revoked.EvaluateAsync<int>("() => window.__pcCount"));

        Assert.Null(await f.GetAsync($"/meetings/{meeting}/active-session"));
        foreach (var p in new[] { bogus, old, revoked })
        {
            await p.Context.CloseAsync();
        }
    }

    [Fact]
    public async Task InactiveMeeting_CannotBeJoined()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        (await f.Api.PatchAsJsonAsync($"{f.AppPath}/meetings/{meeting}", new { status = "INACTIVE" }, TestContext.Current.CancellationToken)).EnsureSuccessStatusCode();
        var page = await f.OpenAsync(alice.Token);
        await Wait.UntilAsync(async () => (await StateAsync(page)).GetProperty("phase").GetString() == "error", "an error for an INACTIVE meeting");
        Assert.Contains("INACTIVE", await page.Locator("#notice").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__pcCount"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Leave_IsRecorded_AndKickRemovesAtOnce()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        var carol = await f.AddParticipantAsync(meeting, "Carol");
        var pa = await f.OpenAsync(alice.Token);
        var pb = await f.OpenAsync(bob.Token);
        var pc = await f.OpenAsync(carol.Token);
        foreach (var (p, n) in new[] { (pa, "Alice"), (pb, "Bob"), (pc, "Carol") })
        {
            await JoinedAsync(p, n);
        }
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == 3, "3 live participants");
        var sessionId = (await f.GetAsync($"/meetings/{meeting}/active-session"))!["id"]!.GetValue<string>();

        await pb.ClickAsync("#leave");
        await Wait.UntilAsync(async () =>
        {
            var peers = (await f.GetAsync($"/sessions/{sessionId}/participants"))!["participants"]!.AsArray();
            return peers.Any(p => p!["custom_participant_id"]!.GetValue<string>() == "bob" && p["left_at"] is not null);
        }, "Bob's leave recorded");
        await Wait.UntilAsync(async () => (await StateAsync(pb)).GetProperty("left").GetBoolean(), "Bob's page says he left", 10);
        await Wait.UntilAsync(async () => await pa.Locator(".tile .name", new() { HasTextString = "Bob" }).CountAsync() == 0, "Bob's tile gone from Alice's grid");

        var kick = await f.Api.PostAsJsonAsync($"{f.AppPath}/meetings/{meeting}/active-session/kick", new { custom_participant_ids = new[] { "carol" } }, TestContext.Current.CancellationToken);
        kick.EnsureSuccessStatusCode();
        await Wait.UntilAsync(async () => (await StateAsync(pc)).GetProperty("kicked").GetBoolean(), "Carol's page told she was removed", 10);
        Assert.Contains("removed", await pc.Locator("#notice").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(1, (await f.GetAsync($"/meetings/{meeting}/active-session"))!["live_participants"]!.GetValue<int>());
        Assert.True((await StateAsync(pa)).GetProperty("joined").GetBoolean());
        foreach (var p in new[] { pa, pb, pc })
        {
            await p.Context.CloseAsync();
        }
    }

    [Fact]
    public async Task KickAll_EndsTheSession_AndDisconnectsEveryone()
    {
        var meeting = await f.NewMeetingAsync(new { title = "Kick all", record_on_start = true });
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        var pa = await f.OpenAsync(alice.Token);
        var pb = await f.OpenAsync(bob.Token);
        await JoinedAsync(pa, "Alice");
        await JoinedAsync(pb, "Bob");
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == 2, "2 live participants");
        var sessionId = (await f.GetAsync($"/meetings/{meeting}/active-session"))!["id"]!.GetValue<string>();

        // record_on_start: the session start invoked a recording with no caller.
        var recording = await f.GetAsync($"/recordings/active-recording/{meeting}");
        Assert.NotNull(recording);
        var full = await f.GetAsync($"/recordings/{recording!["id"]}");
        Assert.Equal("RECORD_ON_START", full!["start_reason"]!["reason"]!.GetValue<string>());
        Assert.Null(full["start_reason"]!["caller"]);

        var r = await f.Api.PostAsync($"{f.AppPath}/meetings/{meeting}/active-session/kick-all", null, TestContext.Current.CancellationToken);
        r.EnsureSuccessStatusCode();
        await Wait.UntilAsync(async () => (await StateAsync(pa)).GetProperty("ended").GetBoolean() && (await StateAsync(pb)).GetProperty("ended").GetBoolean(), "both pages told the meeting ended", 10);
        Assert.Equal("ENDED", (await f.GetAsync($"/sessions/{sessionId}"))!["status"]!.GetValue<string>());
        Assert.Null(await f.GetAsync($"/meetings/{meeting}/active-session"));
        Assert.Equal("ALL_PEERS_LEFT", (await f.GetAsync($"/recordings/{recording["id"]}"))!["stop_reason"]!["reason"]!.GetValue<string>());
        await pa.Context.CloseAsync();
        await pb.Context.CloseAsync();
    }

    [Fact]
    public async Task RecorderView_ReceivesEveryPublisherIncludingLaterOnes_AndStaysHidden()
    {
        var meeting = await f.NewMeetingAsync(new { title = "Recorded" });
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var bob = await f.AddParticipantAsync(meeting, "Bob");
        var recorder = await f.AddParticipantAsync(meeting, "Recorder", Presets.Recorder);
        var pa = await f.OpenAsync(alice.Token);
        var pb = await f.OpenAsync(bob.Token);
        await JoinedAsync(pa, "Alice");
        await JoinedAsync(pb, "Bob");
        var rec = await f.OpenAsync(recorder.Token, 1280, 720);
        await JoinedAsync(rec, "recorder");
        Assert.True((await StateAsync(rec)).GetProperty("recorder").GetBoolean());

        await Wait.UntilAsync(async () => await rec.EvaluateAsync<bool>("() => window.capstanRecorder.ready"), "recorder ready");
        await DecodingRisesAsync(rec, "Alice");
        await DecodingRisesAsync(rec, "Bob");
        Assert.Equal(2, await rec.Locator(".tile").CountAsync());
        Assert.Equal(0, await rec.Locator("#controls:visible").CountAsync());
        Assert.Equal(2, await rec.Locator("audio").CountAsync());

        // A later publisher reaches the recorder too.
        var carol = await f.AddParticipantAsync(meeting, "Carol");
        var pc = await f.OpenAsync(carol.Token);
        await JoinedAsync(pc, "Carol");
        await DecodingRisesAsync(rec, "Carol");
        await Wait.UntilAsync(async () => await rec.Locator(".tile").CountAsync() == 3, "3 tiles in the recorder grid");

        // Hidden: not counted, not listed, not shown to participants.
        var session = await f.GetAsync($"/meetings/{meeting}/active-session");
        Assert.Equal(3, session!["live_participants"]!.GetValue<int>());
        var peers = (await f.GetAsync($"/sessions/{session["id"]}/participants"))!["participants"]!.AsArray();
        Assert.DoesNotContain(peers, p => p!["custom_participant_id"]!.GetValue<string>() == "recorder");
        Assert.Equal(0, await pa.Locator(".tile .name", new() { HasTextString = "Recorder" }).CountAsync());

        // The grid fills the 16:9 window: three tiles in two rows of 16:9.
        var boxes = await rec.Locator(".tile").EvaluateAllAsync<double[][]>("els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })");
        Assert.All(boxes, b => Assert.InRange(b[2] / b[3], 1.76, 1.80));
        Assert.All(boxes, b => Assert.InRange(b[2], 600, 640));
        await rec.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Path.GetTempPath(), "capstan-recorder-view.png") });
        foreach (var p in new[] { pa, pb, pc, rec })
        {
            await p.Context.CloseAsync();
        }
    }

    [Fact]
    public async Task RecorderView_WithNobodyPublishing_IsReadyOnANeutralBackground()
    {
        var meeting = await f.NewMeetingAsync();
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var pa = await f.OpenAsync(alice.Token);
        await JoinedAsync(pa, "Alice");
        await pa.ClickAsync("#cam");
        var recorder = await f.AddParticipantAsync(meeting, "Recorder", Presets.Recorder);
        var rec = await f.OpenAsync(recorder.Token, 640, 360);
        await Wait.UntilAsync(async () => await rec.EvaluateAsync<bool>("() => window.capstanRecorder.ready"), "recorder ready");
        await pa.ClickAsync("#leave");
        await Wait.UntilAsync(async () => await rec.Locator(".tile").CountAsync() == 0, "no tiles once nobody publishes", 40);
        await pa.Context.CloseAsync();
        var png = await rec.ScreenshotAsync();
        Assert.True(png.Length > 0);
        Assert.Equal("rgb(31, 35, 41)", await rec.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor"));
        await rec.Context.CloseAsync();
    }
}
