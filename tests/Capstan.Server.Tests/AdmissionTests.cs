using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Capstan.Server.Tests;

/// <summary>Fixed <c>/proc</c> readings: processes with their parent, CPU seconds and memory, and the machine.</summary>
internal sealed class FakeProcessReader : IProcessReader
{
    private readonly ConcurrentDictionary<int, (int Parent, ProcessUse Use)> _processes = new();

    public MachineSize Size { get; set; } = new(2, 8L << 30, 16L << 30);

    public void Set(int pid, int parent, double cpuSeconds, long memoryBytes, long started = 1) =>
        _processes[pid] = (parent, new ProcessUse(started, cpuSeconds, memoryBytes));

    public void Remove(int pid) => _processes.TryRemove(pid, out _);

    public IReadOnlyCollection<int> Tree(IEnumerable<int> roots)
    {
        var found = new HashSet<int>();
        var frontier = new Queue<int>(roots.Where(_processes.ContainsKey));
        while (frontier.TryDequeue(out var p))
        {
            if (found.Add(p))
            {
                foreach (var child in _processes.Where(kv => kv.Value.Parent == p).Select(kv => kv.Key))
                {
                    frontier.Enqueue(child);
                }
            }
        }
        return found;
    }

    public ProcessUse? Read(int pid) => _processes.TryGetValue(pid, out var p) ? p.Use : null;

    public MachineSize Machine() => Size;
}

/// <summary>The meter alone, on fixed readings and a fake clock: estimates from samples, what fits, the options.</summary>
public sealed class CostMeterTests
{
    private const long MiB = 1024 * 1024;
    private static readonly CostClass Browser720 = new(CostClass.Browser, "720p30");
    private static readonly CostClass Browser1080 = new(CostClass.Browser, "1080p30");

    private static (CostMeter Meter, FakeProcessReader Reader, FakeTimeProvider Time) NewMeter(RecorderOptions? options = null)
    {
        var reader = new FakeProcessReader();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        return (new CostMeter(reader, time, options ?? new RecorderOptions(), NullLogger<CostMeter>.Instance), reader, time);
    }

