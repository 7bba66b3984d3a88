using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Capstan.Media.Tests;

/// <summary>Admission by measured cost with the real recorder: a recording's processes (Xvfb, the Chromium tree, the
/// capture, its share of PulseAudio) are measured from <c>/proc</c> while it records, its class's estimate moves off
/// the prior, and the node reports it in <c>GET .../system</c>.</summary>
public sealed class AdmissionMediaTests(MediaFixture f) : IClassFixture<MediaFixture>, IAsyncDisposable
{
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private async Task<JsonNode> ThisNodeAsync()
    {
        var system = await f.Api.GetFromJsonAsync<JsonObject>($"/client/v4/accounts/{f.AccountId}/system", TestContext.Current.CancellationToken);
        return system!["data"]!["nodes"]!.AsArray().Single(n => n!["this_process"]!.GetValue<bool>())!;
    }

    [Fact]
    public async Task ARecording_IsMeasured_AndTheNodeReportsItsCapacity()
    {
        var (meeting, pages) = await RecordingMediaTests.MeetingWithPeopleAsync(f, 1);
        var id = (await RecordingMediaTests.StartAsync(f, new { meeting_id = meeting, video_config = new { width = 640, height = 360 } }))["id"]!.GetValue<string>();
        await f.WaitStatusAsync(id, "RECORDING");

        // The fixture records at 15 fps: class browser:360p15. Samples every 3 s, reports every 5 s.
        JsonNode? estimate = null;
        JsonNode? capacity = null;
        await Wait.UntilAsync(async () =>
        {
            capacity = (await ThisNodeAsync())["capacity"];
            estimate = capacity?["classes"]?["browser:360p15"];
            return estimate?["measured"]?.GetValue<bool>() == true && capacity!["cpu_used"]!.GetValue<double>() > 0;
        }, "a measured estimate of browser:360p15 in this node's row", seconds: 25);
        var cores = estimate!["cores"]!.GetValue<double>();
        var memory = estimate["memory_bytes"]!.GetValue<long>();
        TestContext.Current.SendDiagnosticMessage($"browser:360p15 measured: {cores:F3} cores, {memory >> 20} MiB; node: {capacity}");
        Assert.InRange(cores, 0.02, 2.0); // Chromium drawing the meeting and the capture encoding it use something
        Assert.InRange(memory, 50L << 20, 1L << 30); // Xvfb and a Chromium tree: tens to hundreds of MiB of PSS
        Assert.InRange(capacity!["cpu_cores"]!.GetValue<double>(), 0.1, 0.8 * Environment.ProcessorCount + 0.001);
        Assert.Equal(1, capacity["recordings"]!.GetValue<int>());

        await f.ActAsync(id, "stop");
        var done = await f.WaitStatusAsync(id, "UPLOADED");
        await RecordingMediaTests.CloseAsync(pages);
        var file = await MediaFixture.DownloadAsync(done["download_url"]!.GetValue<string>(), "mp4");
        var facts = await MediaFacts.ProbeAsync(file);
        Assert.Equal(("h264", 640, 360), (facts.VideoCodec, facts.Width, facts.Height));
        File.Delete(file);
    }
}
