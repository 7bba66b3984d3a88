using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Cli;
using Capstan.Client.Models;
using Capstan.Client.Tests.Infrastructure;

namespace Capstan.Client.Tests;

/// <summary>The <c>capstan rtk</c> CLI against the live server: output formats, live status, downloads and exit codes.</summary>
public sealed class CliTests(ClientServer server)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(Dictionary<string, string> Env, CapstanClient Client, string App, Server.Tests.Infrastructure.TestAccount Account)> SetupAsync()
    {
        var (account, client, app) = await server.NewClientAsync();
        return (server.CliVariables(account), client, app, account);
    }

    [Fact]
    public async Task Meetings_CreateAndList_InEachFormat()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        var id = await CliRunner.RunAsync(env, "rtk", "meetings", "create", "--title", "Weekly sync", "--output", "id");
        Assert.True(id.ExitCode == 0, id.ToString());
        var meetingId = id.Out.Trim();
        Assert.Equal("Weekly sync", (await client.RealtimeKit.Meetings.GetMeetingByIdAsync(app, meetingId, Ct)).Title);

        var table = await CliRunner.RunAsync(env, "rtk", "meetings", "list");
        Assert.Equal(0, table.ExitCode);
        Assert.Contains(meetingId, table.Out, StringComparison.Ordinal);
        Assert.Contains("Weekly sync", table.Out, StringComparison.Ordinal);
        Assert.Contains("TITLE", table.Out, StringComparison.Ordinal);
        Assert.Contains("1-1 of 1", table.Out, StringComparison.Ordinal);

        var json = await CliRunner.RunAsync(env, "rtk", "meetings", "list", "-o", "json");
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(meetingId, doc.RootElement[0].GetProperty("id").GetString());
        Assert.Equal("ACTIVE", doc.RootElement[0].GetProperty("status").GetString());
    }

    [Fact]
    public async Task MeetingsList_All_FollowsEveryPage()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        for (var i = 0; i < 3; i++)
        {
            await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = $"m{i}" }, Ct);
        }
        var page = await CliRunner.RunAsync(env, "rtk", "meetings", "list", "--per-page", "2");
        Assert.Contains("1-2 of 3 (next: --page 2, or --all)", page.Out, StringComparison.Ordinal);
        var all = await CliRunner.RunAsync(env, "rtk", "meetings", "list", "--per-page", "2", "--all", "-o", "id");
        Assert.Equal(3, all.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().Count());
    }

    [Fact]
    public async Task ParticipantsAdd_PrintsTheTokenAndJoinLink()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, cancellationToken: Ct);
        var r = await CliRunner.RunAsync(env, "rtk", "participants", "add", meeting.Id, "--custom-id", "alice", "--name", "Alice");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("/meeting?authToken=ey", r.Out, StringComparison.Ordinal);
        var p = Assert.Single(await client.RealtimeKit.Meetings.GetMeetingParticipantsAsync(app, meeting.Id, cancellationToken: Ct));
        Assert.Equal("Alice", p.Name);
        Assert.Equal("group_call_host", p.PresetName);
    }

    [Fact]
    public async Task Recordings_StartGetListStop_AndWaitOnTheStoppedOneExits7()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = "cli" }, Ct);
        var start = await CliRunner.RunAsync(env, "rtk", "recordings", "start", meeting.Id, "--codec", "VP8", "--max-seconds", "120", "-o", "json");
        Assert.True(start.ExitCode == 0, start.ToString());
        var id = JsonDocument.Parse(start.Out).RootElement.GetProperty("id").GetString()!;

        var get = await CliRunner.RunAsync(env, "rtk", "recordings", "get", id);
        Assert.Contains("INVOKED", get.Out, StringComparison.Ordinal);
        Assert.Contains(".webm", get.Out, StringComparison.Ordinal);
        var list = await CliRunner.RunAsync(env, "rtk", "recordings", "list", "--status", "INVOKED,RECORDING", "-o", "id");
        Assert.Equal(id, list.Out.Trim());
        Assert.Equal(string.Empty, (await CliRunner.RunAsync(env, "rtk", "recordings", "list", "--status", "UPLOADED", "-o", "id")).Out);

        var conflict = await CliRunner.RunAsync(env, "rtk", "recordings", "start", meeting.Id);
        Assert.Equal(ExitCodes.Refused, conflict.ExitCode);
        Assert.Contains("HTTP 409", conflict.Error, StringComparison.Ordinal);

        var stop = await CliRunner.RunAsync(env, "rtk", "recordings", "stop", id);
        Assert.Equal(0, stop.ExitCode);
        Assert.Contains("ERRORED", stop.Out, StringComparison.Ordinal);
        var wait = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", id);
        Assert.Equal(ExitCodes.RecordingErrored, wait.ExitCode);
        Assert.Contains("ERRORED", wait.Error, StringComparison.Ordinal);
        var download = await CliRunner.RunAsync(env, "rtk", "recordings", "download", id);
        Assert.Equal(ExitCodes.RecordingErrored, download.ExitCode);
        var pause = await CliRunner.RunAsync(env, "rtk", "recordings", "pause", id);
        Assert.Equal(ExitCodes.Refused, pause.ExitCode);
        Assert.Contains("ERRORED", pause.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wait_WhileInvoked_ShowsTheLiveStatus_ThenTimesOutWith8()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, cancellationToken: Ct);
        var r = await client.RealtimeKit.Recordings.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting.Id }, Ct);
        var wait = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", r.Id, "--timeout", "700ms", "--interval", "100ms");
        Assert.Equal(ExitCodes.Timeout, wait.ExitCode);
        // Not a terminal: one plain line per status, with the elapsed time.
        Assert.Matches(@"^INVOKED\s+elapsed \d\d:\d\d\n$", wait.Out.ReplaceLineEndings("\n"));
        Assert.Contains("timed out after 00:00: the recording is still INVOKED", wait.Error, StringComparison.Ordinal);
        var json = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", r.Id, "--timeout", "300ms", "--interval", "100ms", "-o", "json");
        Assert.Equal(ExitCodes.Timeout, json.ExitCode);
        Assert.Equal(string.Empty, json.Out);
        Assert.Contains("INVOKED", json.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExitCodes_SayWhatFailed()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        Assert.Equal(ExitCodes.NotFound, (await CliRunner.RunAsync(env, "rtk", "recordings", "get", Guid.NewGuid().ToString())).ExitCode);
        Assert.Equal(ExitCodes.Auth, (await CliRunner.RunAsync(new Dictionary<string, string>(env) { ["CAPSTAN_TOKEN"] = "cap_wrong" }, "rtk", "meetings", "list")).ExitCode);
        var missing = await CliRunner.RunAsync(new Dictionary<string, string>(), "rtk", "meetings", "list");
        Assert.Equal(ExitCodes.Usage, missing.ExitCode);
        Assert.Contains("CAPSTAN_URL", missing.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, (await CliRunner.RunAsync(env, "rtk", "recordings", "frobnicate")).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await CliRunner.RunAsync(env, "rtk", "recordings", "start")).ExitCode);
        var bad = await CliRunner.RunAsync(env, "rtk", "recordings", "start", Guid.NewGuid().ToString(), "--max-seconds", "5");
        Assert.Equal(ExitCodes.Refused, bad.ExitCode);
        Assert.Contains("max_seconds", bad.Error, StringComparison.Ordinal);
        // Flags override the environment: an unreachable server is a server/network failure.
        var closed = await CliRunner.RunAsync(env, "rtk", "meetings", "list", "--url", "http://127.0.0.1:9");
        Assert.Equal(ExitCodes.Server, closed.ExitCode);
        Assert.Contains("cannot reach the server", closed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebhooksList_ShowsTheSubscriptions()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        var hook = await client.RealtimeKit.Webhooks.CreateWebhookAsync(app, new CreateWebhookOptions { Name = "ops", Url = "https://example.com/h", Events = [WebhookEvents.RecordingStatusUpdate] }, Ct);
        var table = await CliRunner.RunAsync(env, "rtk", "webhooks", "list");
        Assert.Contains("recording.statusUpdate", table.Out, StringComparison.Ordinal);
        var json = await CliRunner.RunAsync(env, "rtk", "webhooks", "list", "-o", "json");
        Assert.Equal(hook.Id, JsonDocument.Parse(json.Out).RootElement[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task AsAProcess_ReadsTheEnvironment_AndExitsWithTheCode()
    {
        var (env, client, app, _) = await SetupAsync();
        using var _c = client;
        var meeting = await client.RealtimeKit.Meetings.CreateAsync(app, new CreateMeetingOptions { Title = "proc" }, Ct);
        var ok = await CliRunner.ProcessAsync("dotnet", [CliRunner.DllPath, "rtk", "meetings", "list", "-o", "json"], env, Path.GetTempPath());
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal(meeting.Id, JsonDocument.Parse(ok.Out).RootElement[0].GetProperty("id").GetString());
        var missing = await CliRunner.ProcessAsync("dotnet", [CliRunner.DllPath, "rtk", "recordings", "get", Guid.NewGuid().ToString()], env, Path.GetTempPath());
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.StartsWith("error: No recording found", missing.Error, StringComparison.Ordinal);
    }
}