    [Fact]
    public void Estimate_IsThePriorUntilMeasured_ThenFollowsTheSamplesOfTheProcessTrees()
    {
        var (meter, reader, time) = NewMeter();
        var recording = Guid.NewGuid();
        Assert.True(meter.Fits(recording, Browser720));
        meter.Begin(recording);
        // Xvfb (10), Chromium (11) with a renderer (12) below it; the shared PulseAudio (50); an unrelated process (99).
        reader.Set(10, 1, 10, 20 * MiB);
        reader.Set(11, 1, 50, 150 * MiB);
        reader.Set(12, 11, 30, 100 * MiB);
        reader.Set(50, 1, 5, 30 * MiB);
        reader.Set(99, 1, 500, 900 * MiB);
        meter.Attach(recording, Browser720, () => [10, 11]);
        meter.Share(() => [50]);

        var prior = meter.Estimate(Browser720);
        Assert.Equal((0.55, 300 * MiB, false), (prior.Cores, prior.MemoryBytes, prior.Measured));
        meter.Sample(); // the baseline: CPU is a difference over time
        Assert.False(meter.Estimate(Browser720).Measured);

        // 3 s later: 0.6 + 1.2 + 0.9 s of CPU in its tree (0.9 core) and 0.3 s of PulseAudio's (0.1 core, all its share).
        time.Advance(TimeSpan.FromSeconds(3));
        reader.Set(10, 1, 10.6, 20 * MiB);
        reader.Set(11, 1, 51.2, 150 * MiB);
        reader.Set(12, 11, 30.9, 100 * MiB);
        reader.Set(50, 1, 5.3, 30 * MiB);
        reader.Set(99, 1, 600, 900 * MiB);
        meter.Sample();
        var first = meter.Estimate(Browser720);
        Assert.True(first.Measured);
        Assert.Equal(1, first.Samples);
        Assert.Equal(1.0, first.Cores, 3);
        Assert.Equal(300 * MiB, first.MemoryBytes);

        // The renderer is replaced by a new process on the same pid (another start time): only its baseline counts.
        // 0.3 core in the other two, no PulseAudio: a moving estimate, 0.7 x 1.0 + 0.3 x 0.3.
        time.Advance(TimeSpan.FromSeconds(3));
        reader.Set(10, 1, 10.9, 20 * MiB);
        reader.Set(11, 1, 51.8, 150 * MiB);
        reader.Set(12, 11, 3, 50 * MiB, started: 2);
        meter.Sample();
        var second = meter.Estimate(Browser720);
        Assert.Equal(2, second.Samples);
        Assert.Equal(0.7 * 1.0 + 0.3 * 0.3, second.Cores, 3);
        Assert.Equal((long)(0.7 * (300 * MiB) + 0.3 * (250 * MiB)), second.MemoryBytes);

        // Another class is still at its prior; the snapshot lists both, with what the running recording uses.
        Assert.False(meter.Estimate(Browser1080).Measured);
        var snapshot = meter.Snapshot();
        Assert.Equal(1, snapshot.Recordings);
        Assert.Equal(1.6, snapshot.CpuCores, 3);
        Assert.Equal(0.3, snapshot.CpuUsed, 3);
        Assert.True(snapshot.Classes["browser:720p30"].Measured);

        // Paused (its capture stopped, the surface kept): what it uses counts, its class's estimate does not move.
        var recordingNow = true;
        meter.Attach(recording, Browser720, () => [10, 11], () => recordingNow);
        recordingNow = false;
        time.Advance(TimeSpan.FromSeconds(3));
        reader.Set(10, 1, 10.93, 20 * MiB);
        reader.Set(11, 1, 51.83, 150 * MiB);
        reader.Set(12, 11, 3, 50 * MiB, started: 2);
        meter.Sample();
        Assert.Equal(0.02, meter.Snapshot().CpuUsed, 3);
        Assert.Equal(2, meter.Estimate(Browser720).Samples);
        Assert.Equal(0.7 * 1.0 + 0.3 * 0.3, meter.Estimate(Browser720).Cores, 3);

        // Its capture torn down (the file being made): it holds nothing any more, and the estimate keeps its samples.
        meter.Attach(recording, Browser720, () => []);
        time.Advance(TimeSpan.FromSeconds(3));
        meter.Sample();
        Assert.Equal((0.0, 0L), (meter.Snapshot().CpuUsed, meter.Snapshot().MemoryUsedBytes));
        Assert.Equal(2, meter.Estimate(Browser720).Samples);
        meter.End(recording);
        Assert.Equal(0, meter.Snapshot().Recordings);
    }

    [Fact]
    public void Fits_TheEstimateInWhatIsLeftOfTheHeadroom_AfterTheRunningRecordings()
    {
        var (meter, reader, time) = NewMeter();
        reader.Size = new MachineSize(2, 4096 * MiB, 16384 * MiB);
        var running = Guid.NewGuid();
        meter.Begin(running);
        meter.Attach(running, Browser720, () => [10]);
        // Until measured it counts at its estimate: 0.55 + 0.8 (1080p) = 1.35 <= 1.6 cores (80% of 2).
        Assert.True(meter.Fits(Guid.NewGuid(), Browser1080));

        reader.Set(10, 1, 0, 400 * MiB);
        meter.Sample();
        time.Advance(TimeSpan.FromSeconds(3));
        reader.Set(10, 1, 3, 400 * MiB); // measured: 1.0 core
        meter.Sample();
        Assert.False(meter.Fits(Guid.NewGuid(), Browser1080)); // 1.0 + 0.8 > 1.6
        Assert.True(meter.Fits(Guid.NewGuid(), new CostClass(CostClass.Native, "720p30"))); // 1.0 + 0.43 <= 1.6

        // Memory: 80% of (MemAvailable + what the recordings hold): (300 + 400) x 0.8 = 560 MiB; 400 held + 134 fits, 400 + 300 not.
        reader.Size = new MachineSize(64, 300 * MiB, 16384 * MiB);
        meter.Sample();
        Assert.True(meter.Fits(Guid.NewGuid(), new CostClass(CostClass.Native, "720p30")));
        Assert.False(meter.Fits(Guid.NewGuid(), new CostClass(CostClass.Browser, "360p30"))); // 400 + 260 > 560

        // A node with nothing running takes whatever is at the head, even a job larger than all of it.
        meter.End(running);
        reader.Size = new MachineSize(0.5, 100 * MiB, 200 * MiB);
        meter.Sample();
        Assert.True(meter.Fits(Guid.NewGuid(), new CostClass(CostClass.Browser, "2160p30")));
    }

