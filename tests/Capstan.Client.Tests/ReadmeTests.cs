using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Capstan.Client.Models;
using Capstan.Client.Webhooks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Capstan.Client.Tests.Infrastructure;

namespace Capstan.Client.Tests;

/// <summary>The README's SDK example, run as written against a live server (the CLI example runs against a real
/// recording in tests/Capstan.Media.Tests/ClientMediaTests.cs).</summary>
public sealed partial class ReadmeTests(ClientServer server)
{
    /// <summary>The README block <paramref name="name"/> is, word for word, the region of that name in this file.</summary>
    private static void AssertReadmeIsRegion(string name)
    {
        var source = File.ReadAllText(Path.Combine(CliRunner.RepoRoot, "tests", "Capstan.Client.Tests", "ReadmeTests.cs"));
        var region = Regex.Match(source, $@"#region {name}\n(.*?)\n\s*#endregion", RegexOptions.Singleline).Groups[1].Value;
        var lines = region.Split('\n');
        var indent = lines.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        var dedented = string.Join('\n', lines.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())) + "\n";
        Assert.Equal(Readme.Block(name), dedented);
    }

    [Fact]
    public async Task WebhookExample_IsThisRegion_AndVerifiesARealDelivery()
    {
        AssertReadmeIsRegion("readme-webhook");
        var account = await server.CreateAccountAsync();
        var (url, token, accountId, appId) = (server.BaseUrl.ToString(), account.Token, account.AccountId, account.AppId.ToString("D"));
        var events = System.Threading.Channels.Channel.CreateUnbounded<WebhookEvent>();
        var receiver = WebApplication.CreateSlimBuilder();
        receiver.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = receiver.Build();
        Task OnEventAsync(WebhookEvent ev) => events.Writer.WriteAsync(ev).AsTask();
#pragma warning disable xUnit1051 // The README shows the calls without a token (it is optional).
        #region readme-webhook
        using var capstan = new CapstanClient(new Uri(url), token, accountId);
        var verifier = await capstan.RealtimeKit.Webhooks.GetVerifierAsync(); // the key from /.well-known/webhooks.json

        app.MapPost("/capstan/webhooks", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body); // verify the raw bytes, before any JSON parsing
            try
            {
                var ev = verifier.ConstructEvent(body.ToArray(), name => request.Headers[name].FirstOrDefault());
                await OnEventAsync(ev); // ev.Event: "recording.statusUpdate", "meeting.started", ...; ev.Payload: the JSON
                return Results.Ok();
            }
            catch (WebhookSignatureException)
            {
                return Results.Unauthorized(); // not from this Capstan, or altered on the way
            }
        });
        #endregion
#pragma warning restore xUnit1051
        await app.StartAsync(Ct);
        var hookUrl = app.Urls.First() + "/capstan/webhooks";
        await capstan.RealtimeKit.Webhooks.CreateWebhookAsync(appId, new CreateWebhookOptions { Name = "readme", Url = hookUrl, Events = [WebhookEvents.RecordingStatusUpdate] }, Ct);
        var meeting = await capstan.RealtimeKit.Meetings.CreateAsync(appId, cancellationToken: Ct);
        var recording = await capstan.RealtimeKit.Recordings.StartRecordingsAsync(appId, new StartRecordingOptions { MeetingId = meeting.Id }, Ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
        var received = await events.Reader.ReadAsync(deadline.Token);
        Assert.Equal(WebhookEvents.RecordingStatusUpdate, received.Event);
        Assert.Equal(recording.Id, received.Payload.GetProperty("recording").GetProperty("id").GetString());

        // A forged delivery is refused by the same handler.
        using var http = new HttpClient();
        using var forged = await http.PostAsync(new Uri(hookUrl), new StringContent("{\"event\":\"recording.statusUpdate\"}"), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        await app.StopAsync(Ct);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SdkExample_IsThisRegion_AndRuns()
    {
        AssertReadmeIsRegion("readme-sdk");

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
