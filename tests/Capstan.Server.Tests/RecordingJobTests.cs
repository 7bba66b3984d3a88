using System.Net;
using Capstan.Contracts;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>The one job runner (<see cref="RecordingJob"/>): the API's commands reach the capture in order, the
/// stop reasons (<c>max_seconds</c>, a capture given up) are written, a lost capture is restarted and its gap
/// listed, and the files are delivered. A real server and database drive it; the runner's clock is a
/// <see cref="FakeTimeProvider"/>, so no turn of its loop waits on real time, and the capture is a scripted one
/// (the media captures have media suites of their own).</summary>
public sealed class RecordingJobTests(SqliteServer server) : IClassFixture<SqliteServer>
{
    private TestAccount Account => server.Account;

    private IServiceProvider Services => server.Services;

    [Fact]
    public void TheTransitionTable_MapsWhatTheApiWants_ToTheCapturesCommand()
    {
        Assert.Equal(CaptureCommand.Cancel, CaptureCommands.Decide(JobStates.DesiredRecord, RecordingStatus.Errored));
        Assert.Equal(CaptureCommand.Stop, CaptureCommands.Decide(JobStates.DesiredRecord, RecordingStatus.Uploading));
        Assert.Equal(CaptureCommand.Stop, CaptureCommands.Decide(JobStates.DesiredStop, RecordingStatus.Recording));
        Assert.Equal(CaptureCommand.Stop, CaptureCommands.Decide(JobStates.DesiredStop, RecordingStatus.Paused));
        Assert.Equal(CaptureCommand.Pause, CaptureCommands.Decide(JobStates.DesiredPause, RecordingStatus.Recording));
        Assert.Equal(CaptureCommand.Pause, CaptureCommands.Decide(JobStates.DesiredRecord, RecordingStatus.Paused));
        Assert.Equal(CaptureCommand.Record, CaptureCommands.Decide(JobStates.DesiredRecord, RecordingStatus.Recording));
        Assert.Equal(CaptureCommand.Record, CaptureCommands.Decide(JobStates.DesiredRecord, RecordingStatus.Invoked));
    }

    [Fact]
    public void APause_EndsWhereTheApiSetPaused_NeverAfterTheWorkersNow()
    {
        var asked = new DateTime(2026, 12, 7, 9, 0, 0, DateTimeKind.Utc);
        Assert.Equal(asked, RecordingJob.PauseInstant(RecordingStatus.Paused, asked, asked.AddSeconds(0.4)));
        // Another node's clock ahead of this one's: no later than now.
        Assert.Equal(asked, RecordingJob.PauseInstant(RecordingStatus.Paused, asked.AddSeconds(2), asked));
        // Desired PAUSE read before the status (no instant from the API yet): now.
        Assert.Equal(asked, RecordingJob.PauseInstant(RecordingStatus.Recording, asked.AddSeconds(-30), asked));
    }