    [Fact]
    public void Headroom_IsWhatTheOptionsSay()
    {
        var (meter, reader, _) = NewMeter(new RecorderOptions { CpuHeadroom = 0.5, MemoryHeadroom = 0.25 });
        reader.Size = new MachineSize(4, 1000 * MiB, 4000 * MiB);
        var snapshot = meter.Snapshot();
        Assert.Equal(2.0, snapshot.CpuCores, 3);
        Assert.Equal(250 * MiB, snapshot.MemoryBytes);
    }

    [Theory]
    [InlineData("CpuHeadroom", 0.0, false)]
    [InlineData("CpuHeadroom", -0.2, false)]
    [InlineData("CpuHeadroom", 1.01, false)]
    [InlineData("CpuHeadroom", double.NaN, false)]
    [InlineData("CpuHeadroom", 1.0, true)]
    [InlineData("CpuHeadroom", 0.05, true)]
    [InlineData("MemoryHeadroom", 0.0, false)]
    [InlineData("MemoryHeadroom", 2.0, false)]
    [InlineData("MemoryHeadroom", 0.8, true)]
    public void Headroom_MustBeMoreThanZero_AndAtMostOne(string option, double value, bool valid)
    {
        var o = new RecorderOptions();
        if (option == "CpuHeadroom")
        {
            o.CpuHeadroom = value;
        }
        else
        {
            o.MemoryHeadroom = value;
        }
        var result = new RecorderOptionsValidator().Validate(null, o);
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Recorder:" + option, result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task BadHeadroom_IsAStartupError_NamingIt()
    {
        var dir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await using var app = CapstanHost.Build([],
            [
                new("Capstan:DataDir", dir), new("Capstan:Port", "0"), new("Janus:Enabled", "false"), new("Recorder:Enabled", "false"),
                new("Webhooks:Deliver", "false"), new("Logging:LogLevel:Default", "None"), new("Recorder:MemoryHeadroom", "1.5"),
            ]);
            var e = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains("Recorder:MemoryHeadroom", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(1280, 720, 30, "720p30")]
    [InlineData(720, 1280, 30, "720p30")]
    [InlineData(640, 360, 15, "360p15")]
    [InlineData(1920, 1080, 30, "1080p30")]
    [InlineData(854, 480, 30, "480p30")]
    [InlineData(3840, 2160, 30, "2160p30")]
    public void Size_IsTheBucketOfTheSmallerSide_AndTheFrameRate(int width, int height, int fps, string size) =>
        Assert.Equal(size, CostClass.SizeOf(width, height, fps));

    [Fact]
    public void CpuMax_IsAQuotaOverAPeriod() =>
        Assert.Equal((1.5, null), (ProcReader.ParseCpuMax("150000 100000\n"), ProcReader.ParseCpuMax("max 100000\n")));

    /// <summary>The real reader against real processes: a shell with two busy children (<c>yes</c>), measured over 2 s
    /// through the meter, against the CPU time .NET itself reads for them.</summary>
    [Fact]
    public async Task ProcReader_MeasuresABusyProcessTree()
    {
        var ct = TestContext.Current.CancellationToken;
        using var shell = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "yes > /dev/null & yes > /dev/null & wait"]))!;
        try
        {
            var reader = new ProcReader();
            IReadOnlyCollection<int> tree = [];
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while ((tree = reader.Tree([shell.Id])).Count < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, ct);
            }
            Assert.Equal(3, tree.Count); // the shell and its two children
            var children = tree.Where(p => p != shell.Id).Select(Process.GetProcessById).ToList();

