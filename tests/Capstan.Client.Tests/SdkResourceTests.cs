using Capstan.Client.Models;
using Capstan.Client.Tests.Infrastructure;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Client.Tests;

/// <summary>Every SDK resource against the live server.</summary>
public sealed class SdkResourceTests(ClientServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Apps_PostThenGet_ListsItAndAutoPagesEveryApp()
    {
        var (_, client, _) = await server.NewClientAsync();
        using var _c = client;
        var created = await client.RealtimeKit.Apps.PostAsync(new CreateAppOptions { Name = "second" }, Ct);
        Assert.Equal("second", created.Name);
        var page = await client.RealtimeKit.Apps.GetAsync(new AppListOptions { PerPage = 1, SortOrder = "ASC" }, Ct);
        Assert.Single(page.Data);
        Assert.Equal(2, page.Paging.TotalCount);
        Assert.True(page.HasMore);
        var all = await client.RealtimeKit.Apps.GetAutoPagingAsync(new AppListOptions { PerPage = 1 }, Ct).ToListAsync(Ct);
        Assert.Equal(2, all.Count);
        Assert.Contains(all, a => a.Id == created.Id);
    }

    [Fact]
    public async Task Meetings_CreateGetUpdateReplace_RoundTripTheFields()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var m = client.RealtimeKit.Meetings;
        var created = await m.CreateAsync(app, new CreateMeetingOptions
        {
            Title = "Weekly",
            SessionKeepAliveTimeInSecs = 120,
            RecordingConfig = new RecordingConfig { VideoConfig = new VideoConfig { Codec = "VP8" }, MaxSeconds = 600 },
        }, Ct);
        Assert.Equal(MeetingStatus.Active, created.Status);
        Assert.Equal(120, created.SessionKeepAliveTimeInSecs);
        Assert.Equal("VP8", created.RecordingConfig?.VideoConfig?.Codec);

        var got = await m.GetMeetingByIdAsync(app, created.Id, Ct);
        Assert.Equal("Weekly", got.Title);
        var updated = await m.UpdateMeetingByIdAsync(app, created.Id, new UpdateMeetingOptions { Status = MeetingStatus.Inactive }, Ct);
        Assert.Equal(MeetingStatus.Inactive, updated.Status);
        Assert.Equal("Weekly", updated.Title);
        var replaced = await m.ReplaceMeetingByIdAsync(app, created.Id, new ReplaceMeetingOptions { Title = "Renamed" }, Ct);
        Assert.Equal("Renamed", replaced.Title);

        var search = await m.GetAsync(app, new MeetingListOptions { Search = "renamed" }, Ct);
        Assert.Equal(created.Id, Assert.Single(search).Id);
    }

    [Fact]
    public async Task Participants_AddListGetEditRefreshDelete()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var m = client.RealtimeKit.Meetings;
        var meeting = await m.CreateAsync(app, new CreateMeetingOptions { Title = "p" }, Ct);
        var p = await m.AddParticipantAsync(app, meeting.Id, new AddParticipantOptions { CustomParticipantId = "alice", PresetName = "group_call_host", Name = "Alice" }, Ct);
        Assert.False(string.IsNullOrEmpty(p.Token));
        Assert.Equal(3, p.Token!.Split('.').Length);

        var listed = await m.GetMeetingParticipantsAsync(app, meeting.Id, cancellationToken: Ct);
        Assert.Equal(p.Id, Assert.Single(listed).Id);
        Assert.Null(listed[0].Token);
        var got = await m.GetMeetingParticipantAsync(app, meeting.Id, p.Id, Ct);
        Assert.Equal("alice", got.CustomParticipantId);

        var edited = await m.EditParticipantAsync(app, meeting.Id, p.Id, new EditParticipantOptions { Name = "Alice B", PresetName = "group_call_participant" }, Ct);
        Assert.Equal("Alice B", edited.Name);
        Assert.Equal("group_call_participant", edited.PresetName);
        Assert.NotNull(edited.Token);

        var refreshed = await m.RefreshParticipantTokenAsync(app, meeting.Id, p.Id, Ct);
        Assert.NotEqual(p.Token, refreshed.Token);

        var deleted = await m.DeleteMeetingParticipantAsync(app, meeting.Id, p.Id, Ct);
        Assert.Equal("alice", deleted.CustomParticipantId);
        Assert.False(string.IsNullOrEmpty(deleted.PresetId));
        Assert.Empty(await m.GetMeetingParticipantsAsync(app, meeting.Id, cancellationToken: Ct));
    }

    [Fact]
    public async Task Presets_ListsTheBuiltInsWithDetails()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var presets = await client.RealtimeKit.Presets.GetAutoPagingAsync(app, new PresetListOptions { PerPage = 2 }, Ct).ToListAsync(Ct);
        Assert.Equal(["group_call_host", "group_call_participant", "recorder_preset_v2"], presets.Select(p => p.Name).Order().ToArray());
        var recorder = await client.RealtimeKit.Presets.GetPresetByIdAsync(app, presets.Single(p => p.Name == "recorder_preset_v2").Id, Ct);
        Assert.True(recorder.Permissions.GetProperty("hidden_participant").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Object, recorder.Config.ValueKind);
    }

    [Fact]
    public async Task Sessions_ActiveSessionTrackRecordingAndKicks()
    {
        var (account, client, app) = await server.NewClientAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = "live" }, Ct);
        // Presence as the media layer records it when Janus reports joins (no Janus in this suite).
        var (sessionId, peerA, _) = await Presence.JoinAsync(server, account, Guid.Parse(meeting.Id), "alice");
        await Presence.JoinAsync(server, account, Guid.Parse(meeting.Id), "bob");

        var active = await client.RealtimeKit.ActiveSession.GetActiveSessionAsync(app, meeting.Id, Ct);
        Assert.Equal(sessionId.ToString("D"), active.Id);
        Assert.Equal("LIVE", active.Status);
        Assert.Equal(2, active.LiveParticipants);

        var sessions = await client.RealtimeKit.Sessions.GetSessionsAsync(app, new SessionListOptions { AssociatedId = meeting.Id }, Ct);
        Assert.Equal(active.Id, Assert.Single(sessions).Id);
        Assert.Equal(active.Id, (await client.RealtimeKit.Sessions.GetSessionDetailsAsync(app, active.Id, Ct)).Id);
        var peers = await client.RealtimeKit.Sessions.GetSessionParticipantsAsync(app, active.Id, new SessionParticipantListOptions { IncludePeerEvents = true }, Ct);
        Assert.Equal(2, peers.Count);
        Assert.NotEmpty(peers[0].PeerEvents!);
        var one = await client.RealtimeKit.Sessions.GetSessionParticipantDetailsAsync(app, active.Id, peerA.ToString("D"), cancellationToken: Ct);
        Assert.Equal("alice", one.CustomParticipantId);

        var track = await client.RealtimeKit.Recordings.StartTrackRecordingAsync(app, new StartTrackRecordingOptions
        {
            MeetingId = meeting.Id,
            Layers = new Dictionary<string, TrackLayer> { ["default"] = new() { MediaKind = "audio", FileNamePrefix = "speaker" } },
        }, Ct);
        Assert.Equal("TRACK", track.Type);
        Assert.Equal(RecordingStatus.Invoked, track.Status);

        var kicked = await client.RealtimeKit.ActiveSession.KickParticipantsAsync(app, meeting.Id, new KickParticipantsOptions { CustomParticipantIds = ["alice"] }, Ct);
        Assert.Equal("alice", Assert.Single(kicked.Participants).CustomParticipantId);
        var all = await client.RealtimeKit.ActiveSession.KickAllParticipantsAsync(app, meeting.Id, Ct);
        Assert.Equal("bob", Assert.Single(all.Participants).CustomParticipantId);
        var e = await Assert.ThrowsAsync<CapstanApiException>(() => client.RealtimeKit.ActiveSession.GetActiveSessionAsync(app, meeting.Id, Ct));
        Assert.Equal(404, (int)e.StatusCode);
    }

    [Fact]
    public async Task Recordings_StartGetActiveListStop()
    {
        var (account, client, app) = await server.NewClientAsync();
        using var _c = client;
        var r = client.RealtimeKit.Recordings;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = "rec" }, Ct);
        var started = await r.StartRecordingsAsync(app, new StartRecordingOptions
        {
            MeetingId = meeting.Id,
            VideoConfig = new VideoConfig { Codec = "H264", Width = 640, Height = 360 },
            AudioConfig = new AudioConfig { Codec = "AAC" },
            FileNamePrefix = "sdk",
            MaxSeconds = 120,
        }, Ct);
        Assert.Equal(RecordingStatus.Invoked, started.Status);
        Assert.StartsWith("sdk_rec_", started.OutputFileName, StringComparison.Ordinal);
        Assert.Equal("API_CALL", started.StartReason?.Reason);
        Assert.Equal("ORGANIZATION", started.StartReason?.Caller?.Type);

        Assert.Equal(started.Id, (await r.GetOneRecordingAsync(app, started.Id, Ct)).Id);
        Assert.Equal(started.Id, (await r.GetActiveRecordingsAsync(app, meeting.Id, Ct)).Id);
        var listed = await r.GetRecordingsAsync(app, new RecordingListOptions { MeetingId = meeting.Id, Status = [RecordingStatus.Invoked, RecordingStatus.Recording] }, Ct);
        Assert.Equal(started.Id, Assert.Single(listed).Id);
        Assert.Equal(meeting.Id, listed[0].Meeting?.Id);

        // An INVOKED recording stops at once (nothing captured: ERRORED); the recorder's part (RECORDING, pause,
        // resume, UPLOADED, download) runs against the real recorder in tests/Capstan.Media.Tests/ClientMediaTests.cs.
        var stopped = await r.StopAsync(app, started.Id, Ct);
        Assert.Equal(RecordingStatus.Errored, stopped.Status);
    }

    [Fact]
    public async Task Webhooks_CreateGetEditReplaceListDelete()
    {
        var (_, client, app) = await server.NewClientAsync();
        using var _c = client;
        var w = client.RealtimeKit.Webhooks;
        var created = await w.CreateWebhookAsync(app, new CreateWebhookOptions { Name = "h", Url = "https://example.com/hook", Events = [WebhookEvents.RecordingStatusUpdate] }, Ct);
        Assert.True(created.Enabled);
        Assert.Equal(created.Id, (await w.GetWebhookByIdAsync(app, created.Id, Ct)).Id);
        var edited = await w.EditWebhookAsync(app, created.Id, new EditWebhookOptions { Enabled = false }, Ct);
        Assert.False(edited.Enabled);
        var replaced = await w.ReplaceWebhookAsync(app, created.Id, new CreateWebhookOptions { Name = "h2", Url = "https://example.com/two", Events = [WebhookEvents.MeetingStarted, WebhookEvents.MeetingEnded] }, Ct);
        Assert.Equal(["meeting.started", "meeting.ended"], replaced.Events);
        Assert.Equal(created.Id, Assert.Single(await w.GetWebhooksAsync(app, Ct)).Id);
        Assert.Empty(await w.GetDeliveriesAsync(app, created.Id, cancellationToken: Ct));
        Assert.Equal("h2", (await w.DeleteWebhookAsync(app, created.Id, Ct)).Name);
        Assert.Empty(await w.GetWebhooksAsync(app, Ct));
    }

    internal static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {seconds} s; last: {value}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>An <see cref="IProgress{T}"/> that records on the reporting thread.</summary>
internal sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}
