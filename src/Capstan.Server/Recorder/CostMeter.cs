using Capstan.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>One class's estimate: what a recording of it is taken to use, whether it was measured on this worker
/// (else it is the prior, <see cref="CostPriors"/>) and from how many samples.</summary>
public sealed record ClassEstimate(double Cores, long MemoryBytes, bool Measured, int Samples);

/// <summary>A worker's measured capacity: what it may use (<see cref="CpuCores"/>, <see cref="MemoryBytes"/>: the
/// headroom applied), what its running recordings use (measured, or their class's estimate until measured), how many
/// run, and the estimate per class.</summary>
public sealed record NodeCapacity(
    double CpuCores, double CpuUsed, long MemoryBytes, long MemoryUsedBytes, int Recordings, IReadOnlyDictionary<string, ClassEstimate> Classes);

/// <summary>A node's measured capacity as its row in the nodes table holds it.</summary>
public static class NodeCapacityRows
{
    /// <summary>The capacity <paramref name="row"/> reported, or null when the node does not measure.</summary>
    public static NodeCapacity? Capacity(this RecorderNodeRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.CpuCores is not { } cpu || row.MemoryBytes is not { } memory)
        {
            return null;
        }
        var classes = row.CostClassesJson is { } json ? Domain.Mapping.Read<Dictionary<string, ClassEstimate>>(json) : [];
        return new NodeCapacity(cpu, row.CpuUsed ?? 0, memory, row.MemoryUsedBytes ?? 0, row.Busy, classes);
    }
}

/// <summary>Admission by measured cost. Every few seconds (<see cref="RecorderOptions.CostSampleInterval"/>) the
/// meter reads what each running recording's processes use (the process trees of what its capture started: Xvfb,
/// Chromium and its children, the capture, ffmpeg, the native compositor's host; plus its share of the worker's one
/// PulseAudio, split between the recordings running) and folds it into a moving estimate of its class
/// (<see cref="CostClass"/>: kind x size; an exponential average, <see cref="Smoothing"/> per sample); a class not
/// measured yet is taken at its prior (<see cref="CostPriors"/>).
/// <para>A job is admitted (<see cref="Fits(RecordingRow)"/>) when its class's estimate fits in what is left of the
/// capacity, <see cref="RecorderOptions.CpuHeadroom"/> of the cores and <see cref="RecorderOptions.MemoryHeadroom"/>
/// of the memory (MemAvailable plus what the running recordings hold, at most MemTotal), after the running
/// recordings' use (measured, or their estimate until their first samples). <see cref="RecorderOptions.Slots"/> stays
/// the upper bound. A worker with nothing running admits whatever is at the head of the queue: a recording larger
/// than any one node's capacity still runs (alone) rather than waiting for ever; none is refused for lack of
/// room.</para>
/// <para>Choice: time comes from the <see cref="TimeProvider"/> and the readings from an <see cref="IProcessReader"/>,
/// so the arithmetic is tested with fixed readings; <see cref="ProcReader"/> reads <c>/proc</c>.</para></summary>
public sealed partial class CostMeter(IProcessReader reader, TimeProvider time, RecorderOptions options, ILogger<CostMeter> logger)
{
    /// <summary>The weight of each new sample in a class's estimate.</summary>
    public const double Smoothing = 0.3;

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Running> _running = [];
    private readonly Dictionary<Guid, CostClass> _admitted = [];
    private readonly Dictionary<CostClass, EstimateState> _estimates = [];
    private readonly TreeUse _shared = new();
    private Func<IEnumerable<int>> _sharedRoots = () => [];
    private MachineSize? _machine;
    private DateTimeOffset _machineAt;

    /// <summary>Processes every recording shares (the worker's PulseAudio): their use is split between the recordings
    /// measured.</summary>
    public void Share(Func<IEnumerable<int>> roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        lock (_gate)
        {
            _sharedRoots = roots;
        }
    }

    /// <summary>Whether <paramref name="recording"/> fits now (see the class summary); when it does, its class is
    /// kept for <see cref="Begin"/>.</summary>
    public bool Fits(RecordingRow recording)
    {
        ArgumentNullException.ThrowIfNull(recording);
        return Fits(recording.Id, CostClass.For(recording, options));
    }

    public bool Fits(Guid recordingId, CostClass cls)
    {
        var machine = MachineNow();
        lock (_gate)
        {
            if (_running.Count > 0)
            {
                var (cpu, memory) = Limits(machine);
                var used = Used();
                var need = EstimateOf(cls);
                if (used.Cores + need.Cores > cpu + 1e-9 || used.MemoryBytes + need.MemoryBytes > memory)
                {
                    LogNoRoom(logger, recordingId, cls.ToString(), need.Cores, need.MemoryBytes >> 20, used.Cores, cpu, used.MemoryBytes >> 20, memory >> 20);
                    return false;
                }
            }
            _admitted[recordingId] = cls;
            return true;
        }
    }