            var meter = new CostMeter(reader, TimeProvider.System, new RecorderOptions(), NullLogger<CostMeter>.Instance);
            var id = Guid.NewGuid();
            var cls = new CostClass(CostClass.Native, "360p30");
            meter.Begin(id);
            meter.Attach(id, cls, () => [shell.Id]);
            var before = children.Sum(c => c.TotalProcessorTime.TotalSeconds);
            var started = Stopwatch.GetTimestamp();
            meter.Sample();
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            meter.Sample();
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            children.ForEach(c => c.Refresh());
            var dotnet = (children.Sum(c => c.TotalProcessorTime.TotalSeconds) - before) / elapsed;

            var measured = meter.Estimate(cls);
            TestContext.Current.SendDiagnosticMessage($"yes x2 for 2 s: measured {measured.Cores:F3} cores, .NET's reading {dotnet:F3}, {measured.MemoryBytes >> 10} KiB");
            Assert.True(measured.Measured);
            // Alone on an idle machine that is ~2 cores; on the shared test machine whatever the scheduler gave them,
            // which .NET's own reading of the same processes says.
            Assert.True(dotnet > 0.05 && measured.Cores > 0.05, $"two busy processes measured {measured.Cores} cores, .NET reads {dotnet}");
            Assert.True(Math.Abs(measured.Cores - dotnet) < 0.1 + 0.1 * dotnet, $"measured {measured.Cores} cores, .NET reads {dotnet}");
            Assert.InRange(measured.MemoryBytes, 1, 64 * MiB);
            Assert.True(reader.Machine().Cores is > 0 and <= 4096);
        }
        finally
        {
            shell.Kill(entireProcessTree: true);
            await shell.WaitForExitAsync(CancellationToken.None);
        }
    }
}

public sealed class AdmissionTests_Sqlite(SqliteServer server) : AdmissionTests(server), IClassFixture<SqliteServer>;

public sealed class AdmissionTests_Postgres(PostgresServer server) : AdmissionTests(server), IClassFixture<PostgresServer>;

/// <summary>Admission against the real server and database: the worker's claim loop with a meter on fixed readings
/// (2 cores: 1.6 with the default headroom), the server's own recorder off, jobs started through the API.</summary>
public abstract class AdmissionTests(ServerFixture server)
{
    private const long MiB = 1024 * 1024;
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private async Task<string> StartAsync(TestAccount account, int width, int height)
    {
        var meeting = (await account.Client().PostJsonAsync($"{account.AppPath}/meetings", new { title = "admission" })).Data(HttpStatusCode.Created).Str("id");
        var started = (await account.Client().PostJsonAsync($"{account.AppPath}/recordings",
            new { meeting_id = meeting, video_config = new { codec = "H264", width, height } })).Data();
        Assert.Equal("INVOKED", started.Str("status"));
        return started.Str("id");
    }

    private static async Task<JsonNode> GetAsync(TestAccount account, string id) =>
        (await account.Client().GetJsonAsync($"{account.AppPath}/recordings/{id}")).Data();

    /// <summary>What earlier tests on this server left queued is claimed away, so that the queue is this test's.</summary>
    private async Task DrainAsync()
    {
        await using var scope = server.Services.CreateAsyncScope();
        var queue = scope.ServiceProvider.GetRequiredService<JobQueue>();
        while (await queue.ClaimAsync("drain", TimeSpan.FromDays(1), Ct) is not null)
        {
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting: " + what);
            await Task.Delay(20, Ct);
        }
    }

