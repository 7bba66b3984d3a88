using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Cli;
using Capstan.Client;
using Capstan.Client.Models;
using Capstan.Client.Tests.Infrastructure;

namespace Capstan.Media.Tests;

/// <summary>The SDK, the CLI (<c>./capstan rtk</c>) and the README's CLI example on real recordings made by the
/// recorder: started, followed, paused and resumed, stopped, followed to UPLOADED, downloaded with progress and
/// the SHA-256 checked, and the file checked with ffprobe.</summary>
public sealed class ClientMediaTests(MediaFixture f) : IClassFixture<MediaFixture>, IAsyncDisposable
{
    /// <summary>Stops what the test left running (<see cref="MediaFixture.AfterTestAsync"/>).</summary>
    public async ValueTask DisposeAsync() => await f.AfterTestAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Token => f.Api.DefaultRequestHeaders.Authorization!.Parameter!;

    private Dictionary<string, string> CliVariables => new()
    {
        ["CAPSTAN_URL"] = f.BaseUrl.ToString().TrimEnd('/'),
        ["CAPSTAN_TOKEN"] = Token,
        ["CAPSTAN_ACCOUNT_ID"] = f.AccountId,
        ["CAPSTAN_APP_ID"] = f.AppId.ToString("D"),
    };

    /// <summary>A meeting with Alice in it (a live session); returns the meeting id and her page.</summary>
    private async Task<(string Meeting, Microsoft.Playwright.IPage Page)> LiveMeetingAsync(string title)
    {
        var meeting = await f.NewMeetingAsync(new { title });
        var alice = await f.AddParticipantAsync(meeting, "Alice");
        var page = await f.OpenAsync(alice.Token, 640, 360);
        await Wait.UntilAsync(async () => (await f.GetAsync($"/meetings/{meeting}/active-session"))?["live_participants"]?.GetValue<int>() == 1, "a live session");
        return (meeting, page);
    }

