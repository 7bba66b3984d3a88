using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Capstan.Bench.Recorder;

/// <summary>A recording as the API shows it (<c>GET .../recordings/{id}</c>). <see cref="DownloadUrl"/> is the
/// composite recording's link; a track recording's is a list of layers (<see cref="LayerFiles"/>).</summary>
public sealed record RecordingView(
    string Id, string Status, DateTime InvokedTime, DateTime? StartedTime, DateTime? StoppedTime,
    string? DownloadUrl, long? FileSize, long? Duration, JsonNode Raw)
{
    /// <summary>An UPLOADED track recording's files: <c>download_url</c> = <c>[{layer_name, download_urls: {&lt;file&gt;:
    /// {download_url}}}]</c>, flattened (the manifest is listed in every layer).</summary>
    public IReadOnlyList<LayerFile> LayerFiles() =>
        Raw["download_url"] is JsonArray layers
            ? [.. layers.SelectMany(l => l!["download_urls"]!.AsObject().Select(f =>
                new LayerFile(l["layer_name"]!.GetValue<string>(), f.Key, f.Value!["download_url"]!.GetValue<string>())))]
            : [];
}

/// <summary>One file of a track recording's layer and its signed link.</summary>
public sealed record LayerFile(string Layer, string Name, string Url);

/// <summary>A layer of a track recording: <c>layers.{Name} = {media_kind, file_name_prefix}</c>.</summary>
public sealed record TrackLayer(string Name, string MediaKind, string? FileNamePrefix = null);

/// <summary>The calls of the RealtimeKit-compatible API the benchmark makes: meetings, participants, the active
/// session and kick-all, and recordings (start, read, stop).</summary>
public sealed class Api(Server server) : IDisposable
{
    private readonly HttpClient _http = CreateClient(server);

    private string AppPath => $"/client/v4/accounts/{server.AccountId}/realtime/kit/{server.AppId:D}";

    public HttpClient Http => _http;

    public async Task<string> NewMeetingAsync(string title, CancellationToken ct)
    {
        using var r = await _http.PostAsJsonAsync($"{AppPath}/meetings", new { title }, ct);
        var body = await BodyAsync(r, HttpStatusCode.Created, "create a meeting", ct);
        return body["data"]!["id"]!.GetValue<string>();
    }

    public async Task<(string Id, string Token)> AddParticipantAsync(string meeting, string name, string preset, CancellationToken ct)
    {
        using var r = await _http.PostAsJsonAsync($"{AppPath}/meetings/{meeting}/participants",
            new { custom_participant_id = name.ToLowerInvariant(), preset_name = preset, name }, ct);
        var data = (await BodyAsync(r, null, "add a participant", ct))["data"]!;
        return (data["id"]!.GetValue<string>(), data["token"]!.GetValue<string>());
    }

    /// <summary>The meeting's LIVE session (id, live participants), or null when there is none.</summary>
    public async Task<(string Id, int Live)?> ActiveSessionAsync(string meeting, CancellationToken ct)
    {
        using var r = await _http.GetAsync($"{AppPath}/meetings/{meeting}/active-session", ct);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        var data = (await BodyAsync(r, null, "read the active session", ct))["data"]!;
        return (data["id"]!.GetValue<string>(), data["live_participants"]?.GetValue<int>() ?? 0);
    }

    /// <summary>Ends the meeting's session at once (it would otherwise stay LIVE for the keep-alive time).</summary>
    public async Task<bool> KickAllAsync(string meeting, CancellationToken ct)
    {
        using var r = await _http.PostAsync($"{AppPath}/meetings/{meeting}/active-session/kick-all", null, ct);
        return r.IsSuccessStatusCode;
    }

    /// <summary><c>POST .../recordings</c> (H264 + AAC at <paramref name="width"/> x <paramref name="height"/>), of
    /// the built-in view, or of the custom page <paramref name="url"/> when given.</summary>
    public async Task<RecordingView> StartRecordingAsync(string meeting, int width, int height, bool allowMultiple, CancellationToken ct, Uri? url = null)
    {
        var body = new JsonObject
        {
            ["meeting_id"] = meeting,
            ["video_config"] = new JsonObject { ["codec"] = "H264", ["width"] = width, ["height"] = height },
            ["audio_config"] = new JsonObject { ["codec"] = "AAC" },
            ["allow_multiple_recordings"] = allowMultiple,
        };
        if (url is not null)
        {
            body["url"] = url.ToString();
        }
        using var r = await _http.PostAsJsonAsync($"{AppPath}/recordings", body, ct);
        return View((await BodyAsync(r, null, "start a recording", ct))["data"]!);
    }