    /// <summary>A claim loop as the worker runs it, with a meter on <paramref name="reader"/>; each claimed job "runs"
    /// until the test releases it, its processes the fake pid given by <paramref name="pidOf"/>.</summary>
    private sealed class Loop : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Loop(ServerFixture server, CostMeter meter, Func<Guid, int> pidOf, bool admitByCost = true)
        {
            // A long lease: what this loop claimed never returns to the queue of a later test.
            var options = new RecorderOptions { Slots = 10, PollInterval = TimeSpan.FromMilliseconds(50), Lease = TimeSpan.FromDays(1), AdmitByCost = admitByCost };
            _loop = ClaimLoop.RunAsync(server.Services.GetRequiredService<IServiceScopeFactory>(), server.Services.GetRequiredService<RecorderSignals>(), options,
                "admission-test", RecordingTypes.Composite, new ConcurrentDictionary<Guid, bool>(), () => options.Slots - Running.Count,
                async (job, ct) =>
                {
                    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    Running[job.RecordingId] = done;
                    Claimed.Enqueue(job.RecordingId);
                    try
                    {
                        var pid = pidOf(job.RecordingId);
                        await meter.AttachAsync(job, server.Services.GetRequiredService<IServiceScopeFactory>(), () => [pid], ct);
                        await done.Task.WaitAsync(ct);
                    }
                    catch (OperationCanceledException)
                    {
                        // the loop stops (the test ends), as RecordingJob ends a job on the worker's stop
                    }
                    Running.TryRemove(job.RecordingId, out _);
                }, NullLogger.Instance, reclaim: false, _stop.Token, meter);
        }

        public ConcurrentDictionary<Guid, TaskCompletionSource> Running { get; } = new();

        public ConcurrentQueue<Guid> Claimed { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task AJobThatDoesNotFit_IsNotClaimed_KeepsItsQueuePosition_AndIsClaimedOnceRoomFrees()
    {
        await DrainAsync();
        var account = await server.CreateAccountAsync();
        var reader = new FakeProcessReader { Size = new MachineSize(2, 8192 * MiB, 16384 * MiB) };
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var meter = new CostMeter(reader, time, new RecorderOptions(), NullLogger<CostMeter>.Instance);
        var pids = new ConcurrentDictionary<Guid, int>();
        await using var loop = new Loop(server, meter, id => pids.GetOrAdd(id, _ => 100 + pids.Count));

        // 1080p30 in the browser: 0.8 core by its prior. Two fit in 1.6 cores; the third does not.
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(Guid.Parse(await StartAsync(account, 1920, 1080)));
        }
        await WaitForAsync(() => loop.Running.Count == 2, "two claimed");
        Assert.Equal(ids[..2].ToHashSet(), loop.Claimed.ToHashSet()); // claimed one after the other, run at once
        await Task.Delay(500, Ct); // ten polls of the loop: still not claimed
        Assert.Equal(2, loop.Running.Count);
        var third = await GetAsync(account, ids[2].ToString());
        Assert.Equal("INVOKED", third.Str("status"));
        Assert.Equal(1, third["queue_position"]!.GetValue<int>());

        // One finishes: room for the third.
        loop.Running[ids[0]].SetResult();
        await WaitForAsync(() => loop.Claimed.Count == 3, "the third claimed");
        Assert.Equal(ids[2], loop.Claimed.Last());
        Assert.Null((await GetAsync(account, ids[2].ToString()))["queue_position"]);
        foreach (var r in loop.Running.Values)
        {
            r.TrySetResult();
        }
    }

