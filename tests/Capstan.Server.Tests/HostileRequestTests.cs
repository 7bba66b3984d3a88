using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Capstan.Server.Tests.Infrastructure;

namespace Capstan.Server.Tests;

public sealed class HostileRequestTests_Sqlite(SqliteServer server) : HostileRequestTests(server), IClassFixture<SqliteServer>;

public sealed class HostileRequestTests_Postgres(PostgresServer server) : HostileRequestTests(server), IClassFixture<PostgresServer>;

/// <summary>Hostile and malformed requests: each answers 4xx with the error envelope naming what was wrong,
/// none answers 5xx, and nothing already stored changes.</summary>
public abstract class HostileRequestTests(ServerFixture server)
{
    private static readonly ConcurrentDictionary<ServerFixture, Task<Context>> Contexts = new();

    private sealed record Context(TestAccount Other, string Meeting, string Recording, string OtherMeeting, string OtherRecording);

    /// <summary>method, path ({app}, {meeting}, {rec}, {other_app}, {other_meeting}, {other_rec}, {account}), body, status, message fragment.</summary>
    public static TheoryData<string, string, string?, int, string> Cases() => new()
    {
        { "POST", "{app}/recordings", """{"meeting_id": 123}""", 400, "meeting_id has the wrong type: expected a string" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","max_seconds":"long"}""", 400, "max_seconds has the wrong type" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","max_seconds":59}""", 400, "max_seconds must be between 60 and 86400" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","max_seconds":86401}""", 400, "max_seconds must be between 60 and 86400" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","max_seconds":90.5}""", 400, "max_seconds has the wrong type: expected an integer" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"width":0}}""", 400, "video_config.width must be between 1 and 1920" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"height":5000}}""", 400, "video_config.height" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"width":1e20}}""", 400, "video_config.width" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"codec":"AV1"}}""", 400, "video_config.codec must be one of" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","audio_config":{"codec":"OPUS"}}""", 400, "audio_config.codec" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","audio_config":{"channel":"5.1"}}""", 400, "audio_config.channel" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"watermark":{"url":"https://x.example/w.png","position":"center"}}}""", 400, "video_config.watermark.position" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"watermark":{"position":"left top"}}}""", 400, "video_config.watermark.url is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"watermark":{"url":"https://x.example/w.png","size":{"width":0,"height":10}}}}""", 400, "video_config.watermark.size.width" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{}}""", 400, "storage_config.type is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"dropbox"}}""", 400, "storage_config.type must be one of" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"cloudflare","access_key":"a","secret":"b","bucket":"c"}}""", 400, "storage_config.type 'cloudflare'" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"aws","access_key":"a","bucket":"b","region":"r"}}""", 400, "storage_config.secret is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"gcs","bucket":"b","secret":"not json"}}""", 400, "storage_config.secret must be the service-account credentials JSON" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"sftp","host":"h","username":"u"}}""", 400, "storage_config.auth_method is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"sftp","host":"h","username":"u","auth_method":"KEY"}}""", 400, "storage_config.private_key is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"sftp","host":"h","username":"u","auth_method":"PASSWORD","password":"p","port":70000}}""", 400, "storage_config.port" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","storage_config":{"type":"aws","access_key":"a","secret":"s","bucket":"b","region":"r","path":"../etc"}}""", 400, "storage_config.path" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","file_name_prefix":"bad name!"}""", 400, "file_name_prefix must match" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","rtmp_out_config":{"rtmp_url":"http://x.example/live"}}""", 400, "rtmp_out_config.rtmp_url" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","url":"ftp://x.example/page"}""", 400, "url must be an absolute http or https URL" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","interactive_config":{"type":"XML"}}""", 400, "interactive_config.type" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","interactive_config":{"type":"ID3"},"video_config":{"codec":"VP8"}}""", 400, "interactive_config needs video_config.codec H264" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","interactive_config":{"type":"ID3"},"video_config":{"codec":"VP9"}}""", 400, "interactive_config needs video_config.codec H264" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","allow_multiple_recordings":"yes"}""", 400, "allow_multiple_recordings has the wrong type: expected a boolean" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","realtimekit_bucket_config":{}}""", 400, "realtimekit_bucket_config.enabled is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}","video_config":{"export_file":false}}""", 400, "video_config.export_file is false" },
        { "POST", "{app}/recordings", """{"meeting_id":"not-a-uuid"}""", 400, "meeting_id must be a UUID" },
        { "POST", "{app}/recordings", """{}""", 400, "meeting_id is required" },
        { "POST", "{app}/recordings", """{"meeting_id":""}""", 400, "meeting_id is required" },
        { "POST", "{app}/recordings", """{"meeting_id":"{meeting}",""", 400, "JSON" },
        { "POST", "{app}/recordings", "[]", 400, "wrong type" },
        { "POST", "{app}/recordings", "\"text\"", 400, "wrong type" },
        { "POST", "{app}/recordings", "not json at all", 400, "JSON" },
        { "POST", "{app}/recordings", new string('[', 100) + new string(']', 100), 400, "JSON" },
        { "POST", "{app}/recordings/track", """{"meeting_id":"{meeting}","max_seconds":"soon"}""", 400, "max_seconds must be an integer" },
        { "POST", "{app}/recordings/track", """{"meeting_id":"{meeting}","layers":{"default":{"media_kind":"screen"}}}""", 400, "layers.default.media_kind" },
        { "PUT", "{app}/recordings/{rec}", """{"action":"explode"}""", 400, "action must be one of 'stop', 'pause', 'resume'" },
        { "PUT", "{app}/recordings/{rec}", """{}""", 400, "action is required" },
        { "PUT", "{app}/recordings/{rec}", """{"action":"pause"}""", 400, "status is INVOKED" },
        { "PUT", "{app}/recordings/{rec}", """{"action":7}""", 400, "action has the wrong type" },
        { "GET", "{app}/recordings/not-a-uuid", null, 400, "recording_id must be a UUID" },
        { "GET", "{app}/recordings/active-recording/xyz", null, 400, "meeting_id must be a UUID" },
        { "GET", "{app}/recordings?page_no=abc", null, 400, "page_no must be an integer" },
        { "GET", "{app}/recordings?per_page=1000", null, 400, "per_page must be between 0 and 100" },
        { "GET", "{app}/recordings?page_no=-1", null, 400, "page_no" },
        { "GET", "{app}/recordings?status=DONE", null, 400, "status must be among" },
        { "GET", "{app}/recordings?status=UPLOADED,NOPE", null, 400, "'NOPE'" },
        { "GET", "{app}/recordings?sort_by=size", null, 400, "sort_by must be one of 'invokedTime'" },
        { "GET", "{app}/recordings?sort_order=UP", null, 400, "sort_order" },
        { "GET", "{app}/recordings?start_time=yesterday", null, 400, "start_time must be an ISO-8601 date-time" },
        { "GET", "{app}/recordings?expired=maybe", null, 400, "expired must be true or false" },
        { "GET", "{app}/recordings?meeting_id=xyz", null, 400, "meeting_id must be a UUID" },
        { "POST", "{app}/meetings", """{"session_keep_alive_time_in_secs":5}""", 400, "session_keep_alive_time_in_secs must be between 60 and 600" },
        { "POST", "{app}/meetings", """{"title":5}""", 400, "title has the wrong type: expected a string" },
        { "POST", "{app}/meetings", """{"title":"TITLE_TOO_LONG"}""", 400, "title must be at most 1024 characters" },
        { "POST", "{app}/meetings", """{"record_on_start":"true"}""", 400, "record_on_start has the wrong type: expected a boolean" },
        { "POST", "{app}/meetings", """{"recording_config":{"max_seconds":10}}""", 400, "recording_config.max_seconds" },
        { "POST", "{app}/meetings", """{"recording_config":{"video_config":{"codec":"H265"}}}""", 400, "recording_config.video_config.codec" },
        { "POST", "{app}/meetings", """{"recording_config":{"storage_config":{"type":"azure"}}}""", 400, "recording_config.storage_config.access_key" },
        { "POST", "{app}/meetings", """{"ai_config":{"transcription":{"language":"xx"}}}""", 400, "ai_config.transcription.language" },
        { "PATCH", "{app}/meetings/{meeting}", """{"status":"DELETED"}""", 400, "status must be one of 'ACTIVE', 'INACTIVE'" },
        { "PUT", "{app}/meetings/{meeting}", """{"session_keep_alive_time_in_secs":"60"}""", 400, "session_keep_alive_time_in_secs has the wrong type" },
        { "GET", "{app}/meetings?status=OPEN", null, 400, "status must be one of" },
        { "GET", "{app}/meetings/123", null, 400, "meeting_id must be a UUID" },
        { "POST", "{app}/meetings/{meeting}/participants", """{}""", 400, "custom_participant_id is required" },
        { "POST", "{app}/meetings/{meeting}/participants", """{"custom_participant_id":"u1","preset_name":"admin"}""", 400, "preset_name must be one of" },
        { "POST", "{app}/meetings/{meeting}/participants", """{"custom_participant_id":"u1","preset_name":"group_call_host","picture":"not a url"}""", 400, "picture must be an absolute" },
        { "GET", "{app}/meetings/{meeting}/participants/nope", null, 400, "participant_id must be a UUID" },
        { "GET", "{app}/presets/nope", null, 400, "preset_id must be a UUID" },
        { "GET", "{app}/sessions/nope", null, 400, "session_id must be a UUID" },
        { "GET", "{app}/sessions?status=OPEN", null, 400, "status must be one of 'LIVE', 'ENDED'" },
        { "GET", "{app}/sessions?sort_by=name", null, 400, "sort_by" },
        { "POST", "{app}/webhooks", """{"name":"x","url":"http://10.0.0.1/hook","events":["recording.statusUpdate"]}""", 400, "private" },
        { "POST", "{app}/webhooks", """{"name":"x","url":"http://localhost:9/hook","events":["recording.statusUpdate"]}""", 400, "loopback" },
        { "POST", "{app}/webhooks", """{"name":"x","url":"http://169.254.169.254/latest","events":["recording.statusUpdate"]}""", 400, "metadata" },
        { "POST", "{app}/webhooks", """{"name":"x","url":"https://hooks.example.com/h","events":["foo"]}""", 400, "events[] must be one of" },
        { "POST", "{app}/webhooks", """{"name":"x","url":"ftp://hooks.example.com/h","events":["meeting.started"]}""", 400, "url must be an absolute http or https URL" },
        { "POST", "{app}/webhooks", """{"url":"https://hooks.example.com/h"}""", 400, "name is required" },
        { "POST", "{app}/webhooks", """{"name":"x","url":"https://hooks.example.com/h","events":"meeting.started"}""", 400, "events has the wrong type: expected an array" },
        { "POST", "/client/v4/accounts/{account}/realtime/kit/apps", """{}""", 400, "name is required" },
        { "GET", "/client/v4/accounts/{account}/realtime/kit/not-an-app/meetings", null, 400, "app_id must be a UUID" },
        { "GET", "{app}/unknown", null, 404, "no such route" },
        { "GET", "/client/v4/nothing/here", null, 404, "no such route" },
        { "DELETE", "{app}/recordings", null, 405, "method not allowed" },
        { "PATCH", "{app}/recordings/{rec}", """{"action":"stop"}""", 405, "method not allowed" },
        { "GET", "{app}/recordings/track", null, 400, "recording_id must be a UUID" },
        { "GET", "{other_app}/recordings", null, 403, "does not grant access to account" },
        { "GET", "/client/v4/accounts/{account}/realtime/kit/{other_app_id}/recordings", null, 404, "No app found" },
        { "GET", "{app}/meetings/{other_meeting}", null, 404, "No meeting found" },
        { "PATCH", "{app}/meetings/{other_meeting}", """{"title":"mine now"}""", 404, "No meeting found" },
        { "GET", "{app}/recordings/{other_rec}", null, 404, "No recording found" },
        { "PUT", "{app}/recordings/{other_rec}", """{"action":"stop"}""", 404, "No recording found" },
        { "POST", "{app}/recordings", """{"meeting_id":"{other_meeting}"}""", 404, "No meeting found" },
        { "GET", "{app}/recordings/active-recording/{other_meeting}", null, 404, "No active recording" },
        { "POST", "{app}/meetings/{other_meeting}/participants", """{"custom_participant_id":"x","preset_name":"group_call_host"}""", 404, "No meeting found" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HostileRequest_Answers4xxNamingTheProblem(string method, string path, string? body, int status, string fragment)
    {
        var ctx = await ContextAsync();
        string Fill(string s) => s
            .Replace("{app}", server.Account.AppPath, StringComparison.Ordinal)
            .Replace("{other_app}", ctx.Other.AppPath, StringComparison.Ordinal)
            .Replace("{other_app_id}", ctx.Other.AppId.ToString(), StringComparison.Ordinal)
            .Replace("{account}", server.Account.AccountId, StringComparison.Ordinal)
            .Replace("{meeting}", ctx.Meeting, StringComparison.Ordinal)
            .Replace("{rec}", ctx.Recording, StringComparison.Ordinal)
            .Replace("{other_meeting}", ctx.OtherMeeting, StringComparison.Ordinal)
            .Replace("{other_rec}", ctx.OtherRecording, StringComparison.Ordinal)
            .Replace("TITLE_TOO_LONG", new string('t', 1100), StringComparison.Ordinal);

        var r = await server.Account.Client().SendAsync(new HttpMethod(method), Fill(path), rawBody: body is null ? null : Fill(body));
        r.Error((HttpStatusCode)status, fragment);

        // Nothing stored changed.
        var rec = (await server.Account.Client().GetJsonAsync($"{server.Account.AppPath}/recordings/{ctx.Recording}")).Data();
        Assert.Equal("INVOKED", rec.Str("status"));
        var other = (await ctx.Other.Client().GetJsonAsync($"{ctx.Other.AppPath}/meetings/{ctx.OtherMeeting}")).Data();
        Assert.Equal("theirs", other.Str("title"));
    }

    [Fact]
    public async Task OversizedBody_Returns413()
    {
        var big = "{\"title\":\"" + new string('x', 2 * 1024 * 1024) + "\"}";
        // Expect: 100-continue, as a careful client sends a large body: the server answers 413 before the body is
        // sent. (Without it the answer can race the upload and the client sees a broken pipe instead.)
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{server.Account.AppPath}/meetings") { Content = new StringContent(big, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var client = server.Account.Client();
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("\"success\":false", body, StringComparison.Ordinal);
        Assert.Contains("1 MiB", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonJsonContentType_Returns415WithEnvelope()
    {
        var r = await server.Account.Client().SendAsync(HttpMethod.Post, $"{server.Account.AppPath}/meetings", rawBody: "{}", contentType: "text/plain");
        r.Error(HttpStatusCode.UnsupportedMediaType, "application/json");
    }

    [Fact]
    public async Task InvalidUtf8_Returns400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{server.Account.AppPath}/meetings")
        {
            Content = new ByteArrayContent([(byte)'{', (byte)'"', (byte)'t', (byte)'i', (byte)'t', (byte)'l', (byte)'e', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}']),
        };
        request.Content.Headers.ContentType = new("application/json");
        using var response = await server.Account.Client().SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"success\":false", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingOrWrongToken_Returns401_AndXAuthKeyIsAccepted()
    {
        var path = $"{server.Account.AppPath}/meetings";
        (await server.Client().GetJsonAsync(path)).Error(HttpStatusCode.Unauthorized, "missing API token");
        (await server.Client("cap_not_a_real_token_at_all_0000000").GetJsonAsync(path)).Error(HttpStatusCode.Unauthorized, "invalid API token");

        using var keyClient = server.Client();
        keyClient.DefaultRequestHeaders.Add("X-Auth-Email", "someone@example.com");
        keyClient.DefaultRequestHeaders.Add("X-Auth-Key", server.Account.Token);
        (await keyClient.GetJsonAsync(path)).Data();
    }

    private Task<Context> ContextAsync() => Contexts.GetOrAdd(server, async _ =>
    {
        var me = server.Account.Client();
        var meeting = (await me.PostJsonAsync($"{server.Account.AppPath}/meetings", new { title = "mine" })).Data(HttpStatusCode.Created).Str("id");
        var rec = (await me.PostJsonAsync($"{server.Account.AppPath}/recordings", new { meeting_id = meeting })).Data().Str("id");
        var other = await server.CreateAccountAsync();
        var them = other.Client();
        var otherMeeting = (await them.PostJsonAsync($"{other.AppPath}/meetings", new { title = "theirs" })).Data(HttpStatusCode.Created).Str("id");
        var otherRec = (await them.PostJsonAsync($"{other.AppPath}/recordings", new { meeting_id = otherMeeting })).Data().Str("id");
        return new Context(other, meeting, rec, otherMeeting, otherRec);
    });
}
