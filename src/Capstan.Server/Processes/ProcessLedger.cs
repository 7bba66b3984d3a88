using System.Globalization;
using System.Runtime.InteropServices;

namespace Capstan.Server.Processes;

/// <summary>The capture processes (Xvfb, Chromium, ffmpeg, PulseAudio) a worker has running, one file each in a
/// folder of its work folder: <c>{pid}</c> holding the process's start time (field 22 of <c>/proc/{pid}/stat</c>,
/// so a reused pid is never mistaken for it) and its name. A file goes when its process exits. A worker that was
/// killed leaves its files behind; the next worker on the same work folder calls <see cref="ReapLeftoversAsync"/> when it
/// starts, before it takes its recordings back: each listed process still running, and every process below it, is
/// killed. The processes may run as the recorder's user (<see cref="ProcessUser"/>): started through an exec of
/// <c>setpriv</c>, their pids are the tools' own, and a root worker may kill them.</summary>
public sealed partial class ProcessLedger
{
    private readonly string _dir;
    private readonly TimeProvider _time;

    public ProcessLedger(string dir, TimeProvider? time = null)
    {
        _dir = dir;
        _time = time ?? TimeProvider.System;
        Directory.CreateDirectory(dir);
    }

    /// <summary>Lists <paramref name="process"/> until it exits; returns it.</summary>
    public ChildProcess Track(ChildProcess process)
    {
        ArgumentNullException.ThrowIfNull(process);
        var file = Path.Combine(_dir, process.Id.ToString(CultureInfo.InvariantCulture));
        if (StartTime(process.Id) is { } started)
        {
            // Written whole or not at all (a rename): a reader, or a worker killed while writing, never leaves an
            // empty file that names a process without its start time.
            var partial = file + ".new";
            File.WriteAllText(partial, started.ToString(CultureInfo.InvariantCulture) + " " + process.Name);
            File.Move(partial, file, overwrite: true);
        }
        _ = process.Exited.ContinueWith(_ => File.Delete(file), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return process;
    }

    /// <summary>The processes listed in the ledger folder <paramref name="dir"/>: pid, start time and name. A file that
    /// goes while this reads (its process exited) or does not parse is left out.</summary>
    public static IReadOnlyList<(int Pid, long Started, string Name)> Listed(string dir)
    {
        var listed = new List<(int, long, string)>();
        foreach (var file in Directory.Exists(dir) ? Directory.GetFiles(dir) : [])
        {
            string[] parts;
            try
            {
                parts = File.ReadAllText(file).Split(' ', 2);
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            if (int.TryParse(Path.GetFileName(file), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var started))
            {
                listed.Add((pid, started, parts.Length > 1 ? parts[1] : "process"));
            }
        }
        return listed;
    }

    /// <summary>Kills what an earlier worker on this folder left running; returns the names of the processes killed.</summary>
    public async Task<IReadOnlyList<string>> ReapLeftoversAsync(CancellationToken ct)
    {
        var killed = new List<string>();
        var victims = new List<(int Pid, long Started)>();
        foreach (var (pid, started, name) in Listed(_dir))
        {
            if (StartTime(pid) == started && pid != Environment.ProcessId)
            {
                foreach (var p in Descendants(pid).Prepend(pid))
                {
                    if (StartTime(p) is { } started1)
                    {
                        victims.Add((p, started1));
                    }
                    if (Kill(p, 9) == 0)
                    {
                        killed.Add($"{name} ({p.ToString(CultureInfo.InvariantCulture)})");
                    }
                }
            }
        }
        foreach (var file in Directory.GetFiles(_dir))
        {
            File.Delete(file);
        }
        // SIGKILL is not instant: wait (up to 5 s) until they are gone, so that their sockets, pid files and
        // displays are free for what this worker starts.
        var deadline = _time.GetUtcNow().AddSeconds(5);
        while (victims.Any(v => StartTime(v.Pid) == v.Started) && _time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, ct);
        }
        return killed;
    }

    /// <summary>The start time of <paramref name="pid"/> in clock ticks since boot, or null when it is not running
    /// (gone, or a zombie waiting for its parent).</summary>
    public static long? StartTime(int pid)
    {
        var fields = StatFields(pid);
        return fields is { Length: > 19 } && fields[0] != "Z" && fields[0] != "X" && long.TryParse(fields[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : null;
    }

    private static IEnumerable<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var d in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(d), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && StatFields(pid) is { Length: > 1 } f && int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ppid))
            {
                parents[pid] = ppid;
            }
        }
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var p))
        {
            foreach (var child in parents.Where(kv => kv.Value == p).Select(kv => kv.Key))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }
        return found;
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

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