    [Fact]
    public async Task WithoutAdmitByCost_TheSlotsAloneAdmit_AndTheRecordingsStillCount()
    {
        await DrainAsync();
        var account = await server.CreateAccountAsync();
        var meter = new CostMeter(new FakeProcessReader { Size = new MachineSize(1, 8192 * MiB, 16384 * MiB) }, TimeProvider.System,
            new RecorderOptions { AdmitByCost = false }, NullLogger<CostMeter>.Instance);
        await using var loop = new Loop(server, meter, _ => 1, admitByCost: false);
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(Guid.Parse(await StartAsync(account, 1920, 1080))); // 3 x 0.8 cores on a node of 0.8
        }
        await WaitForAsync(() => loop.Running.Count == 3, "all three claimed");
        Assert.Equal(3, meter.Snapshot().Recordings);
        Assert.Equal(2.4, meter.Snapshot().CpuUsed, 3);
        foreach (var r in loop.Running.Values)
        {
            r.TrySetResult();
        }
    }

    [Fact]
    public async Task TheEstimateFromSamples_DecidesWhatFits()
    {
        await DrainAsync();
        var account = await server.CreateAccountAsync();
        var reader = new FakeProcessReader { Size = new MachineSize(2, 8192 * MiB, 16384 * MiB) };
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var meter = new CostMeter(reader, time, new RecorderOptions(), NullLogger<CostMeter>.Instance);
        var pids = new ConcurrentDictionary<Guid, int>();
        await using var loop = new Loop(server, meter, id => pids.GetOrAdd(id, _ => 200 + pids.Count));

        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(Guid.Parse(await StartAsync(account, 1920, 1080)));
        }
        await WaitForAsync(() => loop.Running.Count == 2 && pids.Count == 2, "two claimed");
        Assert.Equal(1, (await GetAsync(account, ids[2].ToString()))["queue_position"]!.GetValue<int>());

        // Measured, each 1080p recording uses 0.45 core: the estimate follows, and the third fits (0.9 + 0.45 <= 1.6).
        foreach (var pid in pids.Values)
        {
            reader.Set(pid, 1, 0, 200 * MiB);
        }
        meter.Sample();
        time.Advance(TimeSpan.FromSeconds(3));
        foreach (var pid in pids.Values)
        {
            reader.Set(pid, 1, 1.35, 200 * MiB);
        }
        meter.Sample();
        Assert.Equal(0.45, meter.Estimate(new CostClass(CostClass.Browser, "1080p30")).Cores, 3);
        await WaitForAsync(() => loop.Running.Count == 3, "the third claimed on the measured estimate");
        Assert.Equal(ids[2], loop.Claimed.Last());
        foreach (var r in loop.Running.Values)
        {
            r.TrySetResult();
        }
    }

    [Fact]
    public async Task TheHeadOfTheQueue_IsNotPassedOver_ForACheaperJobBehindIt()
    {
        await DrainAsync();
        var account = await server.CreateAccountAsync();
        // 1.25 cores: 1.0 with the headroom.
        var reader = new FakeProcessReader { Size = new MachineSize(1.25, 8192 * MiB, 16384 * MiB) };
        var meter = new CostMeter(reader, new FakeTimeProvider(DateTimeOffset.UtcNow), new RecorderOptions(), NullLogger<CostMeter>.Instance);
        var pids = new ConcurrentDictionary<Guid, int>();
        await using var loop = new Loop(server, meter, id => pids.GetOrAdd(id, _ => 300 + pids.Count));

        // Running: a 720p (0.55). Queued: a 1080p (0.55 + 0.8 > 1.0: does not fit), then a 360p (0.55 + 0.4 would fit).
        var running = Guid.Parse(await StartAsync(account, 1280, 720));
        await WaitForAsync(() => loop.Running.Count == 1, "the first claimed");
        var big = Guid.Parse(await StartAsync(account, 1920, 1080));
        var small = Guid.Parse(await StartAsync(account, 640, 360));
        await Task.Delay(500, Ct); // ten polls of the loop
        Assert.Equal([running], loop.Claimed.ToList());
        Assert.Equal((1, 2), ((await GetAsync(account, big.ToString()))["queue_position"]!.GetValue<int>(), (await GetAsync(account, small.ToString()))["queue_position"]!.GetValue<int>()));

        // Once the first ends, the head goes first; the one behind it waits for room beside it (0.8 + 0.4 > 1.0).
        loop.Running[running].SetResult();
        await WaitForAsync(() => loop.Claimed.Count == 2, "the head claimed");
        Assert.Equal(big, loop.Claimed.Last());
        await Task.Delay(500, Ct);
        Assert.Equal(2, loop.Claimed.Count);
        Assert.Equal(1, (await GetAsync(account, small.ToString()))["queue_position"]!.GetValue<int>());
        loop.Running[big].SetResult();
        await WaitForAsync(() => loop.Claimed.Count == 3, "the small one claimed");
        Assert.Equal([running, big, small], loop.Claimed.ToList());
        foreach (var r in loop.Running.Values)
        {
            r.TrySetResult();
        }
    }

    [Fact]
    public async Task TheNodesMeasuredCapacity_IsInItsRow_AndInSystem()
    {
        var own = await server.CreateAccountAsync();
        var scopes = server.Services.GetRequiredService<IServiceScopeFactory>();
        var owner = "host-c:composite:" + Guid.NewGuid().ToString("N");
        var reader = new FakeProcessReader { Size = new MachineSize(4, 2048 * MiB, 8192 * MiB) };
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var meter = new CostMeter(reader, time, new RecorderOptions(), NullLogger<CostMeter>.Instance);
        var id = Guid.NewGuid();
        var cls = new CostClass(CostClass.Native, "720p30");
        Assert.True(meter.Fits(id, cls));
        meter.Begin(id);
        meter.Attach(id, cls, () => [400]);
        reader.Set(400, 1, 0, 100 * MiB);
        meter.Sample();
        time.Advance(TimeSpan.FromSeconds(2));
        reader.Set(400, 1, 0.5, 120 * MiB);
        meter.Sample();
        try
        {
            await RecorderNodes.WriteAsync(scopes, TimeProvider.System, owner, "node-c", DateTime.UtcNow, new RecorderLoad(2, 1, 1, meter.Snapshot()), Ct);
            await using (var scope = scopes.CreateAsyncScope())
            {
                var row = await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().RecorderNodes.AsNoTracking().SingleAsync(n => n.Owner == owner, Ct);
                Assert.Equal((3.2, 0.25, 120 * MiB), (row.CpuCores, row.CpuUsed, row.MemoryUsedBytes));
                Assert.Equal((long)(0.8 * ((2048 + 120) * MiB)), row.MemoryBytes);
            }
            var node = (await own.Client().GetJsonAsync($"/client/v4/accounts/{own.AccountId}/system")).Data()["nodes"]!.AsArray()
                .Single(n => n!["owner"]!.GetValue<string>() == owner)!;
            var capacity = node["capacity"]!;
            Assert.Equal(3.2, capacity["cpu_cores"]!.GetValue<double>(), 3);
            Assert.Equal(0.25, capacity["cpu_used"]!.GetValue<double>(), 3);
            Assert.Equal(120 * MiB, capacity["memory_used_bytes"]!.GetValue<long>());
            var estimate = capacity["classes"]!["native:720p30"]!;
            Assert.Equal((0.25, 120 * MiB, true, 1), (estimate["cores"]!.GetValue<double>(), estimate["memory_bytes"]!.GetValue<long>(),
                estimate["measured"]!.GetValue<bool>(), estimate["samples"]!.GetValue<int>()));

            // A node that does not measure has none.
            await RecorderNodes.WriteAsync(scopes, TimeProvider.System, owner, "node-c", DateTime.UtcNow, new RecorderLoad(2, 0, 1), Ct);
            node = (await own.Client().GetJsonAsync($"/client/v4/accounts/{own.AccountId}/system")).Data()["nodes"]!.AsArray()
                .Single(n => n!["owner"]!.GetValue<string>() == owner)!;
            Assert.Null(node["capacity"]);
        }
        finally
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().RecorderNodes.Where(n => n.Owner == owner).ExecuteDeleteAsync(Ct);
        }
    }
}

