using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Server.Domain;
using Microsoft.Playwright;

namespace Capstan.Media.Tests;

/// <summary>Composite recordings for real: the recorder worker (Xvfb, PulseAudio, Chromium, ffmpeg) records a
/// meeting of Chromium participants; each test downloads the file from download_url and checks it with ffprobe.</summary>
public sealed class RecordingMediaTests(MediaFixture f) : IClassFixture<MediaFixture>
{
    private async Task<(string Meeting, List<IPage> Pages)> MeetingWithPeopleAsync(int people, object? meetingBody = null)
    {
        var meeting = await f.NewMeetingAsync(meetingBody);
        var pages = new List<IPage>();
        foreach (var name in new[] { "Alice", "Bob", "Carol" }.Take(people))
        {
            var p = await f.AddParticipantAsync(meeting, name);
            var page = await f.OpenAsync(p.Token, 640, 360);
            pages.Add(page);
        }
        foreach (var page in pages)
        {
            await Wait.UntilAsync(async () => await page.EvaluateAsync<bool>("() => window.capstanState.joined"), "participant joined");
        }
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == people, $"{people} live participants");
        return (meeting, pages);
    }

    private async Task<JsonNode> StartAsync(object body)
    {
        var r = await f.Api.PostAsJsonAsync($"{f.AppPath}/recordings", body, TestContext.Current.CancellationToken);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        return json!["data"]!;
    }

    private async Task<JsonNode> ActAsync(string id, string action)
    {
        var r = await f.Api.PutAsJsonAsync($"{f.AppPath}/recordings/{id}", new { action }, TestContext.Current.CancellationToken);
        var json = await r.Content.ReadFromJsonAsync<JsonObject>(TestContext.Current.CancellationToken);
        Assert.True(r.StatusCode == HttpStatusCode.OK, json!.ToJsonString());
        return json!["data"]!;
    }

    private async Task<JsonNode> WaitStatusAsync(string id, string status, double seconds = 30)
    {
        JsonNode? rec = null;
        await Wait.UntilAsync(async () =>
        {
            rec = await f.GetAsync($"/recordings/{id}");
            var s = rec!["status"]!.GetValue<string>();
            Assert.True(s != "ERRORED" || status == "ERRORED", "the recording ERRORED: " + rec.ToJsonString());
            return s == status;
        }, $"recording {status}", seconds);
        return rec!;
    }

    private async Task<string> DownloadAsync(string url, string extension)
    {
        var file = Path.Combine(Path.GetTempPath(), $"capstan-test-{Guid.NewGuid():N}.{extension}");
        using var http = new HttpClient();
        await File.WriteAllBytesAsync(file, await http.GetByteArrayAsync(new Uri(url), TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);
        return file;
    }

    private static async Task CloseAsync(IEnumerable<IPage> pages)
    {
        foreach (var p in pages)
        {
            await p.Context.CloseAsync();
        }
    }

    [Fact]
    public async Task TwoParticipants_WithPause_GiveOneContinuousH264AacFile_AndAnAudioFile()
    {
        var (meeting, pages) = await MeetingWithPeopleAsync(2);
        var rec = await StartAsync(new { meeting_id = meeting, video_config = new { width = 640, height = 360 }, audio_config = new { codec = "AAC", channel = "stereo" } });
        var id = rec["id"]!.GetValue<string>();
        var recording = await WaitStatusAsync(id, "RECORDING");
        var started = DateTime.Parse(recording["started_time"]!.GetValue<string>(), CultureInfo.InvariantCulture).ToUniversalTime();

        await Task.Delay(4000, TestContext.Current.CancellationToken);
        var paused = await ActAsync(id, "pause");
        var pausedAt = DateTime.UtcNow;
        Assert.Equal("PAUSED", paused["status"]!.GetValue<string>());
        await Task.Delay(2000, TestContext.Current.CancellationToken);
        Assert.Equal("RECORDING", (await ActAsync(id, "resume"))["status"]!.GetValue<string>());
        var resumedAt = DateTime.UtcNow;
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        Assert.Equal("UPLOADING", (await ActAsync(id, "stop"))["status"]!.GetValue<string>());
        var stoppedAt = DateTime.UtcNow;
        var done = await WaitStatusAsync(id, "UPLOADED");
        await CloseAsync(pages);

        var recorded = (pausedAt - started).TotalSeconds + (stoppedAt - resumedAt).TotalSeconds;
        var video = await DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var facts = await MediaFacts.ProbeAsync(video);
        Assert.InRange(facts.Duration, recorded - 0.5, recorded + 0.5);
        Assert.Equal(("h264", 640, 360, "aac", 2), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec, facts.AudioChannels));
        Assert.True(await MediaFacts.MeanVolumeAsync(video) > -50, "audio is silent");
        Assert.True(await MediaFacts.AverageLumaAsync(video) > 40, "video is black");
        Assert.Equal(new FileInfo(video).Length, done["file_size"]!.GetValue<long>());
        Assert.Equal((long)Math.Round(facts.Duration, MidpointRounding.AwayFromZero), done["recording_duration"]!.GetValue<long>());
        Assert.EndsWith(".mp4", done["output_file_name"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.NotNull(done["download_url_expiry"]);

        var audio = await DownloadAsync(done["audio_download_url"]!.GetValue<string>(), "m4a");
        var audioFacts = await MediaFacts.ProbeAsync(audio);
        Assert.Null(audioFacts.VideoCodec);
        Assert.Equal("aac", audioFacts.AudioCodec);
        Assert.InRange(audioFacts.Duration, facts.Duration - 0.3, facts.Duration + 0.3);
        File.Delete(video);
        File.Delete(audio);
    }
}