    [Fact]
    public async Task PauseResumeStop_ReachTheCaptureInOrder_AndTheFileIsDelivered()
    {
        await using var run = await RunAsync(new { });
        await run.WaitForAsync(() => run.Status() == RecordingStatus.Recording, "RECORDING");
        Assert.Equal(run.Capture.StartedAt!.Value, (await run.RowAsync()).StartedTime!.Value, TimeSpan.FromMilliseconds(1));

        // The worker sees the pause on its clock's next turn, here 10 s and more later: the part still ends where the
        // API set PAUSED (its updated_at), as a stopped file ends at stopped_time.
        run.Time.Advance(TimeSpan.FromSeconds(10));
        await run.ActAsync("pause");
        await run.WaitForAsync(() => run.Capture.LastCall == "pause", "the capture paused");
        var paused = await run.RowAsync();
        Assert.Equal(RecordingStatus.Paused, paused.Status);
        Assert.Equal(paused.UpdatedAt, run.Capture.PausedAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.True(run.Time.GetUtcNow().UtcDateTime - run.Capture.PausedAt.Value > TimeSpan.FromSeconds(5));
        await run.ActAsync("resume");
        await run.WaitForAsync(() => run.Capture.LastCall == "record", "the capture recording again");
        await run.ActAsync("stop");
        await run.Finished;

        var row = await run.RowAsync();
        Assert.Equal(RecordingStatus.Uploaded, row.Status);
        Assert.Equal(run.Capture.FileSize, row.FileSize);
        Assert.NotNull(row.DownloadUrl);
        Assert.Contains("\"API_CALL\"", row.StopReasonJson ?? string.Empty, StringComparison.Ordinal);
        var calls = string.Join(",", run.Capture.Calls.Distinct());
        Assert.True(IsSubsequence(["open", "record", "pause", "record", "stop", "produce"], run.Capture.Calls), calls);
        Assert.Null(row.GapsJson);
    }

    [Fact]
    public async Task MaxSeconds_StopsTheRecording_WithItsReason()
    {
        await using var run = await RunAsync(new { max_seconds = 60 });
        await run.WaitForAsync(() => run.Status() == RecordingStatus.Recording, "RECORDING");
        run.Capture.Recorded = 60;
        run.Time.Advance(TimeSpan.FromSeconds(1));
        await run.Finished;

        var row = await run.RowAsync();
        Assert.Equal(RecordingStatus.Uploaded, row.Status);
        Assert.Contains("max_seconds", row.StopReasonJson ?? string.Empty, StringComparison.Ordinal);
        Assert.Contains("stop", run.Capture.Calls);
    }

    [Fact]
    public async Task ALostCapture_IsRestarted_ItsGapListed_AndGivenUpAfterTheLimit()
    {
        await using var run = await RunAsync(new { }, maxRestarts: 1);
        await run.WaitForAsync(() => run.Status() == RecordingStatus.Recording, "RECORDING");
        var lostAt = run.Time.GetUtcNow().UtcDateTime;
        run.Capture.LoseIt(lastFrame: lostAt);
        run.Time.Advance(TimeSpan.FromSeconds(2));
        await run.WaitForAsync(() => run.Capture.Calls.Contains("restart 1"), "restart 1");
        // The restarted capture's first frame, 2 s later, closes the gap.
        await run.WaitForAsync(() => (run.Row()?.GapsJson ?? string.Empty).Contains('{', StringComparison.Ordinal), "a gap listed");
        var gaps = Mapping.Read<List<RecordingGap>>(run.Row()!.GapsJson!);
        var gap = Assert.Single(gaps);
        // Times are kept to the millisecond.
        Assert.Equal(lostAt, gap.Start, TimeSpan.FromMilliseconds(1));
        Assert.Equal(run.Capture.StartedAt!.Value, gap.End, TimeSpan.FromMilliseconds(1));
        Assert.True(gap.End > gap.Start);

        // Lost again: the restarts are used up; the recording stops with INTERNAL_ERROR and what was captured is delivered.
        run.Capture.LoseIt(lastFrame: run.Time.GetUtcNow().UtcDateTime);
        run.Time.Advance(TimeSpan.FromSeconds(1));
        await run.Finished;
        var row = await run.RowAsync();
        Assert.Equal(RecordingStatus.Uploaded, row.Status);
        Assert.Contains("INTERNAL_ERROR", row.StopReasonJson ?? string.Empty, StringComparison.Ordinal);
        Assert.DoesNotContain("restart 2", run.Capture.Calls);
    }

    [Fact]
    public async Task StoppedBeforeItStarted_IsCancelled_AndNothingIsDelivered()
    {
        await using var run = await RunAsync(new { }, firstFrame: false);
        await run.WaitForAsync(() => run.Capture.Calls.Contains("record"), "the capture asked to record");
        await run.ActAsync("stop");
        await run.Finished;
        Assert.Equal(RecordingStatus.Errored, (await run.RowAsync()).Status);
        Assert.DoesNotContain("produce", run.Capture.Calls);
        Assert.Contains("cleanup", run.Capture.Calls);
    }

    private static bool IsSubsequence(IReadOnlyList<string> wanted, IReadOnlyList<string> calls)
    {
        var i = 0;
        foreach (var c in calls)
        {
            if (i < wanted.Count && c == wanted[i])
            {
                i++;
            }
        }
        return i == wanted.Count;
    }

    private async Task<Run> RunAsync(object extra, int maxRestarts = 3, bool firstFrame = true)
    {
        var ct = TestContext.Current.CancellationToken;
        var client = Account.Client();
        var meeting = (await client.PostJsonAsync($"{Account.AppPath}/meetings", new { title = "Runner" })).Data(HttpStatusCode.Created).Str("id");
        var body = System.Text.Json.JsonSerializer.SerializeToNode(extra)!.AsObject();
        body["meeting_id"] = meeting;
        var id = Guid.Parse((await client.PostJsonAsync($"{Account.AppPath}/recordings", body)).Data().Str("id"));

        // The job, claimed by this test's owner (the server's own recorder is off).
        var owner = "runner-test-" + Guid.NewGuid().ToString("N")[..8];
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        RecorderJobRow job;
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
            await db.RecorderJobs.Where(j => j.RecordingId == id).ExecuteUpdateAsync(u => u.SetProperty(j => j.State, JobStates.Claimed).SetProperty(j => j.LeaseOwner, owner)
                .SetProperty(j => j.LeaseExpiresAt, DateTime.UtcNow.AddMinutes(10)), ct);
            job = Assert.Single(await scope.ServiceProvider.GetRequiredService<JobQueue>().ReclaimAsync(owner, TimeSpan.FromMinutes(10), RecordingTypes.Composite, ct));
        }
        var s = server.Services;
        var options = new RecorderOptions { PollInterval = TimeSpan.FromSeconds(1), Lease = TimeSpan.FromMinutes(10), MaxCaptureRestarts = maxRestarts };
        var ctx = new RecordingJobContext(options, s.GetRequiredService<IServiceScopeFactory>(), s.GetRequiredService<DefaultBucket>(), s.GetRequiredService<Storage.UploadSpool>(),
            s.GetRequiredService<Security.SecretProtector>(), s.GetRequiredService<RecorderSignals>(), time, s.GetRequiredService<ILogger<RecordingJob>>(), owner, null);
        var capture = new ScriptedCapture(Path.Combine(Path.GetTempPath(), "capstan-runner-" + id.ToString("N")), time, firstFrame);
        var cts = new CancellationTokenSource();
        var runner = new RecordingJob(job, ctx, _ => capture);
        return new Run(this, id, capture, time, cts, Task.Run(() => runner.RunAsync(cts.Token), CancellationToken.None));
    }

