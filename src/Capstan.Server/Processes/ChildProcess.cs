using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Capstan.Server.Processes;

/// <summary>A supervised child process: argument list (never one formatted string), stdout and stderr drained
/// asynchronously into a bounded tail (and optionally a log file), exit observed through a task, and a two-step
/// stop (a signal, a bounded wait, then kill of the whole tree).</summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private const int TailLines = 60;
    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StreamWriter? _log;

    private ChildProcess(Process process, StreamWriter? log)
    {
        _process = process;
        _log = log;
    }

    public string Name { get; private init; } = string.Empty;

    public int Id => _process.Id;

    public Task<int> Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/>; <paramref name="onLine"/> sees
    /// every output line (stdout and stderr) as it arrives. With <paramref name="runAs"/>, it runs as that user with
    /// that user's clean environment (plus <paramref name="environment"/>); its pid is still the tool's own.</summary>
    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, string? logFile = null,
        IReadOnlyDictionary<string, string>? environment = null, Action<string>? onLine = null, bool redirectStdin = false, Func<string, bool>? logFilter = null,
        ProcessUser? runAs = null)
    {
        if (runAs is not null)
        {
            (fileName, var wrapped) = runAs.Wrap(fileName, arguments);
            arguments = wrapped;
        }
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectStdin,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }
        runAs?.Apply(psi.Environment);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        StreamWriter? log = null;
        if (logFile is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
            log = new StreamWriter(new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite), Encoding.UTF8) { AutoFlush = true };
        }
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var child = new ChildProcess(process, log) { Name = name };
        DataReceivedEventHandler handler = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }
            child.Remember(e.Data, logFilter);
            onLine?.Invoke(e.Data);
        };
        process.OutputDataReceived += handler;
        process.ErrorDataReceived += handler;
        process.Exited += (_, _) =>
        {
            // WaitForExit() without a timeout also waits for the output streams to drain.
            process.WaitForExit();
            child._exited.TrySetResult(process.ExitCode);
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log?.Dispose();
            process.Dispose();
            throw new ChildProcessException(name, -1, $"cannot start {fileName}: {e.Message}");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The last output lines, for error messages.</summary>
    public string Tail()
    {
        lock (_gate)
        {
            return string.Join('\n', _tail);
        }
    }

    public StreamWriter StandardInput => _process.StandardInput;

    /// <summary>Sends a signal (SIGINT = 2, SIGTERM = 15) to the process.</summary>
    public bool Signal(int signal) => !HasExited && Kill(_process.Id, signal) == 0;

    /// <summary>Graceful stop: <paramref name="graceful"/> (by default SIGTERM), wait up to <paramref name="timeout"/>,
    /// then kill the whole tree (and say so to <paramref name="killed"/>). Returns the exit code. Idempotent.</summary>
    public async Task<int> StopAsync(TimeSpan timeout, Func<ChildProcess, Task>? graceful = null, Action? killed = null)
    {
        if (!HasExited)
        {
            try
            {
                if (graceful is not null)
                {
                    await graceful(this);
                }
                else
                {
                    Signal(15);
                }
            }
            catch (IOException)
            {
                // stdin already closed: fall through to the wait and the kill.
            }
            if (await Task.WhenAny(Exited, Task.Delay(timeout)) != Exited)
            {
                try
                {
                    _process.Kill(entireProcessTree: true);
                    killed?.Invoke();
                }
                catch (InvalidOperationException)
                {
                    // exited in between
                }
            }
        }
        return await Exited;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(2));
        _process.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync();
        }
    }

    /// <summary>Keeps the line in the tail and the log, unless <paramref name="logFilter"/> says it is not worth it.</summary>
    private void Remember(string line, Func<string, bool>? logFilter)
    {
        if (logFilter is not null && !logFilter(line))
        {
            return;
        }
        lock (_gate)
        {
            _tail.Enqueue(line);
            while (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
            _log?.WriteLine(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>A child process failed: which tool, its exit code and the tail of its output.</summary>
public sealed class ChildProcessException : Exception
{
    public ChildProcessException(string tool, int exitCode, string tail)
        : base($"{tool} failed (exit {exitCode}): {tail}")
    {
        Tool = tool;
        ExitCode = exitCode;
        OutputTail = tail;
    }

    public ChildProcessException()
        : this("process", -1, string.Empty)
    {
    }

    public ChildProcessException(string message)
        : this("process", -1, message)
    {
    }

    public ChildProcessException(string message, Exception innerException)
        : base(message, innerException)
    {
        Tool = "process";
        OutputTail = string.Empty;
    }

    public string Tool { get; } = "process";

    public int ExitCode { get; }

    public string OutputTail { get; } = string.Empty;
}
