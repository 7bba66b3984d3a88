using System.Globalization;
using System.Runtime.InteropServices;

namespace Capstan.Bench;

/// <summary>One line of <c>/proc/PID/stat</c>: what the benchmark needs of it.</summary>
public readonly record struct ProcStat(int Pid, string Comm, int ParentPid, long Ticks, long StartTime);

/// <summary>Shared by the meeting and recorder benchmarks. Reads processes from <c>/proc</c>: CPU time (utime + stime, in clock ticks), resident memory, the process tree, command
/// lines and environments, and the machine's CPU counters.</summary>
public static partial class Proc
{
    private const int ScClkTck = 2;

    /// <summary>Clock ticks per second (<c>getconf CLK_TCK</c>, 100 on Linux).</summary>
    public static long TicksPerSecond { get; } = ReadClockTicks();

    public static ProcStat? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }
        var comm = text[(open + 1)..close];
        var f = text[(close + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, starttime 22.
        if (f.Length < 20)
        {
            return null;
        }
        var ppid = int.Parse(f[1], CultureInfo.InvariantCulture);
        var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        var start = long.Parse(f[19], CultureInfo.InvariantCulture);
        return new ProcStat(pid, comm, ppid, ticks, start);
    }

    /// <summary>VmRSS of <paramref name="pid"/> in kB, or null when it is gone.</summary>
    public static long? RssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
        return null;
    }

    /// <summary>Pss of <paramref name="pid"/> in kB (<c>/proc/PID/smaps_rollup</c>: its private pages plus its share of
    /// the pages it shares, so a sum over processes counts shared libraries once), or null when it is gone.</summary>
    public static long? PssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                {
                    return long.Parse(line[4..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
        return null;
    }

    /// <summary>Every process visible now.</summary>
    public static List<ProcStat> All()
    {
        var list = new List<ProcStat>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Stat(pid) is { } s)
            {
                list.Add(s);
            }
        }
        return list;
    }

    /// <summary>The descendants of <paramref name="root"/> (not itself), leaving out the subtrees of <paramref name="exclude"/>.</summary>
    public static List<ProcStat> Descendants(int root, IReadOnlyCollection<int>? exclude = null) => Descendants(All(), root, exclude);

    /// <summary>The descendants of <paramref name="root"/> within <paramref name="all"/> (one read of /proc for several walks).</summary>
    public static List<ProcStat> Descendants(List<ProcStat> all, int root, IReadOnlyCollection<int>? exclude = null)
    {
        ArgumentNullException.ThrowIfNull(all);
        var children = all.ToLookup(p => p.ParentPid);
        var result = new List<ProcStat>();
        var queue = new Queue<int>();
        queue.Enqueue(root);
        while (queue.Count > 0)
        {
            foreach (var c in children[queue.Dequeue()])
            {
                if (exclude is not null && exclude.Contains(c.Pid))
                {
                    continue;
                }
                result.Add(c);
                queue.Enqueue(c.Pid);
            }
        }
        return result;
    }

    /// <summary>The argument list of <paramref name="pid"/> (<c>/proc/PID/cmdline</c>), empty when it is gone.</summary>
    public static IReadOnlyList<string> Cmdline(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>One variable of the environment <paramref name="pid"/> started with, or null.</summary>
    public static string? EnvironmentVariable(int pid, string name)
    {
        try
        {
            var prefix = name + "=";
            foreach (var entry in File.ReadAllText($"/proc/{pid}/environ").Split('\0'))
            {
                if (entry.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return entry[prefix.Length..];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        return null;
    }

    /// <summary>The executable of <paramref name="pid"/> (the target of <c>/proc/PID/exe</c>), or null.</summary>
    public static string? Exe(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The 1-minute load average.</summary>
    public static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }

    /// <summary>The machine's busy and total CPU ticks so far (first line of <c>/proc/stat</c>; idle and iowait
    /// count as not busy), summed over every core.</summary>
    public static (long Busy, long Total) MachineTicks()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            var total = v.Sum();
            var idle = v[3] + (v.Length > 4 ? v[4] : 0);
            return (total - idle, total);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return (0, 0);
        }
    }

    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>The birth time of a file or folder (<c>statx</c> STATX_BTIME), or null when the file system does not
    /// keep it. (<see cref="File.GetCreationTimeUtc(string)"/> falls back to the change time.)</summary>
    public static DateTime? BirthTimeUtc(string path)
    {
        const int AtFdCwd = -100;
        const uint StatxBtime = 0x800;
        var buffer = new byte[256];
        if (Statx(AtFdCwd, path, 0, StatxBtime, buffer) != 0 || (BitConverter.ToUInt32(buffer, 0) & StatxBtime) == 0)
        {
            return null;
        }
        // struct statx: stx_btime (struct statx_timestamp { s64 tv_sec; u32 tv_nsec; s32 reserved; }) at offset 80.
        var seconds = BitConverter.ToInt64(buffer, 80);
        var nanos = BitConverter.ToUInt32(buffer, 88);
        return DateTime.UnixEpoch.AddSeconds(seconds).AddTicks(nanos / 100);
    }

    private static long ReadClockTicks()
    {
        var t = SysConf(ScClkTck);
        return t > 0 ? t : 100;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial long SysConf(int name);
}

/// <summary>The CPU ticks of a set of processes (pid and start time, so a reused pid is not mistaken for the same
/// process) at one moment; the difference of two is the CPU time they used in between.</summary>
public sealed class TickSnapshot
{
    private readonly Dictionary<(int Pid, long Start), long> _ticks;

    private TickSnapshot(Dictionary<(int, long), long> ticks) => _ticks = ticks;

    public int Count => _ticks.Count;

    public static TickSnapshot Of(IEnumerable<ProcStat> processes) =>
        new(processes.GroupBy(p => (p.Pid, p.StartTime)).ToDictionary(g => g.Key, g => g.First().Ticks));

    /// <summary>Ticks used from <paramref name="before"/> to this snapshot: processes started since count whole,
    /// processes that ended in between are lost (their time is not visible any more).</summary>
    public long Since(TickSnapshot before)
    {
        ArgumentNullException.ThrowIfNull(before);
        long sum = 0;
        foreach (var (key, ticks) in _ticks)
        {
            sum += ticks - before._ticks.GetValueOrDefault(key);
        }
        return sum;
    }
}