    private sealed class Run(RecordingJobTests owner, Guid id, ScriptedCapture capture, FakeTimeProvider time, CancellationTokenSource cts, Task running) : IAsyncDisposable
    {
        public ScriptedCapture Capture => capture;

        public FakeTimeProvider Time => time;

        public Task Finished => running.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        public RecordingRow? Row()
        {
            using var scope = owner.Services.CreateScope();
            return scope.ServiceProvider.GetRequiredService<CapstanDbContext>().Recordings.AsNoTracking().FirstOrDefault(r => r.Id == id);
        }

        public async Task<RecordingRow> RowAsync()
        {
            await using var scope = owner.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().Recordings.AsNoTracking().FirstAsync(r => r.Id == id, TestContext.Current.CancellationToken);
        }

        public string? Status() => Row()?.Status;

        public async Task ActAsync(string action) =>
            (await owner.Account.Client().PutJsonAsync($"{owner.Account.AppPath}/recordings/{id:D}", new { action })).Data();

        /// <summary>Waits (real time, at most 10 s) for <paramref name="done"/>, advancing the runner's fake clock by
        /// its poll interval meanwhile so that its loop turns.</summary>
        public async Task WaitForAsync(Func<bool> done, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!done())
            {
                Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what + "; calls: " + string.Join(",", capture.Calls));
                Assert.False(running.IsFaulted, running.Exception?.ToString());
                time.Advance(TimeSpan.FromSeconds(1));
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await cts.CancelAsync();
            try
            {
                await running.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (OperationCanceledException)
            {
                // cancelled
            }
            cts.Dispose();
            if (Directory.Exists(capture.Dir))
            {
                Directory.Delete(capture.Dir, recursive: true);
            }
        }
    }

