using Capstan.Cli;
using Capstan.Client.Tests.Infrastructure;

namespace Capstan.Media.Tests;

/// <summary>The CLI (<c>./capstan rtk</c>) on a real recording: started, followed with <c>wait</c>, stopped, followed
/// to UPLOADED, downloaded, and the file checked with ffprobe.</summary>
public sealed class CliMediaTests(MediaFixture f) : IClassFixture<MediaFixture>
{
    [Fact]
    public async Task Cli_StartsWaitsStopsAndDownloadsARealRecording()
    {
        var env = new Dictionary<string, string>
        {
            ["CAPSTAN_URL"] = f.BaseUrl.ToString(),
            ["CAPSTAN_TOKEN"] = f.Api.DefaultRequestHeaders.Authorization!.Parameter!,
            ["CAPSTAN_ACCOUNT_ID"] = f.AccountId,
            ["CAPSTAN_APP_ID"] = f.AppId.ToString("D"),
        };
        var meeting = await f.NewMeetingAsync(new { title = "CLI" });
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var page = await f.OpenAsync(alice.Token, 640, 360);
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == 1, "a live session");

        var start = await CliRunner.RunAsync(env, "rtk", "recordings", "start", meeting, "--width", "640", "--height", "360", "-o", "id");
        Assert.True(start.ExitCode == ExitCodes.Ok, start.ToString());
        var id = start.Out.Trim();
        var recording = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", id, "--until", "RECORDING", "--timeout", "30s");
        Assert.True(recording.ExitCode == ExitCodes.Ok, recording.ToString());
        await Task.Delay(3000, TestContext.Current.CancellationToken);
        var stop = await CliRunner.RunAsync(env, "rtk", "recordings", "stop", id);
        Assert.True(stop.ExitCode == ExitCodes.Ok, stop.ToString());
        var uploaded = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", id, "--timeout", "60s");
        Assert.True(uploaded.ExitCode == ExitCodes.Ok, uploaded.ToString());
        Assert.Contains("UPLOADED", uploaded.Out + uploaded.Error, StringComparison.Ordinal);
        await page.Context.CloseAsync();

        var dir = Directory.CreateTempSubdirectory("capstan-cli-").FullName;
        try
        {
            var download = await CliRunner.RunInAsync(dir, env, "rtk", "recordings", "download", id);
            Assert.True(download.ExitCode == ExitCodes.Ok, download.ToString());
            var file = Assert.Single(Directory.GetFiles(dir));
            var facts = await MediaFacts.ProbeAsync(file);
            Assert.Equal(("h264", 640, 360, "aac"), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec));
            Assert.InRange(facts.Duration, 2.5, 5);
            Assert.Equal(new FileInfo(file).Length, (await f.GetAsync($"/recordings/{id}"))!["file_size"]!.GetValue<long>());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
