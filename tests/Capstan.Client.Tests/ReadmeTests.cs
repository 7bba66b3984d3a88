using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Capstan.Client.Models;
using Capstan.Client.Tests.Infrastructure;

namespace Capstan.Client.Tests;

/// <summary>The README's SDK example, run as written against a live server (the CLI example runs against a real
/// recording in tests/Capstan.Media.Tests/ClientMediaTests.cs).</summary>
public sealed partial class ReadmeTests(ClientServer server)
{
    [Fact]
    public async Task SdkExample_IsThisRegion_AndRuns()
    {
        var source = File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "tests", "Capstan.Client.Tests", "ReadmeTests.cs"));
        var region = Regex.Match(source, @"#region readme-sdk\n(.*?)\n\s*#endregion", RegexOptions.Singleline).Groups[1].Value;
        var lines = region.Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        var dedented = string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())) + "\n";
        Assert.Equal(Readme.Block("readme-sdk"), dedented);

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
}
