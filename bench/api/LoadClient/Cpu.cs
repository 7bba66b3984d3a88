using System.Globalization;

namespace Capstan.Bench;

/// <summary>CPU time spent by the server process and by the PostgreSQL cluster (the postmaster and its children),
/// read from /proc around each measured phase: the cost of one request, which the other load on the machine
/// changes much less than it changes req/s. Linux only; without /proc (or the pids) it reports nothing.</summary>
public sealed class CpuMeter(int? serverPid, string? postmasterPidFile)
{
    /// <summary>USER_HZ: the unit of /proc/PID/stat times (100 on every Linux architecture .NET runs on).</summary>
    private const double TicksPerSecond = 100;

    public (double Server, double Db) Read()
    {
        var server = serverPid is { } sp ? Ticks(sp) : double.NaN;
        var db = double.NaN;
        if (postmasterPidFile is not null && File.Exists(postmasterPidFile)
            && int.TryParse(File.ReadLines(postmasterPidFile).FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pm))
        {
            db = Ticks(pm) + ChildrenOf(pm).Sum(Ticks);
        }
        return (server / TicksPerSecond, db / TicksPerSecond);
    }

    /// <summary>utime + stime of a process, in ticks; 0 when it is gone.</summary>
    private static double Ticks(int pid)
    {
        var f = Stat(pid);
        return f is null ? 0 : double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture);
    }

    /// <summary>The fields of /proc/PID/stat after the command name: [0] state, [1] ppid, ... [11] utime, [12] stime.</summary>
    private static string[]? Stat(int pid)
    {
        try
        {
            var s = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            return s[(s.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static IEnumerable<int> ChildrenOf(int parent)
    {
        if (!Directory.Exists("/proc"))
        {
            yield break;
        }
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && Stat(pid) is { } f && f[1] == parent.ToString(CultureInfo.InvariantCulture))
            {
                yield return pid;
            }
        }
    }
}