    /// <summary><c>POST .../recordings/track</c> with the layers given (the answer's <c>data.recording</c>, INVOKED).</summary>
    public async Task<RecordingView> StartTrackRecordingAsync(string meeting, IReadOnlyList<TrackLayer> layers, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var body = new JsonObject { ["meeting_id"] = meeting, ["layers"] = new JsonObject() };
        foreach (var l in layers)
        {
            var layer = new JsonObject { ["media_kind"] = l.MediaKind };
            if (l.FileNamePrefix is { } prefix)
            {
                layer["file_name_prefix"] = prefix;
            }
            body["layers"]![l.Name] = layer;
        }
        using var r = await _http.PostAsJsonAsync($"{AppPath}/recordings/track", body, ct);
        return View((await BodyAsync(r, null, "start a track recording", ct))["data"]!["recording"]!);
    }

    public async Task<RecordingView> GetRecordingAsync(string id, CancellationToken ct)
    {
        using var r = await _http.GetAsync($"{AppPath}/recordings/{id}", ct);
        return View((await BodyAsync(r, null, "read a recording", ct))["data"]!);
    }

    /// <summary><c>PUT .../recordings/{id} {action:"stop"}</c>; the status it answers (UPLOADING).</summary>
    public async Task<RecordingView> StopRecordingAsync(string id, CancellationToken ct)
    {
        using var r = await _http.PutAsJsonAsync($"{AppPath}/recordings/{id}", new { action = "stop" }, ct);
        return View((await BodyAsync(r, null, "stop a recording", ct))["data"]!);
    }

    /// <summary>Polls the recording every <paramref name="every"/> until <paramref name="done"/> holds; an ERRORED
    /// recording or the timeout is a failure. Returns the view and the stopwatch time when it was seen.</summary>
    public async Task<(RecordingView View, TimeSpan At)> WaitAsync(string id, Func<RecordingView, bool> done, string what, TimeSpan timeout, TimeSpan every, Stopwatch clock, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(done);
        ArgumentNullException.ThrowIfNull(clock);
        var deadline = clock.Elapsed + timeout;
        while (true)
        {
            var v = await GetRecordingAsync(id, ct);
            var at = clock.Elapsed;
            if (done(v))
            {
                return (v, at);
            }
            if (v.Status == "ERRORED")
            {
                throw new BenchException($"recording {id} ERRORED while waiting for {what}: {v.Raw.ToJsonString()}");
            }
            if (at > deadline)
            {
                throw new BenchException($"recording {id}: timed out after {timeout.TotalSeconds:0} s waiting for {what} (status {v.Status})");
            }
            await Task.Delay(every, ct);
        }
    }

    private static RecordingView View(JsonNode d) => new(
        d["id"]!.GetValue<string>(),
        d["status"]!.GetValue<string>(),
        Time(d["invoked_time"]) ?? DateTime.MinValue,
        Time(d["started_time"]),
        Time(d["stopped_time"]),
        d["download_url"] is JsonValue url ? url.GetValue<string>() : null,
        d["file_size"]?.GetValue<long>(),
        d["recording_duration"]?.GetValue<long>(),
        d);

    private static DateTime? Time(JsonNode? n) =>
        n?.GetValue<string>() is { } s ? DateTime.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal) : null;

    private static async Task<JsonNode> BodyAsync(HttpResponseMessage r, HttpStatusCode? expected, string what, CancellationToken ct)
    {
        var text = await r.Content.ReadAsStringAsync(ct);
        if (expected is { } e ? r.StatusCode != e : !r.IsSuccessStatusCode)
        {
            throw new BenchException($"could not {what}: {(int)r.StatusCode} {text}");
        }
        return JsonNode.Parse(text) ?? throw new BenchException($"could not {what}: empty body");
    }

    private static HttpClient CreateClient(Server server)
    {
        var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Token);
        return http;
    }

    public void Dispose() => _http.Dispose();
}
