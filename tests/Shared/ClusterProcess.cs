using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Capstan.Testing;

/// <summary>One line a cluster process wrote: a JSON log entry of a Capstan node (<c>Logging:Format=json</c>: its
/// UTC timestamp, level, category, message and the recording id of its scope), or any other line with the instant it
/// was read.</summary>
public sealed record ClusterLogLine(DateTime At, string Level, string Category, string Message, string? RecordingId, string Raw);

/// <summary>A process of the cluster (an API node, a worker, s3rver) in a session, and so a process group, of its own
/// (<c>setsid</c>), as a service manager runs it: the whole group can be killed at once like a crashed machine's, and
/// stopping it leaves nothing behind. Its output goes to a log file and is kept as <see cref="ClusterLogLine"/>s to
/// wait on.</summary>
public sealed partial class ClusterProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly List<ClusterLogLine> _lines = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ClusterProcess(string name, Process process, StreamWriter log, string logPath)
    {
        Name = name;
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    public string Name { get; }

    /// <summary>The process id, which is also its process group's id.</summary>
    public int Pid { get; private set; }

    public string LogPath { get; }

    /// <summary>Whether the process (the group's leader) has exited.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Starts <paramref name="file"/> with <paramref name="args"/> under <c>setsid</c> with
    /// <paramref name="environment"/> added to this process's own.</summary>
    public static ClusterProcess Start(string name, string file, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string logPath, string? workingDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var psi = new ProcessStartInfo("setsid")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }
        psi.ArgumentList.Add(file);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite), Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var started = new ClusterProcess(name, process, log, logPath);
        process.OutputDataReceived += (_, e) => started.Read(e.Data);
        process.ErrorDataReceived += (_, e) => started.Read(e.Data);
        process.Exited += (_, _) => started._exited.TrySetResult();
        process.Start();
        // setsid(1) execs in place (a child of .NET is no group leader): the pid is the new group's id.
        started.Pid = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        started.Note($"{name} started (pid {process.Id}): {file} {string.Join(' ', args)}");
        return started;
    }

    /// <summary>A note of the harness in the process's log (what the test did to it, and when).</summary>
    public void Note(string text)
    {
        lock (_lines)
        {
            _log.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} [harness] {text}");
        }
    }

    private void Read(string? line)
    {
        if (line is null)
        {
            return;
        }
        var parsed = Parse(line);
        lock (_lines)
        {
            _log.WriteLine(line);
            if (_lines.Count < 200_000)
            {
                _lines.Add(parsed);
            }
        }
    }

    /// <summary>A JSON log entry's fields, or the raw line read now.</summary>
    public static ClusterLogLine Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                string Field(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : string.Empty;
                var at = DateTime.Parse(Field("Timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
                string? recording = null;
                if (root.TryGetProperty("Scopes", out var scopes) && scopes.ValueKind == JsonValueKind.Array)
                {
                    foreach (var s in scopes.EnumerateArray())
                    {
                        if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("RecordingId", out var id) && id.ValueKind == JsonValueKind.String)
                        {
                            recording = id.GetString();
                        }
                    }
                }
                return new ClusterLogLine(at, Field("LogLevel"), Field("Category"), Field("Message"), recording, line);
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                // not a log entry after all
            }
        }
        return new ClusterLogLine(DateTime.UtcNow, string.Empty, string.Empty, line, null, line);
    }

    /// <summary>The lines so far (a copy).</summary>
    public IReadOnlyList<ClusterLogLine> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>The first line matching <paramref name="match"/>, waited for up to <paramref name="timeout"/>; fails
    /// at once when the process exits meanwhile.</summary>
    public async Task<ClusterLogLine> WaitForLineAsync(Func<ClusterLogLine, bool> match, string what, TimeSpan timeout, CancellationToken ct = default)
    {
        ClusterLogLine? found = null;
        await Poll.UntilAsync(() =>
        {
            found = Lines.FirstOrDefault(match);
            if (found is null && HasExited)
            {
                throw new InvalidOperationException($"{Name} exited while waiting for: {what}; its log's end:\n{Tail(30)}");
            }
            return found is not null;
        }, $"{Name}: {what}", timeout, ct, TimeSpan.FromMilliseconds(50));
        return found!;
    }

    /// <summary>The last <paramref name="count"/> lines, for failure messages.</summary>
    public string Tail(int count) => string.Join('\n', Lines.TakeLast(count).Select(l => l.Raw));

    /// <summary>SIGTERM to the node alone (not its group), as a service manager with <c>KillMode=mixed</c> stops it:
    /// what it started is its own to end (a worker drains first).</summary>
    public void Terminate()
    {
        Note("SIGTERM to the node alone");
        _ = Kill(Pid, SigTerm);
    }

    /// <summary>Sends <paramref name="signal"/> to the whole process group.</summary>
    public void SignalGroup(int signal) => _ = Kill(-Pid, signal);

    /// <summary>SIGKILL of the whole process group at once: the machine's crash as far as this node is concerned.</summary>
    public void KillGroup()
    {
        Note("SIGKILL to the process group");
        SignalGroup(SigKill);
    }

    /// <summary>SIGTERM to the node itself (it stops what it started), up to <paramref name="grace"/> for it to exit,
    /// then SIGKILL of whatever is left in its group.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!HasExited)
        {
            Note("SIGTERM");
            _ = Kill(Pid, SigTerm);
            await Task.WhenAny(_exited.Task, Task.Delay(grace));
        }
        // Anything the node left in its group (or everything, if it did not exit) goes now.
        SignalGroup(SigKill);
        await Poll.UntilAsync(() => HasExited && GroupMembers(Pid).Count == 0, $"{Name}'s process group to end", TimeSpan.FromSeconds(15));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            _process.Dispose();
            lock (_lines)
            {
                _log.Dispose();
            }
        }
    }

    /// <summary>The live processes of process group <paramref name="pgid"/> (from <c>/proc/PID/stat</c>; zombies left out).</summary>
    public static IReadOnlyList<int> GroupMembers(int pgid)
    {
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (f.Length > 2 && f[0] != "Z" && int.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var group) && group == pgid)
            {
                members.Add(pid);
            }
        }
        return members;
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
