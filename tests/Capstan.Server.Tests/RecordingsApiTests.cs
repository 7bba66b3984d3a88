using System.Net;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Tests;

public sealed class RecordingsApiTests_Sqlite(SqliteServer server) : RecordingsApiTests(server), IClassFixture<SqliteServer>;

public sealed class RecordingsApiTests_Postgres(PostgresServer server) : RecordingsApiTests(server), IClassFixture<PostgresServer>;

/// <summary>The recordings routes against a live server, on each database.</summary>
public abstract class RecordingsApiTests(ServerFixture server)
{
    protected TestAccount Account => server.Account;

    protected async Task<string> NewMeetingAsync(object? body = null) =>
        (await Account.Client().PostJsonAsync($"{Account.AppPath}/meetings", body ?? new { title = "Weekly sync" })).Data(HttpStatusCode.Created).Str("id");

    [Fact]
    public async Task Start_ReturnsInvokedRecordingWithNamedFileAndJob()
    {
        var meeting = await NewMeetingAsync(new { title = "Physics: 9am / Room 4" });
        var rec = (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting, file_name_prefix = "Physics_9am" })).Data();

        Assert.Equal("INVOKED", rec.Str("status"));
        Assert.Matches(@"^Physics_9am_Physics-9am-Room-4_\d{13}\.mp4$", rec.Str("output_file_name"));
        Assert.Equal("API_CALL", rec["start_reason"]!.Str("reason"));
        Assert.Null(rec["download_url"]);
        Assert.Null(rec["started_time"]);

        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var job = await db.RecorderJobs.SingleAsync(j => j.RecordingId == Guid.Parse(rec.Str("id")), TestContext.Current.CancellationToken);
        Assert.Equal(JobStates.Queued, job.State);
        Assert.True(await db.OutboxEvents.AnyAsync(e => e.EventName == WebhookEvents.RecordingStatusUpdate && e.PayloadJson.Contains(rec.Str("id")), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Start_WhenMeetingHasActiveRecording_Returns409WithNoRetryHeader()
    {
        var meeting = await NewMeetingAsync();
        (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data();
        var second = await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting });
        second.Error(HttpStatusCode.Conflict, "already has an active recording");
        Assert.Equal("false", second.Response.Headers.GetValues("x-should-retry").Single());
    }

    [Fact]
    public async Task ConcurrentStarts_OnOneMeeting_ExactlyOneSucceeds()
    {
        var meeting = await NewMeetingAsync();
        using var client = Account.Client();
        var tasks = Enumerable.Range(0, 50).Select(_ => client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).ToList();
        var results = await Task.WhenAll(tasks);
        Assert.Equal(1, results.Count(r => r.Status == HttpStatusCode.OK));
        Assert.Equal(49, results.Count(r => r.Status == HttpStatusCode.Conflict));

        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        Assert.Equal(1, await db.Recordings.CountAsync(r => r.MeetingId == Guid.Parse(meeting), TestContext.Current.CancellationToken));
        Assert.Equal(1, await db.RecorderJobs.CountAsync(j => db.Recordings.Any(r => r.Id == j.RecordingId && r.MeetingId == Guid.Parse(meeting)), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ConcurrentStarts_WithAllowMultiple_AllSucceed()
    {
        var meeting = await NewMeetingAsync();
        using var client = Account.Client();
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting, allow_multiple_recordings = true })));
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        // An exclusive start now conflicts with the running ones.
        (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Error(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task AllowMultiple_WhenExclusiveRecordingIsActive_Returns409()
    {
        var meeting = await NewMeetingAsync();
        (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data();
        (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting, allow_multiple_recordings = true }))
            .Error(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Stop_OnInvoked_CancelsJobEndsErroredAndFreesTheMeeting()
    {
        var meeting = await NewMeetingAsync();
        var client = Account.Client();
        var id = (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
        var stopped = (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "stop" })).Data();
        Assert.Equal("ERRORED", stopped.Str("status"));
        Assert.Equal("API_CALL", stopped["stop_reason"]!.Str("reason"));
        Assert.Null(stopped["download_url"]);

        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var job = await db.RecorderJobs.SingleAsync(j => j.RecordingId == Guid.Parse(id), TestContext.Current.CancellationToken);
            Assert.Equal(JobStates.Cancelled, job.State);
        }
        (await client.GetJsonAsync($"{Account.AppPath}/recordings/active-recording/{meeting}")).Error(HttpStatusCode.NotFound, "No active recording");
        (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data();
        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "stop" })).Error(HttpStatusCode.BadRequest, "ERRORED");
    }

    [Fact]
    public async Task PauseResumeStop_FollowTheStateMachine()
    {
        var meeting = await NewMeetingAsync();
        var client = Account.Client();
        var id = (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "pause" })).Error(HttpStatusCode.BadRequest, "INVOKED");
        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "resume" })).Error(HttpStatusCode.BadRequest, "INVOKED");

        // The recorder (next issue) moves INVOKED -> RECORDING when its first frame is encoded; here the domain layer does it.
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var lifecycle = scope.ServiceProvider.GetRequiredService<RecordingLifecycle>();
            var row = await db.Recordings.SingleAsync(r => r.Id == Guid.Parse(id), TestContext.Current.CancellationToken);
            row.StartedTime = DateTime.UtcNow;
            await lifecycle.TransitionAsync(row, RecordingStatus.Recording, "start", TestContext.Current.CancellationToken);
            await db.SaveChangesAsync(TestContext.Current.CancellationToken);
        }

        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "resume" })).Error(HttpStatusCode.BadRequest, "RECORDING");
        Assert.Equal("PAUSED", (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "pause" })).Data().Str("status"));
        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "pause" })).Error(HttpStatusCode.BadRequest, "PAUSED");
        Assert.Equal("RECORDING", (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "resume" })).Data().Str("status"));
        Assert.Equal(id, (await client.GetJsonAsync($"{Account.AppPath}/recordings/active-recording/{meeting}")).Data().Str("id"));
        var stopped = (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "stop" })).Data();
        Assert.Equal("UPLOADING", stopped.Str("status"));
        Assert.NotNull(stopped["stopped_time"]);
        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{id}", new { action = "pause" })).Error(HttpStatusCode.BadRequest, "UPLOADING");
        // UPLOADING is not active: a new recording may start.
        (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data();

        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            var job = await db.RecorderJobs.SingleAsync(j => j.RecordingId == Guid.Parse(id), TestContext.Current.CancellationToken);
            Assert.Equal(JobStates.DesiredStop, job.DesiredState);
        }
    }

    [Fact]
    public async Task Start_MergesRequestOverMeetingConfig_AndKeepsSecretsOutOfResponsesAndEncrypted()
    {
        const string secret = "s3cr3t-value-that-must-not-leak";
        var meeting = await NewMeetingAsync(new
        {
            title = "merge",
            recording_config = new
            {
                video_config = new { codec = "VP8", width = 641, height = 360 },
                max_seconds = 120,
                file_name_prefix = "meet",
                storage_config = new { type = "aws", access_key = "AKIA" + secret, secret, bucket = "b1", region = "us-east-1", path = "rec" },
            },
        });
        var client = Account.Client();
        var meetingGet = (await client.GetJsonAsync($"{Account.AppPath}/meetings/{meeting}")).Data();
        Assert.DoesNotContain(secret, meetingGet.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("b1", meetingGet["recording_config"]!["storage_config"]!.Str("bucket"));

        var rec = (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting, video_config = new { height = 480 } })).Data();
        Assert.DoesNotContain(secret, rec.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("aws", rec["storage_config"]!.Str("type"));
        Assert.Null(rec["storage_config"]!["access_key"]);
        Assert.Matches(@"^meet_merge_\d{13}\.webm$", rec.Str("output_file_name"));

        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var row = await db.Recordings.AsNoTracking().SingleAsync(r => r.Id == Guid.Parse(rec.Str("id")), TestContext.Current.CancellationToken);
        var meetingRow = await db.Meetings.AsNoTracking().SingleAsync(m => m.Id == Guid.Parse(meeting), TestContext.Current.CancellationToken);
        Assert.DoesNotContain(secret, row.ConfigJson, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, meetingRow.RecordingConfigJson!, StringComparison.Ordinal);
        var config = Mapping.Read<EffectiveRecordingConfig>(row.ConfigJson);
        Assert.Equal(("VP8", 640, 480, 120), (config.VideoCodec, config.Width, config.Height, config.MaxSeconds));
        Assert.Contains(config.Notes, n => n.Contains("641", StringComparison.Ordinal));
        var protector = scope.ServiceProvider.GetRequiredService<Capstan.Server.Security.SecretProtector>();
        Assert.Equal(secret, StorageConfigs.Unprotect(config.Storage!, protector).Secret);
    }

    [Fact]
    public async Task Start_OnInactiveMeeting_Returns400()
    {
        var meeting = await NewMeetingAsync();
        (await Account.Client().PatchJsonAsync($"{Account.AppPath}/meetings/{meeting}", new { status = "INACTIVE" })).Data();
        (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Error(HttpStatusCode.BadRequest, "INACTIVE");
    }

    [Fact]
    public async Task Start_WithBucketDisabledAndNoStorage_Returns400()
    {
        var meeting = await NewMeetingAsync();
        (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting, realtimekit_bucket_config = new { enabled = false } }))
            .Error(HttpStatusCode.BadRequest, "realtimekit_bucket_config.enabled");
    }

    [Fact]
    public async Task List_FiltersPagesAndSearches()
    {
        var client = Account.Client();
        var title = "listing-" + Guid.NewGuid().ToString("N")[..8];
        var meeting = await NewMeetingAsync(new { title });
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var id = (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting, allow_multiple_recordings = true })).Data().Str("id");
            ids.Add(id);
        }
        (await client.PutJsonAsync($"{Account.AppPath}/recordings/{ids[0]}", new { action = "stop" })).Data();

        var page = await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&per_page=2&page_no=2");
        var data = page.Data().AsArray();
        Assert.Equal(2, data.Count);
        Assert.Equal(5, page.Body["paging"]!["total_count"]!.GetValue<int>());
        Assert.Equal(3, page.Body["paging"]!["start_offset"]!.GetValue<int>());
        Assert.Equal(4, page.Body["paging"]!["end_offset"]!.GetValue<int>());
        Assert.Equal(meeting, data[0]!["meeting"]!.Str("id"));

        var newestFirst = (await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}")).Data().AsArray();
        Assert.Equal(ids[^1], newestFirst[0]!.Str("id"));
        var oldestFirst = (await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&sort_by=invokedTime&sort_order=ASC")).Data().AsArray();
        Assert.Equal(ids[0], oldestFirst[0]!.Str("id"));

        Assert.Single((await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&status=ERRORED")).Data().AsArray());
        Assert.Equal(5, (await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&status=ERRORED&status=INVOKED")).Data().AsArray().Count);
        Assert.Equal(5, (await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&status=ERRORED,INVOKED")).Data().AsArray().Count);
        Assert.Equal(5, (await client.GetJsonAsync($"{Account.AppPath}/recordings?search={title.ToUpperInvariant()}")).Data().AsArray().Count);
        Assert.Equal(5, (await client.GetJsonAsync($"{Account.AppPath}/recordings?search={meeting}")).Data().AsArray().Count);
        Assert.Equal(5, (await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&expired=false")).Data().AsArray().Count);
        Assert.Empty((await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&expired=true")).Data().AsArray());
        Assert.Empty((await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&start_time=2999-01-01T00:00:00Z")).Data().AsArray());

        var empty = await client.GetJsonAsync($"{Account.AppPath}/recordings?meeting_id={meeting}&page_no=9");
        Assert.Empty(empty.Data().AsArray());
        Assert.Equal(0, empty.Body["paging"]!["start_offset"]!.GetValue<int>());
        Assert.Equal(0, empty.Body["paging"]!["end_offset"]!.GetValue<int>());
    }

    [Fact]
    public async Task TrackRecording_NeedsLiveSession_AcceptsBothShapes()
    {
        var meeting = await NewMeetingAsync();
        var client = Account.Client();
        (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting }))
            .Error(HttpStatusCode.BadRequest, "no live session");

        await Presence.JoinAsync(server, Account, Guid.Parse(meeting), "alice");
        var current = (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new
        {
            meeting_id = meeting,
            layers = new { @default = new { media_kind = "audio", file_name_prefix = "speaker" } },
            user_ids = new[] { "alice" },
        })).Data()["recording"]!;
        Assert.Equal("TRACK", current.Str("type"));
        Assert.Equal("INVOKED", current.Str("status"));
        Assert.StartsWith("speaker_{user_id}_{peer_id}_{stream_kind}_{media_kind}_", current.Str("output_file_name"), StringComparison.Ordinal);

        // One active track recording per meeting (Janus records a room into one folder at a time).
        (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting }))
            .Error(HttpStatusCode.Conflict, "already has an active track recording");
        // A track recording stops with the PUT route too (INVOKED: cancelled).
        Assert.Equal("ERRORED", (await client.PutJsonAsync($"{Account.AppPath}/recordings/{current.Str("id")}", new { action = "stop" })).Data().Str("status"));

        var legacy = (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new
        {
            meeting_id = meeting,
            max_seconds = "120",
            layers = new { @default = new { file_name_prefix = "old", outputs = new object[] { new { type = "REALTIMEKIT_BUCKET" } } } },
        })).Data()["recording"]!;
        Assert.Equal("TRACK", legacy.Str("type"));

        (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting, user_ids = Enumerable.Range(0, 101).Select(i => $"u{i}").ToArray() }))
            .Error(HttpStatusCode.BadRequest, "user_ids");
        (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting, layers = new { @default = new { media_kind = "screen" } } }))
            .Error(HttpStatusCode.BadRequest, "layers.default.media_kind");
        (await client.PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting, layers = new { @default = new { outputs = new object[] { new { type = "STORAGE_CONFIG" } } } } }))
            .Error(HttpStatusCode.BadRequest, "layers.default.outputs[0].storage_config is required");
        Assert.Equal("ERRORED", (await client.PutJsonAsync($"{Account.AppPath}/recordings/{legacy.Str("id")}", new { action = "stop" })).Data().Str("status"));
    }

    [Fact]
    public async Task Retention_DeletesATrackRecordingsFiles_AndClearsItsLayerList()
    {
        var meeting = await NewMeetingAsync();
        await Presence.JoinAsync(server, Account, Guid.Parse(meeting), "alice");
        var id = Guid.Parse((await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting })).Data()["recording"]!.Str("id"));
        var bucket = server.Services.GetRequiredService<Capstan.Server.Recorder.DefaultBucket>();
        var ct = TestContext.Current.CancellationToken;
        var names = new[] { "default_alice_p_webcam_audio_1.webm", "manifest.json" };
        var layers = new JsonArray();
        var urls = new JsonObject();
        foreach (var name in names)
        {
            var tmp = Path.GetTempFileName();
            await File.WriteAllTextAsync(tmp, name, ct);
            await bucket.StoreAsync(Account.AppId, id, tmp, name, ct);
            File.Delete(tmp);
            urls[name] = new JsonObject { ["download_url"] = "x" };
        }
        layers.Add(new JsonObject { ["layer_name"] = "default", ["download_urls"] = urls });
        var expired = DateTime.UtcNow - TimeSpan.FromDays(30);
        await Presence.WithDbAsync(server, db => db.Recordings.Where(r => r.Id == id).ExecuteUpdateAsync(u => u
            .SetProperty(r => r.Status, RecordingStatus.Uploaded).SetProperty(r => r.TrackDownloadsJson, layers.ToJsonString()).SetProperty(r => r.DownloadUrlExpiry, expired), ct));
        Assert.All(names, n => Assert.True(File.Exists(bucket.PathOf(Account.AppId, id, n))));

        var retention = server.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Capstan.Server.Recorder.BucketRetention>().Single();
        Assert.True(await retention.SweepAsync(ct) >= 1);
        Assert.All(names, n => Assert.False(File.Exists(bucket.PathOf(Account.AppId, id, n))));
        var rec = (await Account.Client().GetJsonAsync($"{Account.AppPath}/recordings/{id}")).Data();
        Assert.Null(rec["download_url"]);
    }

    [Fact]
    public async Task TrackRecording_ConcurrentStarts_ExactlyOneWins()
    {
        var meeting = await NewMeetingAsync();
        await Presence.JoinAsync(server, Account, Guid.Parse(meeting), "alice");
        var client = Account.Client();
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.PostJsonAsync($"{Account.AppPath}/recordings/track", new { meeting_id = meeting })));
        Assert.Equal(1, responses.Count(r => r.Status == HttpStatusCode.OK));
        Assert.All(responses.Where(r => r.Status != HttpStatusCode.OK), r => r.Error(HttpStatusCode.Conflict, "active track recording"));
        // A composite recording can run beside it.
        Assert.Equal("INVOKED", (await client.PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("status"));
    }

    [Fact]
    public async Task GetOne_ForUnknownOrForeignRecording_Returns404()
    {
        var meeting = await NewMeetingAsync();
        var id = (await Account.Client().PostJsonAsync($"{Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
        (await Account.Client().GetJsonAsync($"{Account.AppPath}/recordings/{Guid.NewGuid()}")).Error(HttpStatusCode.NotFound, "No recording found");

        var other = await server.CreateAccountAsync();
        (await other.Client().GetJsonAsync($"{other.AppPath}/recordings/{id}")).Error(HttpStatusCode.NotFound);
        (await other.Client().PutJsonAsync($"{other.AppPath}/recordings/{id}", new { action = "stop" })).Error(HttpStatusCode.NotFound);
        (await other.Client().PostJsonAsync($"{other.AppPath}/recordings", new { meeting_id = meeting })).Error(HttpStatusCode.NotFound, "No meeting found");
        Assert.Equal("INVOKED", (await Account.Client().GetJsonAsync($"{Account.AppPath}/recordings/{id}")).Data().Str("status"));
    }
}
