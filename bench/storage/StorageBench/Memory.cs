using System.Diagnostics;
using System.Globalization;

namespace Capstan.Bench.Storage;

/// <summary>This process's memory while something runs: every 100 ms (a dedicated thread, so a busy thread pool
/// cannot delay it) the resident set (<c>VmRSS</c> of <c>/proc/self/status</c>) and the managed heap
/// (<see cref="GC.GetTotalMemory(bool)"/>, without forcing a collection). The kernel's own high-water mark
/// (<c>VmHWM</c>) is reset at the start (<c>/proc/self/clear_refs</c> = 5), so a peak between two samples is
/// not missed either.</summary>
public sealed class MemorySampler : IDisposable
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new(false);
    private long _peakRss;
    private long _peakHeap;
    private int _samples;

    private MemorySampler()
    {
        BaselineRss = Rss();
        BaselineHeap = GC.GetTotalMemory(false);
        HwmReset = ResetHighWaterMark();
        _peakRss = BaselineRss;
        _peakHeap = BaselineHeap;
        _thread = new Thread(Run) { IsBackground = true, Name = "memory sampler", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    public long BaselineRss { get; }

    public long BaselineHeap { get; }

    /// <summary>Whether the kernel's high-water mark could be reset (it is then part of <see cref="PeakRss"/>).</summary>
    public bool HwmReset { get; }

    public long PeakRss { get; private set; }

    public long PeakHeap { get; private set; }

    public int Samples => _samples;

    /// <summary>Settles the heap first (a full, compacting, decommitting collection), so what an earlier step
    /// left behind is not counted, then starts sampling.</summary>
    public static MemorySampler Start()
    {
        Settle();
        return new MemorySampler();
    }

    /// <summary>A full, compacting collection that gives free memory back to the system, then waits (up to 1 s)
    /// until the resident set stops falling, so the baseline is not taken while pages are still being returned.</summary>
    public static void Settle()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var deadline = Stopwatch.StartNew();
        var last = Rss();
        using var tick = new ManualResetEventSlim(false);
        while (deadline.ElapsedMilliseconds < 1000)
        {
            tick.Wait(20);
            var now = Rss();
            if (now >= last)
            {
                return;
            }
            last = now;
        }
    }

    /// <summary>Stops sampling and takes the final figures.</summary>
    public void Stop()
    {
        if (_stop.IsSet)
        {
            return;
        }
        _stop.Set();
        _thread.Join();
        Sample();
        var hwm = HwmReset ? HighWaterMark() : 0;
        PeakRss = Math.Max(Interlocked.Read(ref _peakRss), hwm);
        PeakHeap = Interlocked.Read(ref _peakHeap);
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private void Run()
    {
        while (!_stop.Wait(100))
        {
            Sample();
        }
    }

    private void Sample()
    {
        var rss = Rss();
        var heap = GC.GetTotalMemory(false);
        Interlocked.Increment(ref _samples);
        if (rss > Interlocked.Read(ref _peakRss))
        {
            Interlocked.Exchange(ref _peakRss, rss);
        }
        if (heap > Interlocked.Read(ref _peakHeap))
        {
            Interlocked.Exchange(ref _peakHeap, heap);
        }
    }

    public static long Rss() => StatusField("VmRSS:");

    private static long HighWaterMark() => StatusField("VmHWM:");

    /// <summary>A "kB" field of /proc/self/status, in bytes.</summary>
    private static long StatusField(string name)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(name, StringComparison.Ordinal))
            {
                var value = line[name.Length..].Trim();
                var space = value.IndexOf(' ', StringComparison.Ordinal);
                return long.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture) * 1024;
            }
        }
        throw new InvalidOperationException($"{name} not found in /proc/self/status");
    }

    private static bool ResetHighWaterMark()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>The CPU time this process used (user + system), from <see cref="Process.TotalProcessorTime"/>.</summary>
public static class Cpu
{
    public static TimeSpan Used()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}
