namespace Capstan.Server.Domain;

/// <summary>Wake-up for recorder workers: a new job, or a pause/resume/stop, is seen at once instead of at the next
/// poll. In one process directly; across nodes on PostgreSQL through <c>LISTEN/NOTIFY</c>
/// (<see cref="Data.PostgresSignalBridge"/> sends every <see cref="Notify"/> and wakes this node with
/// <see cref="Wake"/>); the workers' polling stays the fallback. The poll's timeout runs on the server's
/// <see cref="TimeProvider"/> (a test's fake clock drives it).</summary>
public sealed class RecorderSignals(TimeProvider time)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Raised on every <see cref="Notify"/> (not on <see cref="Wake"/>): the bridge to other nodes.</summary>
    public event Action? Notified;

    /// <summary>Something changed here: wake this node's workers, and other nodes' (<see cref="Notified"/>).</summary>
    public void Notify()
    {
        Wake();
        Notified?.Invoke();
    }

    /// <summary>Wakes this node's workers only (a change another node announced).</summary>
    public void Wake()
    {
        TaskCompletionSource fired;
        lock (_gate)
        {
            fired = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fired.TrySetResult();
    }

    /// <summary>The next wake-up, taken before a worker reads what to do: a wake that comes while it reads or acts
    /// completes this ticket, so the wait after it (<see cref="WaitAsync(Task, TimeSpan, CancellationToken)"/>) ends at
    /// once. A wait that took its ticket only after the work missed such a wake and sat out the whole poll (the
    /// cluster tests saw a stop given while the worker was closing the segment of a pause reach it after 523 ms).</summary>
    public Task NextWake
    {
        get
        {
            lock (_gate)
            {
                return _next.Task;
            }
        }
    }

    /// <summary>Completes at the next <see cref="Notify"/> or after <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => WaitAsync(NextWake, timeout, ct);

    /// <summary>Completes when <paramref name="ticket"/> (a <see cref="NextWake"/> taken earlier) does, or after
    /// <paramref name="timeout"/>.</summary>
    public Task WaitAsync(Task ticket, TimeSpan timeout, CancellationToken ct) => Task.WhenAny(ticket, Task.Delay(timeout, time, ct));
}