    /// <summary>A claimed recording begins to count (at its admitted class's estimate until measured; a recording
    /// taken back without admission counts at the dearest usual class, browser 1080p, until <see cref="Attach"/>).</summary>
    public void Begin(Guid recordingId)
    {
        lock (_gate)
        {
            _running[recordingId] = new Running { Class = _admitted.Remove(recordingId, out var c) ? c : null };
        }
    }

    /// <summary>Names the recording's class and the processes to measure (the roots of its trees, read at every
    /// sample). <paramref name="steady"/>: whether it is recording now (capturing: not paused, not between a restart's
    /// segments); a sample taken while it is not counts in what it uses but does not move its class's estimate,
    /// which is what a recording costs while it records.</summary>
    public void Attach(Guid recordingId, CostClass cls, Func<IEnumerable<int>> roots, Func<bool>? steady = null)
    {
        ArgumentNullException.ThrowIfNull(roots);
        lock (_gate)
        {
            if (_running.TryGetValue(recordingId, out var r))
            {
                r.Class = cls;
                r.Roots = roots;
                r.Steady = steady ?? (() => true);
            }
        }
    }

    /// <summary><see cref="Attach"/> for a job being run: its class as admitted, or read from its recording when it
    /// was taken back without admission (a worker started again on its work folder).</summary>
    public async Task AttachAsync(RecorderJobRow job, IServiceScopeFactory scopes, Func<IEnumerable<int>> roots, CancellationToken ct, Func<bool>? steady = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(scopes);
        CostClass? known;
        lock (_gate)
        {
            known = _running.TryGetValue(job.RecordingId, out var r) ? r.Class : null;
        }
        if (known is null)
        {
            await using var scope = scopes.CreateAsyncScope();
            var recording = await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().Recordings.AsNoTracking()
                .FirstOrDefaultAsync(r => r.Id == job.RecordingId, ct);
            known = recording is null ? null : CostClass.For(recording, options);
        }
        Attach(job.RecordingId, known ?? Unknown, roots, steady);
    }

    public void End(Guid recordingId)
    {
        lock (_gate)
        {
            _running.Remove(recordingId);
            _admitted.Remove(recordingId);
        }
    }

    /// <summary>The current estimate of <paramref name="cls"/>.</summary>
    public ClassEstimate Estimate(CostClass cls)
    {
        lock (_gate)
        {
            return _estimates.TryGetValue(cls, out var e) && e.Samples > 0
                ? new ClassEstimate(e.Value.Cores, e.Value.MemoryBytes, true, e.Samples)
                : new ClassEstimate(CostPriors.For(cls).Cores, CostPriors.For(cls).MemoryBytes, false, 0);
        }
    }

    /// <summary>One sampling pass: reads every running recording's processes and updates its class's estimate.
    /// A recording's first pass only sets its baseline (CPU is a difference over time); a recording with no process
    /// to measure (a track recording, whose cost is Janus's) leaves its class at its prior.</summary>
    public void Sample()
    {
        List<(Running Run, IEnumerable<int> Roots)> runs;
        Func<IEnumerable<int>> sharedRoots;
        lock (_gate)
        {
            runs = _running.Values.Select(r => (r, Safe(r.Roots))).ToList();
            sharedRoots = _sharedRoots;
        }
        var steady = runs.Where(r => Steady(r.Run)).Select(r => r.Run).ToHashSet();
        var now = time.GetUtcNow();
        var machine = reader.Machine();
        // The readings, outside the lock (file reads); each TreeUse is touched by this pass alone.
        var measured = runs.Select(r => (r.Run, Cost: r.Run.Use.Update(reader, r.Roots, now))).Where(m => m.Cost is not null).ToList();
        var shared = _shared.Update(reader, Safe(sharedRoots), now);
        lock (_gate)
        {
            (_machine, _machineAt) = (machine, now);
            // A recording measured before whose processes are all gone (its capture torn down: the file is being
            // made and uploaded) no longer holds what it held.
            foreach (var (run, _) in runs.Where(r => r.Run.Measured is not null && !r.Roots.Any()))
            {
                run.Measured = new Cost(0, 0);
            }
            foreach (var (run, cost) in measured)
            {
                var c = cost!.Value;
                if (shared is { } s)
                {
                    c += new Cost(s.Cores / measured.Count, s.MemoryBytes / measured.Count);
                }
                run.Measured = c;
                if (run.Class is { } cls && steady.Contains(run))
                {
                    var e = _estimates.TryGetValue(cls, out var found) ? found : _estimates[cls] = new EstimateState();
                    e.Value = e.Samples == 0 ? c : new Cost(
                        (1 - Smoothing) * e.Value.Cores + Smoothing * c.Cores,
                        (long)((1 - Smoothing) * e.Value.MemoryBytes + Smoothing * c.MemoryBytes));
                    e.Samples++;
                }
            }
        }
    }

