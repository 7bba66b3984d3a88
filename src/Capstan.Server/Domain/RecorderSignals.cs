namespace Capstan.Server.Domain;

/// <summary>In-process wake-up for recorder workers: a new job, or a pause/resume/stop, is seen at once instead
/// of at the next poll. Across nodes the workers' polling is the fallback. The poll's timeout runs on the
/// server's <see cref="TimeProvider"/> (a test's fake clock drives it).</summary>
public sealed class RecorderSignals(TimeProvider time)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Notify()
    {
        TaskCompletionSource fired;
        lock (_gate)
        {
            fired = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        fired.TrySetResult();
    }

    /// <summary>Completes at the next <see cref="Notify"/> or after <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        Task next;
        lock (_gate)
        {
            next = _next.Task;
        }
        return Task.WhenAny(next, Task.Delay(timeout, time, ct));
    }
}