    /// <summary>A capture that records what it is told and makes one small file; its first frame comes when
    /// it is asked to record (at the fake clock's now), and it can be lost on demand.</summary>
    internal sealed class ScriptedCapture(string dir, TimeProvider time, bool firstFrame) : IRecordingCapture
    {
        private readonly Lock _gate = new();
        private readonly List<string> _calls = [];
        private bool _capturing;
        private bool _lost;
        private DateTime? _lastFrame;

        public string Dir => dir;

        public string Kind => "scripted";

        public long FileSize { get; private set; }

        public double Recorded { get; set; }

        public DateTime? StartedAt { get; private set; }

        public IReadOnlyList<string> Calls
        {
            get
            {
                lock (_gate)
                {
                    return [.. _calls];
                }
            }
        }

        public string? LastCall => Calls.LastOrDefault(c => c is not "check");

        private void Call(string what)
        {
            lock (_gate)
            {
                if (what != "record" || _calls.LastOrDefault() != "record")
                {
                    _calls.Add(what);
                }
            }
        }

        public void LoseIt(DateTime lastFrame)
        {
            _lastFrame = lastFrame;
            _lost = true;
        }

        public bool Capturing => false;

        public double RecordedSeconds => Recorded;

        public TimeSpan NextCheck(bool awaitingFrame) => TimeSpan.FromSeconds(1);

        public void Tag(System.Diagnostics.Activity span)
        {
        }

        public Task<DateTime?> ResumeAsync(bool wasRecording, CancellationToken ct) => Task.FromResult<DateTime?>(null);

        public Task OpenAsync(bool gapOpen, CancellationToken ct)
        {
            Call("open");
            return Task.CompletedTask;
        }

        public Task RecordAsync(CancellationToken ct)
        {
            Call("record");
            if (!_capturing && firstFrame)
            {
                _capturing = true;
                StartedAt = time.GetUtcNow().UtcDateTime;
            }
            return Task.CompletedTask;
        }

        public DateTime? PausedAt { get; private set; }

        public Task PauseAsync(DateTime at, CancellationToken ct)
        {
            Call("pause");
            PausedAt ??= at;
            _capturing = false;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken ct)
        {
            Call("stop");
            _capturing = false;
            return Task.CompletedTask;
        }

        public Task<CaptureCheck> CheckAsync(bool awaitingFrame, CancellationToken ct) =>
            Task.FromResult(_lost ? new CaptureCheck(Lost: true, LastFrame: _lastFrame) : new CaptureCheck(_capturing ? StartedAt : null));

        public Task RestartAsync(int restart, bool gapOpen, CancellationToken ct)
        {
            Call("restart " + restart);
            _lost = false;
            return Task.CompletedTask;
        }

        public string Tail() => "scripted";

        public void LogFirstFrame(DateTime first, RecordingGap? gap)
        {
        }

        public async Task<CaptureDelivery?> ProduceAsync(CancellationToken ct)
        {
            Call("produce");
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, "file.mp4");
            await File.WriteAllBytesAsync(path, new byte[1234], ct);
            FileSize = 1234;
            var delivery = new CaptureDelivery { DurationSeconds = 1 };
            delivery.Files.Add(await CaptureFile.DescribeAsync("video", null, path, "file.mp4", ct));
            return delivery;
        }

        public void Produced()
        {
        }

        public string NothingCaptured => "nothing";

        public IReadOnlyList<CaptureDestination> Destinations => [new("composite", true, null, _ => true, f => f.Name)];

        public DeliveredRecording Describe(CaptureDelivery delivery, IReadOnlyDictionary<string, string> links) =>
            new(delivery.Files[0].Size, 1, delivery.Files[0].Sha256, DownloadUrl: links.GetValueOrDefault(delivery.Files[0].Name));

        public void CleanUp() => Call("cleanup");

        public ValueTask DisposeAsync()
        {
            Call("dispose");
            _capturing = false;
            return ValueTask.CompletedTask;
        }
    }
}