/// <summary>Across workers on PostgreSQL: while another worker holds the head of the queue (locked while it decides
/// whether it fits there), a worker does not take the job behind it; it takes the head once that is released.</summary>
public sealed class AdmissionAcrossWorkersTests_Postgres(PostgresServer server) : IClassFixture<PostgresServer>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task AWorker_DoesNotTakeTheJobBehindAHeadAnotherWorkerIsDeciding()
    {
        await using (var drain = server.Services.CreateAsyncScope())
        {
            var queue = drain.ServiceProvider.GetRequiredService<JobQueue>();
            while (await queue.ClaimAsync("drain", TimeSpan.FromDays(1), Ct) is not null)
            {
            }
        }
        var account = await server.CreateAccountAsync();
        var ids = new List<Guid>();
        foreach (var (w, h) in new[] { (1920, 1080), (640, 360) })
        {
            var meeting = (await account.Client().PostJsonAsync($"{account.AppPath}/meetings", new { title = "across" })).Data(HttpStatusCode.Created).Str("id");
            ids.Add(Guid.Parse((await account.Client().PostJsonAsync($"{account.AppPath}/recordings",
                new { meeting_id = meeting, video_config = new { codec = "H264", width = w, height = h } })).Data().Str("id")));
        }
        var meter = new CostMeter(new FakeProcessReader(), TimeProvider.System, new RecorderOptions(), NullLogger<CostMeter>.Instance);

        // "Another worker" holds the head's row locked, as a claim does while its admission decides.
        await using var other = server.Services.CreateAsyncScope();
        var otherDb = other.ServiceProvider.GetRequiredService<CapstanDbContext>();
        await using var tx = await otherDb.Database.BeginTransactionAsync(Ct);
        await otherDb.Database.ExecuteSqlInterpolatedAsync($"""SELECT 1 FROM "RecorderJobs" WHERE "RecordingId" = {ids[0]} FOR UPDATE""", Ct);

        await using (var scope = server.Services.CreateAsyncScope())
        {
            // This worker is empty (anything fits), yet it leaves the small job behind the locked head.
            Assert.Null(await scope.ServiceProvider.GetRequiredService<JobQueue>().ClaimAsync("worker-b", TimeSpan.FromMinutes(5), Ct, RecordingTypes.Composite, meter.Fits));
        }
        Assert.Equal(2, (await account.Client().GetJsonAsync($"{account.AppPath}/recordings/{ids[1]}")).Data()["queue_position"]!.GetValue<int>());

        // The other worker decided not to take it: the head is this worker's, then the job behind it.
        await tx.RollbackAsync(Ct);
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var queue = scope.ServiceProvider.GetRequiredService<JobQueue>();
            Assert.Equal(ids[0], (await queue.ClaimAsync("worker-b", TimeSpan.FromMinutes(5), Ct, RecordingTypes.Composite, meter.Fits))?.RecordingId);
            Assert.Equal(ids[1], (await queue.ClaimAsync("worker-b", TimeSpan.FromMinutes(5), Ct, RecordingTypes.Composite, meter.Fits))?.RecordingId);
        }
    }
}

