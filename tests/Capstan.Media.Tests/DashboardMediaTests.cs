using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Capstan.Media.Tests;

/// <summary>The dashboard (<c>/dashboard</c>) in headless Chromium against a live server with Janus and the recorder.
/// Each test signs in with an account, token and app of its own. The sign-in steps, the path and the control names
/// come from the README's "Dashboard" section (between the <c>dashboard-steps</c> markers), so a README that
/// describes the page wrongly fails here.</summary>
public sealed partial class DashboardMediaTests(MediaFixture f) : IClassFixture<MediaFixture>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    /// <summary>An account with its own API token and app, and an API client for it.</summary>
    private sealed record Tenant(string AccountId, Guid AppId, string Token, HttpClient Api) : IDisposable
    {
        public string AppPath => $"/client/v4/accounts/{AccountId}/realtime/kit/{AppId:D}";

        public async Task<string> NewMeetingAsync(string title)
        {
            var r = await Api.PostAsJsonAsync($"{AppPath}/meetings", new { title }, TestContext.Current.CancellationToken);
            Assert.Equal(System.Net.HttpStatusCode.Created, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!["data"]!["id"]!.GetValue<string>();
        }

        public async Task<JsonNode> GetAsync(string path)
        {
            using var r = await Api.GetAsync(AppPath + path, TestContext.Current.CancellationToken);
            var body = (await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken))!;
            Assert.True(r.IsSuccessStatusCode, body.ToJsonString());
            return body["data"]!;
        }

        public void Dispose() => Api.Dispose();
    }

    private async Task<Tenant> NewTenantAsync(string appName)
    {
        await using var scope = f.App.Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var account = await accounts.CreateAccountAsync(null, Ct);
        var token = await accounts.CreateTokenAsync(account, null, Ct);
        var app = await accounts.CreateAppAsync(account, appName, null, Ct);
        var api = new HttpClient { BaseAddress = f.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new Tenant(account, app.Id, token, api);
    }

    /// <summary>The README's dashboard steps: the page path (from the URL in backticks) and the control names (in bold), in order.</summary>
    private sealed record ReadmeSteps(string Path, string TokenField, string SignIn, string AppPicker, string MeetingsTab, string StartRecording, string RecordingsTab, string StatusFilter);

    private static ReadmeSteps ReadReadme()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !(File.Exists(Path.Combine(dir.FullName, "README.md")) && File.Exists(Path.Combine(dir.FullName, "Capstan.slnx"))))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        var readme = File.ReadAllText(Path.Combine(dir.FullName, "README.md"));
        var block = StepsBlock().Match(readme);
        Assert.True(block.Success, "README.md has no <!-- dashboard-steps --> ... <!-- /dashboard-steps --> block");
        var url = DashboardUrl().Match(block.Groups[1].Value);
        Assert.True(url.Success, "the README's dashboard steps name no `http://127.0.0.1:8080/...` URL");
        var names = BoldName().Matches(block.Groups[1].Value).Select(m => m.Groups[1].Value).ToList();
        Assert.True(names.Count == 7, "the README's dashboard steps should name 7 controls in bold, found: " + string.Join(", ", names));
        return new ReadmeSteps(url.Groups[1].Value, names[0], names[1], names[2], names[3], names[4], names[5], names[6]);
    }

    private async Task<IPage> OpenDashboardAsync(int width = 1280, int height = 800)
    {
        var context = await f.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height }, AcceptDownloads = true });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        await page.GotoAsync(new Uri(f.BaseUrl, ReadReadme().Path).ToString());
        return page;
    }

    private static async Task SignInAsync(IPage page, Tenant tenant)
    {
        var steps = ReadReadme();
        await page.GetByLabel(steps.TokenField, new() { Exact = true }).FillAsync(tenant.Token);
        await page.GetByRole(AriaRole.Button, new() { Name = steps.SignIn, Exact = true }).ClickAsync();
        await Expect(page.Locator("#account")).ToHaveTextAsync(tenant.AccountId);
    }

    private static ILocator Tab(IPage page, string name) =>
        page.GetByRole(AriaRole.Navigation, new() { Name = "Sections" }).GetByRole(AriaRole.Link, new() { Name = name, Exact = true });

    private static ILocator RowsOf(IPage page, string table) => page.Locator($"#{table} tbody tr[data-id]");

    [Fact]
    public async Task SignIn_ABadTokenShowsTheApiErrorPlainly_AGoodOneOpensTheAccountsApp_SignOutForgetsIt()
    {
        using var tenant = await NewTenantAsync("Dashboard sign-in app");
        var steps = ReadReadme();
        var page = await OpenDashboardAsync();

        await page.GetByLabel(steps.TokenField, new() { Exact = true }).FillAsync("cap_this-is-not-a-token");
        await page.GetByRole(AriaRole.Button, new() { Name = steps.SignIn, Exact = true }).ClickAsync();
        // The API's error envelope message, as the API wrote it, with the status.
        await Expect(page.Locator("#signin-error")).ToHaveTextAsync("Sign-in failed: invalid API token (HTTP 401)");
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('capstan.dashboard.token')"));
        await Expect(page.Locator("#shell")).ToBeHiddenAsync();

        await SignInAsync(page, tenant);
        await Expect(page.Locator("#signin-error")).ToBeHiddenAsync();
        var app = page.GetByLabel(steps.AppPicker, new() { Exact = true });
        await Expect(app).ToHaveValueAsync(tenant.AppId.ToString("D"));
        await Expect(app.Locator("option")).ToHaveTextAsync([$"Dashboard sign-in app · {tenant.AppId.ToString("D")[..8]}"]);
        await Expect(Tab(page, steps.MeetingsTab)).ToHaveAttributeAsync("aria-current", "page");
        await Expect(page.Locator("#meetings-table")).ToContainTextAsync("No meetings yet.");
        Assert.Equal(tenant.Token, await page.EvaluateAsync<string?>("() => sessionStorage.getItem('capstan.dashboard.token')"));

        // The token lives in this tab's session storage: a reload stays signed in, sign out forgets it.
        await page.ReloadAsync();
        await Expect(page.Locator("#account")).ToHaveTextAsync(tenant.AccountId);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByLabel(steps.TokenField, new() { Exact = true })).ToBeVisibleAsync();
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('capstan.dashboard.token')"));
        await page.ReloadAsync();
        await Expect(page.Locator("#signin")).ToBeVisibleAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task LiveMeeting_JoinedAndRecordedFromThePage_PlaysAndDownloadsTheUploadedFile()
    {
        using var tenant = await NewTenantAsync("Dashboard media app");
        var steps = ReadReadme();
        var meeting = await tenant.NewMeetingAsync("Weekly sync");
        var page = await OpenDashboardAsync();
        await SignInAsync(page, tenant);

        // The meeting is listed without a live session; "Join meeting" opens the meeting page as a host in a new tab.
        var row = page.Locator($"#meetings-table tbody tr[data-id='{meeting}']");
        await Expect(row).ToContainTextAsync("Weekly sync");
        await Expect(row.Locator("td.live")).ToHaveTextAsync("No live session");
        await row.GetByRole(AriaRole.Link, new() { Name = "Weekly sync" }).ClickAsync();
        await Expect(page.Locator("#meeting-h")).ToHaveTextAsync("Weekly sync");
        await Expect(page.Locator("#start-recording")).ToBeDisabledAsync();
        var participant = await page.RunAndWaitForPopupAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Join meeting" }).ClickAsync());
        await participant.WaitForURLAsync(new Regex("/meeting\\?authToken="));
        await Wait.UntilAsync(async () => await participant.EvaluateAsync<bool>("() => window.capstanState && window.capstanState.joined"), "the dashboard's participant joined");

        // The live session shows up with its participant, on the meeting page and in the list.
        await Expect(page.Locator("#live-card [data-live-participants]")).ToHaveAttributeAsync("data-live-participants", "1");
        await Expect(page.Locator("#live-card")).ToContainTextAsync("1 participant");
        await Expect(page.Locator("#live-card")).ToContainTextAsync("Dashboard");
        await Tab(page, steps.MeetingsTab).ClickAsync();
        await Expect(row.Locator("td.live")).ToHaveAttributeAsync("data-live-participants", "1");
        await Expect(row.Locator("td.live")).ToContainTextAsync("LIVE 1 participant");

        // Start from the page (small: 640x360), pause, resume, stop.
        await row.GetByRole(AriaRole.Link, new() { Name = "Weekly sync" }).ClickAsync();
        await page.Locator("#start-size").SelectOptionAsync("640x360");
        await page.Locator("#record-card").GetByRole(AriaRole.Button, new() { Name = steps.StartRecording, Exact = true }).ClickAsync();
        var status = page.Locator("#record-card [data-status]");
        await Expect(status).ToHaveAttributeAsync("data-status", "RECORDING", new() { Timeout = 40_000 });
        await page.Locator("#record-card").GetByRole(AriaRole.Button, new() { Name = "Pause" }).ClickAsync();
        await Expect(status).ToHaveAttributeAsync("data-status", "PAUSED");
        await page.Locator("#record-card").GetByRole(AriaRole.Button, new() { Name = "Resume" }).ClickAsync();
        await Expect(status).ToHaveAttributeAsync("data-status", "RECORDING");
        // The length of the recording (not a synchronisation): a few seconds of the meeting.
        await Task.Delay(3000, Ct);
        await page.Locator("#record-card").GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
        await Expect(page.Locator("#toast")).ToContainTextAsync("Recording stopped");

        // The recordings list follows the status to UPLOADED, with duration and size.
        await Tab(page, steps.RecordingsTab).ClickAsync();
        var recRow = RowsOf(page, "recordings-table");
        await Expect(recRow).ToHaveCountAsync(1);
        await Expect(recRow).ToHaveAttributeAsync("data-status", "UPLOADED", new() { Timeout = 60_000 });
        var id = await recRow.GetAttributeAsync("data-id");
        var rec = await tenant.GetAsync($"/recordings/{id}");
        Assert.Equal("UPLOADED", rec["status"]!.GetValue<string>());
        var seconds = rec["recording_duration"]!.GetValue<long>();
        var size = rec["file_size"]!.GetValue<long>();
        Assert.InRange(seconds, 2, 8);
        await Expect(recRow.Locator("td.duration")).ToHaveTextAsync($"0:{seconds:00}");
        await Expect(recRow.Locator("td.size")).ToHaveAttributeAsync("data-bytes", size.ToString(CultureInfo.InvariantCulture));
        await Expect(recRow.Locator("td.size")).ToHaveTextAsync(new Regex(@"^\d+(\.\d)? (kB|MB)$"));
        await Expect(recRow).ToContainTextAsync("Weekly sync");

        // The status filter narrows the list: nothing ERRORED, the one UPLOADED.
        var statusFilter = page.GetByLabel(steps.StatusFilter, new() { Exact = true });
        await statusFilter.SelectOptionAsync("ERRORED");
        await Expect(page.Locator("#recordings-table")).ToContainTextAsync("No recordings match these filters.");
        await statusFilter.SelectOptionAsync("UPLOADED");
        await Expect(recRow).ToHaveCountAsync(1);

        // The detail page plays the file.
        await recRow.GetByRole(AriaRole.Link, new() { Name = rec["output_file_name"]!.GetValue<string>() }).ClickAsync();
        await Expect(page.Locator("#recording-duration")).ToHaveTextAsync($"0:{seconds:00}");
        await Expect(page.Locator("#recording-size")).ToHaveAttributeAsync("data-bytes", size.ToString(CultureInfo.InvariantCulture));
        await page.WaitForFunctionAsync("() => { const v = document.getElementById('player'); return v && v.readyState >= 2 && v.videoWidth > 0; }");
        Assert.Equal(640, await page.EvaluateAsync<int>("() => document.getElementById('player').videoWidth"));
        await page.EvaluateAsync("() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }");
        await page.WaitForFunctionAsync("() => document.getElementById('player').currentTime > 0.5");

        // The download link gives the file: H.264 640x360, as long and as large as the API says.
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download MP4" }).ClickAsync());
        var file = Path.Combine(Path.GetTempPath(), $"capstan-dashboard-{Guid.NewGuid():N}.mp4");
        await download.SaveAsAsync(file);
        Assert.Equal(rec["output_file_name"]!.GetValue<string>(), download.SuggestedFilename);
        Assert.Equal(size, new FileInfo(file).Length);
        var facts = await MediaFacts.ProbeAsync(file);
        Assert.Equal(("h264", 640, 360), (facts.VideoCodec, facts.Width, facts.Height));
        Assert.InRange(facts.Duration, seconds - 1, seconds + 1);
        File.Delete(file);

        await participant.CloseAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task RecordingsList_FiltersPagesAndEscapes_TrackAndErroredDetailsShowTheirFacts()
    {
        using var tenant = await NewTenantAsync("Dashboard filters app");
        var steps = ReadReadme();
        var alpha = await tenant.NewMeetingAsync("Alpha standup");
        var hostile = await tenant.NewMeetingAsync("<img src=x onerror=\"window.__xss=1\">Board");
        var day = (int d) => new DateTime(2025, 3, d, 12, 0, 0, DateTimeKind.Utc);
        RecordingRow Row(string meeting, string status, string file, DateTime invoked, long seconds, long? bytes) => NewRow(tenant.AppId, meeting, status, file, invoked, seconds, bytes);
        var uploaded = Row(alpha, RecordingStatus.Uploaded, "alpha_1.mp4", day(10), 65, 1_234_567);
        var errored = Row(alpha, RecordingStatus.Errored, "alpha_2.mp4", day(12), 0, null);
        errored.ErrorMessage = "sftp: connection refused by <b>backup</b>";
        var track = Row(hostile, RecordingStatus.Uploaded, "default_u1_p1_webcam_audio_1.webm", day(15), 12, 40_000);
        track.Type = RecordingTypes.Track;
        track.TrackDownloadsJson = JsonSerializer.Serialize(new[]
        {
            new { layer_name = "default", download_urls = new Dictionary<string, object> { ["speaker_a.webm"] = new { download_url = "http://127.0.0.1:9/a.webm" }, ["speaker_b.webm"] = new { download_url = "javascript:window.__xss=2" } } },
        });
        var beta = Row(hostile, RecordingStatus.Uploaded, "beta_4.webm", day(20), 7, 99_000);
        beta.DownloadUrlExpiry = DateTime.UtcNow.AddDays(-1);
        var fillers = Enumerable.Range(1, 18).Select(i => Row(alpha, RecordingStatus.Uploaded, $"filler_{i}.mp4", new DateTime(2025, 2, i, 12, 0, 0, DateTimeKind.Utc), 3, 1000)).ToList();
        await using (var scope = f.App.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            db.Recordings.AddRange([uploaded, errored, track, beta, .. fillers]);
            await db.SaveChangesAsync(Ct);
        }

        var page = await OpenDashboardAsync();
        await SignInAsync(page, tenant);
        await Tab(page, steps.RecordingsTab).ClickAsync();
        var rows = RowsOf(page, "recordings-table");
        var paging = page.Locator("#paging-text");

        // 22 recordings, newest first, 20 a page.
        await Expect(paging).ToHaveTextAsync("1–20 of 22");
        await Expect(rows).ToHaveCountAsync(20);
        await Expect(rows.First).ToHaveAttributeAsync("data-id", beta.Id.ToString("D"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Next" }).ClickAsync();
        await Expect(paging).ToHaveTextAsync("21–22 of 22");
        await Expect(rows).ToHaveCountAsync(2);
        await page.Locator("#rec-order").SelectOptionAsync("ASC");
        await Expect(rows.First).ToHaveAttributeAsync("data-id", fillers[0].Id.ToString("D"));
        await page.Locator("#rec-order").SelectOptionAsync("DESC");

        // Status, meeting, search and date range map to the list's query parameters, and live in the URL.
        var statusFilter = page.GetByLabel(steps.StatusFilter, new() { Exact = true });
        await statusFilter.SelectOptionAsync("ERRORED");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows).ToHaveAttributeAsync("data-id", errored.Id.ToString("D"));
        Assert.Contains("status=ERRORED", page.Url, StringComparison.Ordinal);
        await statusFilter.SelectOptionAsync("UPLOADED");
        await Expect(paging).ToHaveTextAsync("1–20 of 21");
        await page.GetByLabel("Meeting", new() { Exact = true }).SelectOptionAsync(hostile);
        await Expect(rows).ToHaveCountAsync(2);
        await Expect(page.Locator("#rec-summary")).ToHaveTextAsync("2 recordings match these filters.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear filters" }).ClickAsync();
        await Expect(paging).ToHaveTextAsync("1–20 of 22");
        await page.GetByLabel("Search", new() { Exact = true }).FillAsync("beta");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows).ToHaveAttributeAsync("data-id", beta.Id.ToString("D"));
        await page.GetByLabel("Search", new() { Exact = true }).FillAsync(string.Empty);
        // Links: the API's expired filter (download links past their expiry, or not).
        var linksFilter = page.GetByLabel("Links", new() { Exact = true });
        await linksFilter.SelectOptionAsync("true");
        await Expect(rows).ToHaveCountAsync(1);
        await Expect(rows).ToHaveAttributeAsync("data-id", beta.Id.ToString("D"));
        Assert.Contains("expired=true", page.Url, StringComparison.Ordinal);
        await linksFilter.SelectOptionAsync("false");
        await Expect(paging).ToHaveTextAsync("1–20 of 21");
        await linksFilter.SelectOptionAsync(string.Empty);
        await Expect(paging).ToHaveTextAsync("1–20 of 22");
        await page.GetByLabel("From", new() { Exact = true }).FillAsync("2025-03-11");
        await page.GetByLabel("To", new() { Exact = true }).FillAsync("2025-03-16");
        await Expect(rows).ToHaveCountAsync(2);
        Assert.Equal([track.Id.ToString("D"), errored.Id.ToString("D")], await rows.EvaluateAllAsync<string[]>("rs => rs.map(r => r.dataset.id)"));

        // Back returns to the previous filters (from 2025-03-11, no end).
        await page.GoBackAsync();
        await Expect(page.GetByLabel("To", new() { Exact = true })).ToHaveValueAsync(string.Empty);
        await Expect(page.GetByLabel("From", new() { Exact = true })).ToHaveValueAsync("2025-03-11");
        await Expect(rows).ToHaveCountAsync(3);

        // Hostile strings are text, never markup; a javascript: URL never becomes a link.
        await page.GotoAsync(new Uri(f.BaseUrl, $"{ReadReadme().Path}#/recordings?meeting={hostile}").ToString());
        await Expect(rows).ToHaveCountAsync(2);
        await Expect(rows.First).ToContainTextAsync("<img src=x onerror=\"window.__xss=1\">Board");
        await rows.Last.GetByRole(AriaRole.Link, new() { Name = track.OutputFileName }).ClickAsync();
        await Expect(page.Locator("#recording-facts")).ToContainTextAsync("Track (one file per participant)");
        await Expect(page.Locator("a.track-file")).ToHaveCountAsync(1);
        await Expect(page.Locator("a.track-file")).ToHaveAttributeAsync("href", "http://127.0.0.1:9/a.webm");
        await Expect(page.Locator("[data-layer='default']")).ToContainTextAsync("speaker_b.webm");
        Assert.Null(await page.EvaluateAsync<int?>("() => window.__xss ?? null"));

        // An ERRORED recording says why, as the API wrote it.
        await page.GotoAsync(new Uri(f.BaseUrl, $"{ReadReadme().Path}#/recordings/{errored.Id:D}").ToString());
        await Expect(page.Locator("#recording-error")).ToHaveTextAsync("sftp: connection refused by <b>backup</b>");
        await Expect(page.Locator("#player-card")).ToContainTextAsync("ended with an error");
        Assert.Null(await page.EvaluateAsync<int?>("() => window.__xss ?? null"));

        // An unknown recording: the API's 404 message in place of the page.
        var unknown = Guid.NewGuid();
        await page.GotoAsync(new Uri(f.BaseUrl, $"{ReadReadme().Path}#/recordings/{unknown:D}").ToString());
        await Expect(page.Locator("#view-error")).ToContainTextAsync($"No recording found with id {unknown:D} (HTTP 404)");
        await page.Context.CloseAsync();
    }

    private static RecordingRow NewRow(Guid app, string meeting, string status, string file, DateTime invoked, long seconds, long? bytes) => new()
    {
        Id = Guid.NewGuid(),
        AppId = app,
        MeetingId = Guid.Parse(meeting),
        Type = RecordingTypes.Composite,
        Status = status,
        OutputFileName = file,
        ConfigJson = "{}",
        InvokedTime = invoked,
        StartedTime = invoked.AddSeconds(2),
        StoppedTime = status == RecordingStatus.Uploaded ? invoked.AddSeconds(2 + seconds) : invoked.AddSeconds(1),
        DurationSeconds = seconds,
        FileSize = bytes,
        DownloadUrl = status == RecordingStatus.Uploaded ? $"http://127.0.0.1:9/{file}" : null,
        DownloadUrlExpiry = status == RecordingStatus.Uploaded ? DateTime.UtcNow.AddDays(7) : null,
        UpdatedAt = invoked,
    };

    [Fact]
    public async Task SystemPage_ShowsThisNodesSlotsAndLoad_TheQueue_Janus_AndTheReadinessChecks()
    {
        using var tenant = await NewTenantAsync("Dashboard system app");
        var page = await OpenDashboardAsync();
        await SignInAsync(page, tenant);
        await Tab(page, "System").ClickAsync();
        await Expect(Tab(page, "System")).ToHaveAttributeAsync("aria-current", "page");
        await Expect(page.Locator("#system-status")).ToHaveAttributeAsync("data-status", "ready", new() { Timeout = 30_000 });
        foreach (var check in new[] { "database", "janus", "recorder" })
        {
            await Expect(page.Locator($"#checks-table tr[data-check='{check}']")).ToHaveAttributeAsync("data-status", "ok");
        }
        await Expect(page.Locator("#checks-table tr[data-check='recorder']")).ToContainTextAsync("2 slot(s)");

        // This server's recorder: 2 slots, warm, idle.
        var node = page.Locator("#nodes-table tbody tr[data-node]").Filter(new() { HasText = "(this server)" });
        await Expect(node).ToHaveCountAsync(1);
        await Expect(node.Locator("td.slots")).ToHaveTextAsync("2");
        await Expect(node.Locator("td.warm")).ToHaveTextAsync("2", new() { Timeout = 30_000 });
        await Expect(node.Locator("td.busy")).ToHaveTextAsync("0");
        // Its measured capacity (admission by cost): what its recordings use of what they may.
        await Expect(node.Locator("td.capacity")).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"CPU \d+\.\d\d / \d+\.\d\d core"), new() { Timeout = 30_000 });
        await Expect(node).ToHaveAttributeAsync("data-lost", "false");
        await Expect(page.Locator("#system-janus [data-fact='instances']")).ToHaveTextAsync("1");

        // A participant and a recording: the node is busy with the job it holds, Janus has the room and its peers.
        var meeting = await tenant.NewMeetingAsync("System page meeting");
        var added = await tenant.Api.PostAsJsonAsync($"{tenant.AppPath}/meetings/{meeting}/participants", new { custom_participant_id = "alice", preset_name = Presets.Participant, name = "Alice" }, Ct);
        var token = (await added.Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!["token"]!.GetValue<string>();
        var alice = await f.OpenAsync(token, 640, 360);
        await Wait.UntilAsync(async () => await alice.EvaluateAsync<bool>("() => window.capstanState.joined"), "Alice joined");
        var started = await tenant.Api.PostAsJsonAsync($"{tenant.AppPath}/recordings", new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }, Ct);
        var id = (await started.Content.ReadFromJsonAsync<JsonObject>(Ct))!["data"]!["id"]!.GetValue<string>();
        await Wait.UntilAsync(async () => (await tenant.GetAsync($"/recordings/{id}"))["status"]!.GetValue<string>() == "RECORDING", "RECORDING", 40);
        await Expect(node.Locator("td.busy")).ToHaveTextAsync("1", new() { Timeout = 15_000 });
        await Expect(node.Locator("td.jobs")).ToHaveTextAsync("1");
        await Expect(page.Locator("#system-recordings [data-fact='RECORDING']")).ToHaveTextAsync("1");
        await Expect(page.Locator("#system-janus [data-fact='rooms']")).ToHaveTextAsync(new Regex("^[1-9][0-9]*$"));
        // Alice and the recorder.
        await Expect(page.Locator("#system-janus [data-fact='participants']")).ToHaveTextAsync(new Regex("^([2-9]|[1-9][0-9]+)$"), new() { Timeout = 15_000 });
        await Expect(page.Locator("#system-queue [data-fact='depth']")).ToHaveTextAsync("0");

        Assert.True((await tenant.Api.PutAsJsonAsync($"{tenant.AppPath}/recordings/{id}", new { action = "stop" }, Ct)).IsSuccessStatusCode);
        await Wait.UntilAsync(async () => (await tenant.GetAsync($"/recordings/{id}"))["status"]!.GetValue<string>() == "UPLOADED", "UPLOADED", 60);
        await Expect(node.Locator("td.busy")).ToHaveTextAsync("0", new() { Timeout = 15_000 });
        await Expect(node.Locator("td.jobs")).ToHaveTextAsync("0");

        // A worker told to stop (SIGTERM) reports itself draining: its row says so.
        var draining = "drain-host:composite:" + Guid.NewGuid().ToString("N");
        await using (var scope = f.App.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            db.RecorderNodes.Add(new RecorderNodeRow { Owner = draining, Node = "drain-host", Slots = 2, StartedAt = DateTime.UtcNow.AddMinutes(-5), SeenAt = DateTime.UtcNow, DrainingSince = DateTime.UtcNow });
            await db.SaveChangesAsync(Ct);
        }
        try
        {
            var drainingRow = page.Locator($"#nodes-table tbody tr[data-owner='{draining}']");
            await Expect(drainingRow).ToHaveAttributeAsync("data-state", "draining", new() { Timeout = 15_000 });
            await Expect(drainingRow.Locator(".badge[data-status='DRAINING']")).ToBeVisibleAsync();
            await Expect(node).ToHaveAttributeAsync("data-state", "active");
            await Expect(node.Locator(".badge[data-status='DRAINING']")).ToHaveCountAsync(0);
        }
        finally
        {
            await using var scope = f.App.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().RecorderNodes.Where(n => n.Owner == draining).ExecuteDeleteAsync(Ct);
        }
        await alice.EvaluateAsync("() => window.capstanLeave()");
        await Task.Delay(300, Ct);
        await alice.Context.CloseAsync();
        await page.Context.CloseAsync();
    }

    [GeneratedRegex(@"<!-- dashboard-steps[^>]*-->(.*?)<!-- /dashboard-steps -->", RegexOptions.Singleline)]
    private static partial Regex StepsBlock();

    [GeneratedRegex(@"`http://127\.0\.0\.1:8080(/[^`\s]*)`")]
    private static partial Regex DashboardUrl();

    [GeneratedRegex(@"\*\*([^*]+)\*\*")]
    private static partial Regex BoldName();
}
