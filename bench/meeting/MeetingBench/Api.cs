using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Capstan.Bench.Meeting;

/// <summary>The few calls of the RealtimeKit-compatible API the benchmark makes: meetings, participants, the active
/// session and kick-all.</summary>
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

    /// <summary>Ends the meeting's session at once (the session would otherwise stay LIVE for the meeting's
    /// keep-alive time, 60 s at least, after the last participant left).</summary>
    public async Task<bool> KickAllAsync(string meeting, CancellationToken ct)
    {
        using var r = await _http.PostAsync($"{AppPath}/meetings/{meeting}/active-session/kick-all", null, ct);
        return r.IsSuccessStatusCode;
    }

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
        var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.Token);
        return http;
    }

    public void Dispose() => _http.Dispose();
}