    [Fact]
    public async Task Sdk_PausesResumesStops_WaitsUntilUploaded_AndDownloadsWithProgress()
    {
        var (meeting, page) = await LiveMeetingAsync("SDK");
        using var client = new CapstanClient(f.BaseUrl, Token, f.AccountId);
        var r = client.RealtimeKit.Recordings;
        var app = f.AppId.ToString("D");
        var started = await r.StartRecordingsAsync(app, new StartRecordingOptions { MeetingId = meeting, VideoConfig = new VideoConfig { Width = 640, Height = 360 } }, Ct);
        Recording? recording = null;
        await Wait.UntilAsync(async () => (recording = await r.GetOneRecordingAsync(app, started.Id, Ct)).Status == RecordingStatus.Recording, "RECORDING");
        Assert.NotNull(recording!.StartedTime);
        await Task.Delay(1500, Ct);
        Assert.Equal(RecordingStatus.Paused, (await r.PauseAsync(app, started.Id, Ct)).Status);
        var pausedAt = DateTimeOffset.UtcNow;
        await Task.Delay(3000, Ct);
        Assert.Equal(RecordingStatus.Recording, (await r.ResumeAsync(app, started.Id, Ct)).Status);
        var paused = DateTimeOffset.UtcNow - pausedAt;
        await Task.Delay(1500, Ct);
        Assert.Equal(RecordingStatus.Uploading, (await r.StopAsync(app, started.Id, Ct)).Status);
        var done = await r.WaitUntilFinishedAsync(app, started.Id, TimeSpan.FromMilliseconds(200), cancellationToken: Ct);
        await page.Context.CloseAsync();
        Assert.Equal(RecordingStatus.Uploaded, done.Status);
        Assert.False(done.DownloadUrl!.IsLayers);

        var path = Path.Combine(Path.GetTempPath(), $"capstan-sdk-{Guid.NewGuid():N}.mp4");
        var reports = new List<DownloadProgress>();
        long bytes;
        await using (var file = File.Create(path))
        {
            bytes = await r.DownloadAsync(done.DownloadUrl.Url!, file, new SyncProgress<DownloadProgress>(reports.Add), Ct);
        }
        Assert.Equal(done.FileSize, bytes);
        Assert.Equal(done.Sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path, Ct))));
        Assert.True(reports.Count >= 2, "progress was reported as the bytes came");
        Assert.Equal(bytes, reports[^1].BytesReceived);
        var facts = await MediaFacts.ProbeAsync(path);
        Assert.Equal(("h264", 640, 360, "aac"), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec));
        // Pauses are joined over: the file is the recorded time less what the resumed capture takes to grab its first
        // frame. Its capture host is launched at the pause and used if it warmed during it (first frame about 0.1 s
        // after the resume); under the whole suite's load it was not always warm 2.5 s later, and a gst-launch
        // started at the resume then played 0.7 to 2 s after it (1.90 s of file for 3.4 s recorded in a CI run).
        var recorded = (done.StoppedTime!.Value - done.StartedTime!.Value - paused).TotalSeconds;
        Assert.InRange(facts.Duration, recorded - 2.0, recorded + 0.5);
        File.Delete(path);
    }

    [Fact]
    public async Task Cli_StartsWaitsStops_ThenDownloadsWithProgressAndAVerifiedSha256()
    {
        var env = CliVariables;
        var (meeting, page) = await LiveMeetingAsync("CLI");
        var start = await CliRunner.RunAsync(env, "rtk", "recordings", "start", meeting, "--width", "640", "--height", "360", "-o", "id");
        Assert.True(start.ExitCode == ExitCodes.Ok, start.ToString());
        var id = start.Out.Trim();
        var dir = Directory.CreateTempSubdirectory("capstan-cli-").FullName;
        try
        {
            var early = await CliRunner.RunInAsync(dir, env, "rtk", "recordings", "download", id);
            Assert.Equal(ExitCodes.Refused, early.ExitCode);
            Assert.Contains("not UPLOADED yet", early.Error, StringComparison.Ordinal);
            var recording = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", id, "--until", "RECORDING", "--timeout", "30s");
            Assert.True(recording.ExitCode == ExitCodes.Ok, recording.ToString());
            await Task.Delay(3000, Ct);
            var stop = await CliRunner.RunAsync(env, "rtk", "recordings", "stop", id);
            Assert.True(stop.ExitCode == ExitCodes.Ok, stop.ToString());
            var uploaded = await CliRunner.RunAsync(env, "rtk", "recordings", "wait", id, "--timeout", "60s", "--interval", "200ms");
            Assert.True(uploaded.ExitCode == ExitCodes.Ok, uploaded.ToString());
            // Not a terminal: one plain line per status, with the elapsed time.
            Assert.Contains("UPLOADED  elapsed", uploaded.Out, StringComparison.Ordinal);
            await page.Context.CloseAsync();

            var download = await CliRunner.RunInAsync(dir, env, "rtk", "recordings", "download", id);
            Assert.True(download.ExitCode == ExitCodes.Ok, download.ToString());
            var file = Assert.Single(Directory.GetFiles(dir));
            var done = (await f.GetAsync($"/recordings/{id}"))!;
            Assert.Equal(done["output_file_name"]!.GetValue<string>(), Path.GetFileName(file));
            Assert.Equal(done["sha256"]!.GetValue<string>(), Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(file, Ct))));
            Assert.Equal(new FileInfo(file).Length, done["file_size"]!.GetValue<long>());
            Assert.Contains("0% (0 B of ", download.Out, StringComparison.Ordinal);
            Assert.Contains("100% (", download.Out, StringComparison.Ordinal);
            Assert.Contains("sha256 verified", download.Out, StringComparison.Ordinal);
            var facts = await MediaFacts.ProbeAsync(file);
            Assert.Equal(("h264", 640, 360, "aac"), (facts.VideoCodec, facts.Width, facts.Height, facts.AudioCodec));
            // 3 s after RECORDING was seen; under load the file can hold up to ~3 s more from before it: the capture
            // starts before the first encoded frame is reported (a known gap: README, "Known limits").
            Assert.InRange(facts.Duration, 2.5, 6.5);

            var again = await CliRunner.RunInAsync(dir, env, "rtk", "recordings", "download", id);
            Assert.Equal(ExitCodes.Usage, again.ExitCode);
            var json = await CliRunner.RunInAsync(dir, env, "rtk", "recordings", "download", id, "--file", "copy.mp4", "-o", "json");
            Assert.True(json.ExitCode == ExitCodes.Ok, json.ToString());
            var saved = JsonDocument.Parse(json.Out).RootElement[0];
            Assert.Equal(Path.Combine(dir, "copy.mp4"), saved.GetProperty("path").GetString());
            Assert.True(saved.GetProperty("verified").GetBoolean());
            Assert.Contains("100%", json.Error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ReadmeCliExample_RunsAsWritten_OnARealRecording()
    {
        var script = Readme.Block("readme-cli");
        Assert.Contains("./capstan rtk recordings download", script, StringComparison.Ordinal);
        var dir = Directory.CreateTempSubdirectory("capstan-readme-").FullName;
        try
        {
            // ./capstan here runs the CLI built beside the tests (the real script builds it first).
            var wrapper = Path.Combine(dir, "capstan");
            await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec dotnet \"{CliRunner.DllPath}\" \"$@\"\n", Ct);
            File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var result = await CliRunner.ProcessAsync("bash", ["-euo", "pipefail", "-c", script], CliVariables, dir);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("UPLOADED", result.Out, StringComparison.Ordinal);
            var file = Path.Combine(dir, "weekly.mp4");
            var facts = await MediaFacts.ProbeAsync(file);
            Assert.Equal(("h264", "aac"), (facts.VideoCodec, facts.AudioCodec));
            Assert.True(facts.Duration > 0.2, $"duration {facts.Duration}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
