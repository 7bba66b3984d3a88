using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Capstan.Client.Models;
using Capstan.Client.Tests.Infrastructure;

namespace Capstan.Client.Tests;

/// <summary>The README's SDK and CLI examples, run as written against a live server.</summary>
public sealed partial class ReadmeTests(ClientServer server)
{
    private static string Readme => File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "README.md"));

    /// <summary>The fenced block between <c>&lt;!-- name:start</c> and <c>&lt;!-- name:end --&gt;</c>.</summary>
    private static string Block(string text, string name)
    {
        var m = Regex.Match(text, $@"<!-- {name}:start[^\n]*-->\n```\w+\n(.*?)```\n<!-- {name}:end -->", RegexOptions.Singleline);
        Assert.True(m.Success, $"README.md has no {name} block");
        return m.Groups[1].Value;
    }

    [Fact]
    public async Task SdkExample_IsThisRegion_AndRuns()
    {
        var source = File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "tests", "Capstan.Client.Tests", "ReadmeTests.cs"));
        var region = Regex.Match(source, @"#region readme-sdk\n(.*?)\n\s*#endregion", RegexOptions.Singleline).Groups[1].Value;
        var lines = region.Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        var dedented = string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())) + "\n";
        Assert.Equal(Block(Readme, "readme-sdk"), dedented);

        var account = await server.CreateAccountAsync();
        var (url, token, accountId, appId) = (server.BaseUrl.ToString(), account.Token, account.AccountId, account.AppId.ToString("D"));
#pragma warning disable xUnit1051 // The README shows the calls without a token (it is optional).
        #region readme-sdk
        using var client = new CapstanClient(new Uri(url), token, accountId);
        var rtk = client.RealtimeKit;

        var meeting = await rtk.Meetings.CreateAsync(appId, new CreateMeetingOptions { Title = "Weekly" });
        var recording = await rtk.Recordings.StartRecordingsAsync(appId, new StartRecordingOptions
        {
            MeetingId = meeting.Id,
            VideoConfig = new VideoConfig { Codec = "H264", Width = 1280, Height = 720 },
        });

        // One page, or every page with the auto-paging enumerable.
        Page<Recording> page = await rtk.Recordings.GetRecordingsAsync(appId, new RecordingListOptions { PerPage = 50 });
        await foreach (var r in rtk.Recordings.GetRecordingsAutoPagingAsync(appId, new RecordingListOptions { Status = ["INVOKED", "RECORDING"] }))
        {
            Console.WriteLine($"{r.Id} {r.Status} {r.OutputFileName}");
        }

        try
        {
            await rtk.Recordings.StartRecordingsAsync(appId, new StartRecordingOptions { MeetingId = meeting.Id });
        }
        catch (CapstanApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            Console.WriteLine($"already recording: {e.ErrorMessage} ({e.ErrorCode}); body: {e.RawBody}");
        }

        await rtk.Recordings.StopAsync(appId, recording.Id);
        #endregion
#pragma warning restore xUnit1051

        Assert.Equal(recording.Id, Assert.Single(page).Id);
        Assert.Equal(RecordingStatus.Errored, (await rtk.Recordings.GetOneRecordingAsync(appId, recording.Id, TestContext.Current.CancellationToken)).Status);
    }

    [Fact]
    public async Task CliExample_RunsAsWritten()
    {
        var script = Block(Readme, "readme-cli");
        Assert.Contains("./capstan rtk recordings download", script, StringComparison.Ordinal);
        var account = await server.CreateAccountAsync();
        var dir = Directory.CreateTempSubdirectory("capstan-readme-").FullName;
        // ./capstan here runs the CLI built beside the tests (the real script would build it first).
        var wrapper = Path.Combine(dir, "capstan");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec dotnet \"{CliRunner.DllPath}\" \"$@\"\n", TestContext.Current.CancellationToken);
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        CliRunner.Result result;
        await using (new RecorderStandIn(server, account.AppId))
        {
            result = await CliRunner.ProcessAsync("bash", ["-euo", "pipefail", "-c", script], server.CliVariables(account), dir);
        }
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("UPLOADED", result.Out, StringComparison.Ordinal);
        using var client = new CapstanClient(server.BaseUrl, account.Token, account.AccountId);
        var recording = Assert.Single(await client.RealtimeKit.Recordings.GetRecordingsAsync(account.AppId.ToString("D"), cancellationToken: TestContext.Current.CancellationToken));
        Assert.Equal(recording.Sha256, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(dir, "weekly.mp4"), TestContext.Current.CancellationToken))));
        Directory.Delete(dir, recursive: true);
    }
}