/// <summary>The operator's view (<c>GET /client/v4/system/nodes</c>) lists each node's measured capacity too.</summary>
public sealed class OperatorNodesCapacityTests(OperatorSqliteServer server) : IClassFixture<OperatorSqliteServer>
{
    [Fact]
    public async Task SystemNodes_ListEachNodesMeasuredCapacity()
    {
        var ct = TestContext.Current.CancellationToken;
        var scopes = server.Services.GetRequiredService<IServiceScopeFactory>();
        var owner = "host-d:composite:" + Guid.NewGuid().ToString("N");
        var capacity = new NodeCapacity(1.6, 0.4, 1L << 30, 300L << 20, 1,
            new Dictionary<string, ClassEstimate> { ["native:1080p30"] = new(0.4, 300L << 20, true, 7) });
        await RecorderNodes.WriteAsync(scopes, TimeProvider.System, owner, "node-d", DateTime.UtcNow, new RecorderLoad(2, 1, 1, capacity), ct);
        var node = (await server.Client(OperatorServer.Token).GetJsonAsync("/client/v4/system/nodes")).Data()["nodes"]!.AsArray()
            .Single(n => n!["owner"]!.GetValue<string>() == owner)!;
        Assert.Equal((1.6, 0.4, 1L << 30, 300L << 20), (node["capacity"]!["cpu_cores"]!.GetValue<double>(), node["capacity"]!["cpu_used"]!.GetValue<double>(),
            node["capacity"]!["memory_bytes"]!.GetValue<long>(), node["capacity"]!["memory_used_bytes"]!.GetValue<long>()));
        Assert.Equal(7, node["capacity"]!["classes"]!["native:1080p30"]!["samples"]!.GetValue<int>());
    }
}
