using System.Globalization;
using System.Runtime.InteropServices;
using Capstan.Server.Data;
using Capstan.Server.Domain;

namespace Capstan.Server.Recorder;

/// <summary>What a recording costs, by what drives the cost: its <see cref="Kind"/> (<c>browser</c> or
/// <c>native</c> composite, <c>track</c>) and its <see cref="Size"/> (a resolution and frame-rate bucket such as
/// <c>720p30</c>; <c>any</c> for track recordings, whose size is the participants').</summary>
public readonly record struct CostClass(string Kind, string Size)
{
    public const string Browser = "browser";
    public const string Native = "native";
    public const string Track = "track";

    public override string ToString() => Kind + ":" + Size;

    /// <summary>The class of <paramref name="recording"/> on a worker configured as <paramref name="options"/>: the
    /// compositor kept on the recording (or the one the worker would choose, as <see cref="CompositeCapture"/>
    /// does); the size bucket from the smaller side of the picture (a portrait 720x1280 costs what 1280x720 does)
    /// and the worker's frame rate.</summary>
    public static CostClass For(RecordingRow recording, RecorderOptions options)
    {
        ArgumentNullException.ThrowIfNull(recording);
        ArgumentNullException.ThrowIfNull(options);
        if (recording.Type == RecordingTypes.Track)
        {
            return new CostClass(Track, "any");
        }
        var config = Mapping.Read<EffectiveRecordingConfig>(recording.ConfigJson);
        var kind = (config.Compositor ?? EffectiveRecordingConfig.ChooseCompositor(config, options.Compositor)) == RecorderOptions.NativeCompositor ? Native : Browser;
        return new CostClass(kind, SizeOf(config.Width, config.Height, options.FrameRate));
    }

    /// <summary>The size bucket: <c>360p</c>, <c>480p</c>, <c>720p</c>, <c>1080p</c> or <c>2160p</c> (the smallest
    /// holding the picture's smaller side), then the frame rate.</summary>
    public static string SizeOf(int width, int height, int frameRate)
    {
        var side = Math.Min(width, height);
        var bucket = side switch
        {
            <= 360 => 360,
            <= 480 => 480,
            <= 720 => 720,
            <= 1080 => 1080,
            _ => 2160,
        };
        return bucket.ToString(CultureInfo.InvariantCulture) + "p" + frameRate.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>What a recording uses: cores (1.0 is one core busy) and memory.</summary>
public readonly record struct Cost(double Cores, long MemoryBytes)
{
    public static Cost operator +(Cost a, Cost b) => new(a.Cores + b.Cores, a.MemoryBytes + b.MemoryBytes);

    public static Cost Add(Cost a, Cost b) => a + b;
}

/// <summary>What a class is taken to cost before a recording of it was measured on this worker. Conservative on
/// purpose (a little above what bench/recorder measured, 2 participants, 2-core machine): admitting too little at
/// first only delays a job until the first samples, admitting too much drops frames.
/// <list type="bullet">
/// <item>browser: 720p30 0.55 core and 300 MiB PSS (bench: ~0.5 core, the 300 MiB target per recording: capture,
/// Xvfb, the Chromium tree, its PulseAudio share); 1080p30 0.8 core, 350 MiB; 360p and 480p 0.4 core, 260 MiB; above
/// 1080p 1.6 cores, 500 MiB.</item>
/// <item>native: 720p30 0.43 core and 134 MiB (bench, everything the recording starts plus Janus's extra
/// forwarding); 1080p30 0.65 core, 170 MiB; 360p and 480p 0.3 core, 120 MiB; above 1080p 1.3 cores, 260 MiB.</item>
/// <item>track: 0.1 core and 64 MiB: Janus writes the packets as they come (no decoding) and the files are made
/// after the stop; its cost is Janus's, shared by every recording of the room, so it is never measured per
/// recording and stays at this figure.</item>
/// </list>
/// A frame rate above 30 scales the CPU figure up in proportion; below 30 it is kept (conservative).</summary>
public static class CostPriors
{
    private const long MiB = 1024 * 1024;

    public static Cost For(CostClass c)
    {
        if (c.Kind == CostClass.Track)
        {
            return new Cost(0.1, 64 * MiB);
        }
        var p = c.Size.IndexOf('p', StringComparison.Ordinal);
        var side = p > 0 && int.TryParse(c.Size.AsSpan(0, p), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 2160;
        var fps = p > 0 && int.TryParse(c.Size.AsSpan(p + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var f) ? f : 60;
        var native = c.Kind == CostClass.Native;
        var cost = side switch
        {
            <= 480 => native ? new Cost(0.3, 120 * MiB) : new Cost(0.4, 260 * MiB),
            <= 720 => native ? new Cost(0.43, 134 * MiB) : new Cost(0.55, 300 * MiB),
            <= 1080 => native ? new Cost(0.65, 170 * MiB) : new Cost(0.8, 350 * MiB),
            _ => native ? new Cost(1.3, 260 * MiB) : new Cost(1.6, 500 * MiB),
        };
        return fps > 30 ? cost with { Cores = cost.Cores * fps / 30.0 } : cost;
    }
}

/// <summary>One process as <see cref="IProcessReader"/> sees it: when it started (clock ticks since boot, to tell a
/// reused pid apart), the CPU it has used since (user + system, in seconds) and its memory now (PSS, else RSS).</summary>
public readonly record struct ProcessUse(long StartTicks, double CpuSeconds, long MemoryBytes);

/// <summary>The machine as admission sees it: the cores this process may use and its memory.</summary>
public readonly record struct MachineSize(double Cores, long MemoryAvailableBytes, long MemoryTotalBytes);

/// <summary>What <see cref="CostMeter"/> reads of the processes and the machine: <c>/proc</c> on a server
/// (<see cref="ProcReader"/>), fixed figures in a test.</summary>
public interface IProcessReader
{
    /// <summary>The running processes among <paramref name="roots"/> and everything below them, each once.</summary>
    IReadOnlyCollection<int> Tree(IEnumerable<int> roots);

    /// <summary>One process's use so far, or null when it is gone (or unreadable).</summary>
    ProcessUse? Read(int pid);

    MachineSize Machine();
}

/// <summary>The real <see cref="IProcessReader"/>: <c>/proc/{pid}/stat</c> (utime + stime, fields 14 and 15, in clock
/// ticks; the start time, field 22), <c>/proc/{pid}/smaps_rollup</c> (<c>Pss</c>: a page shared by several processes,
/// such as the Chromium tree's libraries, is split between them, so a tree's sum counts it once) or, when that cannot
/// be read, <c>VmRSS</c> of <c>/proc/{pid}/status</c>; the machine's cores (<see cref="Environment.ProcessorCount"/>,
/// or the cgroup's <c>cpu.max</c> quota when that is lower: a container given 1.5 cores has 1.5) and
/// <c>/proc/meminfo</c>.</summary>
public sealed partial class ProcReader : IProcessReader
{
    private static readonly double TicksPerSecond = ClockTicks();

    public IReadOnlyCollection<int> Tree(IEnumerable<int> roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        var wanted = roots.Where(r => r > 0).ToHashSet();
        if (wanted.Count == 0)
        {
            return [];
        }
        var children = new Dictionary<int, List<int>>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(d), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && StatFields(pid) is { Length: > 1 } f && f[0] is not ("Z" or "X")
                && int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ppid))
            {
                (children.TryGetValue(ppid, out var list) ? list : children[ppid] = []).Add(pid);
            }
        }
        var found = new HashSet<int>();
        var frontier = new Queue<int>(wanted.Where(r => StatFields(r) is { Length: > 0 } f && f[0] is not ("Z" or "X")));
        while (frontier.TryDequeue(out var p))
        {
            if (found.Add(p) && children.TryGetValue(p, out var below))
            {
                below.ForEach(frontier.Enqueue);
            }
        }
        return found;
    }

    public ProcessUse? Read(int pid)
    {
        if (StatFields(pid) is not { Length: > 19 } f || f[0] is "Z" or "X"
            || !long.TryParse(f[11], NumberStyles.Integer, CultureInfo.InvariantCulture, out var utime)
            || !long.TryParse(f[12], NumberStyles.Integer, CultureInfo.InvariantCulture, out var stime)
            || !long.TryParse(f[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var started))
        {
            return null;
        }
        var p = pid.ToString(CultureInfo.InvariantCulture);
        var memory = KibField($"/proc/{p}/smaps_rollup", "Pss:") ?? KibField($"/proc/{p}/status", "VmRSS:") ?? 0;
        return new ProcessUse(started, (utime + stime) / TicksPerSecond, memory * 1024);
    }

    public MachineSize Machine()
    {
        double cores = Environment.ProcessorCount;
        if (CgroupQuota() is { } quota && quota < cores)
        {
            cores = quota;
        }
        var available = KibField("/proc/meminfo", "MemAvailable:") ?? 0;
        var total = KibField("/proc/meminfo", "MemTotal:") ?? 0;
        return new MachineSize(cores, available * 1024, total * 1024);
    }

    /// <summary>The cores the cgroup v2 <c>cpu.max</c> of this process (or of a folder above it) allows, or null
    /// without a quota.</summary>
    internal static double? CgroupQuota()
    {
        try
        {
            var line = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal));
            if (line is null)
            {
                return null;
            }
            double? lowest = null;
            for (var dir = "/sys/fs/cgroup" + line[3..].TrimEnd('/'); dir.Length >= "/sys/fs/cgroup".Length; dir = Path.GetDirectoryName(dir) ?? string.Empty)
            {
                var file = Path.Combine(dir, "cpu.max");
                if (File.Exists(file) && ParseCpuMax(File.ReadAllText(file)) is { } q && (lowest is null || q < lowest))
                {
                    lowest = q;
                }
            }
            return lowest;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary><c>cpu.max</c>: "<c>max 100000</c>" (no quota) or "<c>150000 100000</c>" (1.5 cores).</summary>
    internal static double? ParseCpuMax(string text)
    {
        var parts = text.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var quota)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var period) && period > 0
            ? quota / period
            : null;
    }

    private static long? KibField(string file, string name)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                if (line.StartsWith(name, StringComparison.Ordinal))
                {
                    var value = line[name.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return value.Length > 0 && long.TryParse(value[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kib) ? kib : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // gone, or another user's process
        }
        return null;
    }

    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the fields after it, from field 3 (state).
    private static string[]? StatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var close = text.LastIndexOf(')');
            return close < 0 ? null : text[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static double ClockTicks()
    {
        try
        {
            var ticks = Sysconf(2); // _SC_CLK_TCK
            return ticks > 0 ? ticks : 100;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return 100;
        }
    }

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long Sysconf(int name);
}