    /// <summary>Samples every <see cref="RecorderOptions.CostSampleInterval"/> until <paramref name="ct"/> ends.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.CostSampleInterval, time);
        try
        {
            do
            {
                try
                {
                    Sample();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
                {
                    LogSampleFailed(logger, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>The capacity as the node reports it.</summary>
    public NodeCapacity Snapshot()
    {
        var machine = MachineNow();
        lock (_gate)
        {
            var (cpu, memory) = Limits(machine);
            var used = Used();
            var classes = _estimates.Keys.Concat(_running.Values.Where(r => r.Class is not null).Select(r => r.Class!.Value)).Distinct()
                .OrderBy(c => c.ToString(), StringComparer.Ordinal)
                .ToDictionary(c => c.ToString(), c => _estimates.TryGetValue(c, out var e) && e.Samples > 0
                    ? new ClassEstimate(Math.Round(e.Value.Cores, 3), e.Value.MemoryBytes, true, e.Samples)
                    : new ClassEstimate(CostPriors.For(c).Cores, CostPriors.For(c).MemoryBytes, false, 0));
            return new NodeCapacity(Math.Round(cpu, 3), Math.Round(used.Cores, 3), memory, used.MemoryBytes, _running.Count, classes);
        }
    }

    /// <summary>The machine as last sampled; read again when no sample is that recent (no composite worker samples
    /// in this process: a track recorder alone).</summary>
    private MachineSize MachineNow()
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (_machine is { } m && now - _machineAt < options.CostSampleInterval * 2)
            {
                return m;
            }
        }
        var read = reader.Machine();
        lock (_gate)
        {
            (_machine, _machineAt) = (read, now);
            return read;
        }
    }

    // Under _gate.
    private (double Cpu, long Memory) Limits(MachineSize machine)
    {
        var held = _running.Values.Sum(r => r.Measured?.MemoryBytes ?? 0);
        var memory = machine.MemoryTotalBytes <= 0 ? long.MaxValue / 4
            : machine.MemoryAvailableBytes <= 0 ? machine.MemoryTotalBytes
            : Math.Min(machine.MemoryTotalBytes, machine.MemoryAvailableBytes + held);
        return (options.CpuHeadroom * machine.Cores, (long)(options.MemoryHeadroom * memory));
    }

    // Under _gate.
    private Cost Used() => _running.Values.Aggregate(new Cost(0, 0), (sum, r) => sum + (r.Measured ?? EstimateOf(r.Class ?? Unknown)));

    private CostClass Unknown => new(CostClass.Browser, CostClass.SizeOf(1920, 1080, options.FrameRate));

    // Under _gate.
    private Cost EstimateOf(CostClass cls) => _estimates.TryGetValue(cls, out var e) && e.Samples > 0 ? e.Value : CostPriors.For(cls);

    private static bool Steady(Running run)
    {
        try
        {
            return run.Steady();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return false;
        }
    }

    private IEnumerable<int> Safe(Func<IEnumerable<int>> roots)
    {
        try
        {
            return roots().ToList();
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return []; // a capture between segments or being torn down: measured at the next pass
        }
    }

    private sealed class Running
    {
        public CostClass? Class { get; set; }

        public Func<IEnumerable<int>> Roots { get; set; } = () => [];

        public Func<bool> Steady { get; set; } = () => true;

        public TreeUse Use { get; } = new();

        public Cost? Measured { get; set; }
    }

    private sealed class EstimateState
    {
        public Cost Value { get; set; }

        public int Samples { get; set; }
    }

    /// <summary>The use of a set of process trees between two passes: CPU from each process's time used since the
    /// last pass (a process seen for the first time only sets its baseline; a pid reused by another process is told
    /// apart by its start time), memory as it is now.</summary>
    private sealed class TreeUse
    {
        private Dictionary<(int Pid, long Start), double> _cpu = [];
        private DateTimeOffset? _at;

        public Cost? Update(IProcessReader reader, IEnumerable<int> roots, DateTimeOffset now)
        {
            double cpu = 0;
            long memory = 0;
            var next = new Dictionary<(int, long), double>();
            foreach (var pid in reader.Tree(roots))
            {
                if (reader.Read(pid) is { } use)
                {
                    memory += use.MemoryBytes;
                    next[(pid, use.StartTicks)] = use.CpuSeconds;
                    if (_cpu.TryGetValue((pid, use.StartTicks), out var before))
                    {
                        cpu += Math.Max(0, use.CpuSeconds - before);
                    }
                }
            }
            var last = _at;
            (_cpu, _at) = (next, now);
            var seconds = last is { } l ? (now - l).TotalSeconds : 0;
            return next.Count == 0 || seconds <= 0 ? null : new Cost(cpu / seconds, memory);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Recording {RecordingId} ({Class}: {Cores} core, {MemoryMiB} MiB) does not fit: {UsedCores} of {CpuCores} cores, {UsedMiB} of {MemoryMiB2} MiB in use; it waits at the head of the queue")]
    private static partial void LogNoRoom(ILogger logger, Guid recordingId, string @class, double cores, long memoryMiB, double usedCores, double cpuCores, long usedMiB, long memoryMiB2);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Measuring the recordings' cost failed: {Reason}")]
    private static partial void LogSampleFailed(ILogger logger, string reason);
}
