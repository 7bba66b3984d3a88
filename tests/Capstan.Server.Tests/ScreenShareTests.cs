using System.Net;
using System.Text.Json.Nodes;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>Screen share rules: who may share (the preset's <c>screenshare.can_produce</c>), how many at once
/// (<c>max_screenshare_count</c>), the share feed's display marker, and the page's <c>/meeting-api/screenshare</c>.</summary>
public sealed class ScreenShareTests(SqliteServer server) : IClassFixture<SqliteServer>
{
    private static readonly Guid Meeting = Guid.NewGuid(), Alice = Guid.NewGuid(), Bob = Guid.NewGuid();

    [Fact]
    public void Presets_HostAndParticipantMayShareOne_RecorderNone()
    {
        Assert.True(Presets.CanShareScreen(Presets.Host));
        Assert.True(Presets.CanShareScreen(Presets.Participant));
        Assert.False(Presets.CanShareScreen(Presets.Recorder));
        Assert.False(Presets.CanShareScreen("admin"));
        Assert.Equal([1, 1, 0], Presets.Names.Select(Presets.MaxScreenshareCount));
        var permissions = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(Presets.Permissions(Presets.Recorder)))!;
        Assert.Equal("NOT_ALLOWED", permissions["media"]!["screenshare"]!["can_produce"]!.GetValue<string>());
        var config = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(Presets.Config(Presets.Participant)))!;
        Assert.Equal(1, config["max_screenshare_count"]!.GetValue<int>());
    }

    /// <summary>Janus's events for a share feed (which may come after the share stopped) are told apart from a
    /// camera's by the granted feeds (<see cref="ScreenShares.GrantOf"/>), kept until the meeting's room goes.</summary>
    [Fact]
    public void GrantedFeeds_OutliveTheirSlots_UntilTheRoomIsForgotten()
    {
        var shares = new ScreenShares(new FakeTimeProvider());
        var meeting = Guid.NewGuid();
        var first = shares.Grant(meeting, Alice, Presets.Participant, "Alice", null);
        Assert.True(shares.Release(meeting, Alice));
        var second = shares.Grant(meeting, Alice, Presets.Participant, "Alice", null);
        Assert.Equal([second.FeedId], shares.Feeds(meeting));
        var granted = shares.GrantedFeeds(meeting);
        Assert.Equal(2, granted.Count);
        Assert.Equal(Alice, granted[first.FeedId]);
        Assert.Equal(Alice, granted[second.FeedId]);
        Assert.Empty(shares.GrantedFeeds(Guid.NewGuid()));
        Assert.Equal((meeting, Alice), shares.GrantOf(first.FeedId));
        Assert.Null(shares.GrantOf(first.FeedId + 1));
        shares.Forget(meeting);
        Assert.Empty(shares.GrantedFeeds(meeting));
        Assert.Null(shares.GrantOf(second.FeedId));
    }

    [Fact]
    public void Grant_RecorderIsRefused_WithThePreset()
    {
        var shares = new ScreenShares(new FakeTimeProvider());
        var e = Assert.Throws<CapstanException>(() => shares.Grant(Meeting, Alice, Presets.Recorder, "Rec", null));
        Assert.Equal((ErrorCategory.Forbidden, "screenshare_not_allowed"), (e.Category, e.Code));
        Assert.Contains("recorder_preset_v2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Grant_SecondSharer_IsRefusedNamingTheFirst_UntilTheFirstStops()
    {
        var shares = new ScreenShares(new FakeTimeProvider());
        var first = shares.Grant(Meeting, Alice, Presets.Host, "Alice", null);
        Assert.True(ScreenShares.IsShareDisplay(first.Display));
        Assert.Contains("\"name\":\"Alice\"", first.Display, StringComparison.Ordinal);

        var e = Assert.Throws<CapstanException>(() => shares.Grant(Meeting, Bob, Presets.Participant, "Bob", null));
        Assert.Equal((ErrorCategory.Conflict, "screenshare_limit"), (e.Category, e.Code));
        Assert.Contains("Alice is already sharing a screen", e.Message, StringComparison.Ordinal);
        Assert.Contains("1 screen share at a time", e.Message, StringComparison.Ordinal);
        Assert.Equal("already_sharing", Assert.Throws<CapstanException>(() => shares.Grant(Meeting, Alice, Presets.Host, "Alice", null)).Code);

        // Another meeting is not affected.
        shares.Grant(Guid.NewGuid(), Bob, Presets.Participant, "Bob", null);

        Assert.True(shares.Release(Meeting, Alice));
        Assert.False(shares.Release(Meeting, Alice));
        var second = shares.Grant(Meeting, Bob, Presets.Participant, "Bob", null);
        Assert.NotEqual(first.FeedId, second.FeedId);
        Assert.Equal([second.FeedId], shares.Feeds(Meeting));
    }

    [Fact]
    public void Grant_ASlotWhoseFeedIsNotPublishing_CountsOnlyForTheGrace()
    {
        var time = new FakeTimeProvider();
        var shares = new ScreenShares(time);
        var first = shares.Grant(Meeting, Alice, Presets.Host, "Alice", null);

        // Within the grace the page is still setting up its share: it counts.
        time.Advance(ScreenShares.PublishGrace - TimeSpan.FromSeconds(1));
        Assert.Throws<CapstanException>(() => shares.Grant(Meeting, Bob, Presets.Participant, "Bob", new HashSet<long>()));

        // Publishing in Janus: it counts however old.
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Throws<CapstanException>(() => shares.Grant(Meeting, Bob, Presets.Participant, "Bob", new HashSet<long> { first.FeedId }));

        // Janus could not be asked (null): nothing is dropped.
        Assert.Throws<CapstanException>(() => shares.Grant(Meeting, Bob, Presets.Participant, "Bob", null));

        // Gone from Janus after the grace (a page that closed): the slot is free.
        shares.Grant(Meeting, Bob, Presets.Participant, "Bob", new HashSet<long>());
    }

    [Theory]
    [InlineData("""{"screenshare":true,"name":"A"}""", true)]
    [InlineData("""{"screenshare":false}""", false)]
    [InlineData("""{"screenshare":"yes"}""", false)]
    [InlineData("{not json", false)]
    [InlineData("Alice", false)]
    [InlineData(null, false)]
    public void IsShareDisplay_OnlyTheMarker(string? display, bool expected) => Assert.Equal(expected, ScreenShares.IsShareDisplay(display));

    [Fact]
    public void NameOf_AShare_IsTheSharersNameAndScreen_OtherwiseTheDisplay()
    {
        Assert.Equal("Alice (screen)", ScreenShares.NameOf(ScreenShares.Display(Alice, "Alice")));
        Assert.Equal("Alice", ScreenShares.NameOf("Alice"));
        Assert.Equal("{not json", ScreenShares.NameOf("{not json"));
    }

    [Fact]
    public void ReleaseAll_GivesBackTheKickedParticipantsSlots_AndTheirFeeds()
    {
        var shares = new ScreenShares(new FakeTimeProvider());
        var grant = shares.Grant(Meeting, Alice, Presets.Host, "Alice", null);
        Assert.Empty(shares.ReleaseAll(Meeting, [Bob]));
        Assert.Equal([grant.FeedId], shares.ReleaseAll(Meeting, [Alice, Bob]));
        Assert.Empty(shares.Feeds(Meeting));
    }

    [Fact]
    public async Task Api_GrantsOneShare_RefusesASecondAndTheRecorder_AndFreesOnStop()
    {
        var account = await server.CreateAccountAsync();
        using var api = account.Client();
        var meeting = (await api.PostJsonAsync($"{account.AppPath}/meetings", new { title = "share" })).Data(HttpStatusCode.Created)["id"]!.GetValue<string>();
        async Task<string> TokenAsync(string name, string preset) =>
            (await api.PostJsonAsync($"{account.AppPath}/meetings/{meeting}/participants", new { custom_participant_id = name, preset_name = preset, name }))
                .Data(HttpStatusCode.Created)["token"]!.GetValue<string>();
        var alice = await TokenAsync("Alice", Presets.Host);
        var bob = await TokenAsync("Bob", Presets.Participant);
        var recorder = await TokenAsync("Rec", Presets.Recorder);
        using var page = server.Client();
        Task<(HttpStatusCode, JsonNode, HttpResponseMessage)> Share(string token, string action) =>
            page.PostJsonAsync("/meeting-api/screenshare", new { auth_token = token, action });

        var granted = (await Share(alice, "start")).Data();
        Assert.True(granted["feed_id"]!.GetValue<long>() > 0);
        Assert.True(ScreenShares.IsShareDisplay(granted["display"]!.GetValue<string>()));
        Assert.True(granted["sharing"]!.GetValue<bool>());

        (await Share(bob, "start")).Error(HttpStatusCode.Conflict, "Alice is already sharing a screen");
        (await Share(recorder, "start")).Error(HttpStatusCode.Forbidden, "not allowed for your preset (recorder_preset_v2)");
        (await Share(alice, "dance")).Error(HttpStatusCode.BadRequest, "action must be 'start' or 'stop'");
        (await Share("not-a-token", "start")).Error(HttpStatusCode.Unauthorized, "not valid");

        Assert.False((await Share(alice, "stop")).Data()["sharing"]!.GetValue<bool>());
        Assert.True((await Share(bob, "start")).Data()["feed_id"]!.GetValue<long>() > 0);
    }
}
