namespace Capstan.Server.Recorder;

/// <summary>A recorder worker's drain, when it is told to stop (SIGTERM to <c>capstan worker</c> or <c>capstan
/// serve</c>): <see cref="Claims"/> is cancelled at once (no new job is claimed), the running recordings go on until
/// they end, for at most <see cref="RecorderOptions.DrainTimeout"/>, and then <see cref="Recordings"/> is cancelled:
/// each recording still running is handed over (<see cref="RecordingJob"/>: its segments closed, its job released at
/// once). <see cref="Since"/> is what the node's row shows (<see cref="RecorderNodes"/>: <c>draining</c>). Timed on
/// the <see cref="TimeProvider"/>, so a test drives it with a fake clock.
/// <para>Why a drain rather than stopping the recordings at once: a deploy or a scale-in sends SIGTERM; a recording
/// that finishes where it began needs no hand-over (and has no gap), and one that cannot finish in time moves to
/// another worker at once instead of waiting out its lease (30 s of meeting lost).</para></summary>
public sealed partial class RecorderDrain(TimeSpan timeout, TimeProvider time, ILogger logger) : IDisposable
{
    private readonly CancellationTokenSource _claims = new();
    private readonly CancellationTokenSource _recordings = new();
    private long _since;

    /// <summary>Cancelled when the drain begins: the claim loop stops claiming.</summary>
    public CancellationToken Claims => _claims.Token;

    /// <summary>Cancelled when the drain ran out (or at once with a zero timeout): the recordings still running are handed over.</summary>
    public CancellationToken Recordings => _recordings.Token;

    /// <summary>When the drain began; null while the worker claims.</summary>
    public DateTime? Since => Interlocked.Read(ref _since) is var ticks and > 0 ? new DateTime(ticks, DateTimeKind.Utc) : null;

    /// <summary>Drains: claims stop, the node says so (<paramref name="announce"/>, awaited so the row says
    /// <c>draining</c> before the wait), then <paramref name="running"/> (the worker's recordings: completes when
    /// none is left) is waited for up to the timeout, after which the rest are handed over and waited for.
    /// <paramref name="ct"/> is the host's shutdown deadline: past it nothing more is waited for. Idempotent.</summary>
    public async Task RunAsync(Task running, Func<Task> announce, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(announce);
        var now = time.GetUtcNow().UtcDateTime;
        if (Interlocked.CompareExchange(ref _since, now.Ticks, 0) != 0)
        {
            return;
        }
        await _claims.CancelAsync();
        LogDraining(logger, timeout);
        try
        {
            await announce();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogAnnounceFailed(logger, e.Message);
        }
        try
        {
            if (!running.IsCompleted && timeout > TimeSpan.Zero)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                await Task.WhenAny(running, Task.Delay(timeout, time, wait.Token));
                await wait.CancelAsync();
            }
            if (!running.IsCompleted)
            {
                LogHandingOver(logger);
                await _recordings.CancelAsync();
            }
            await running.WaitAsync(ct);
            LogDrained(logger, Math.Round((time.GetUtcNow().UtcDateTime - now).TotalSeconds, 1));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the host's shutdown deadline passed: what is left is cut short
            await _recordings.CancelAsync();
        }
    }

    public void Dispose()
    {
        _claims.Dispose();
        _recordings.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder draining: no new recordings; running ones may go on for {Timeout}, then are handed over")]
    private static partial void LogDraining(ILogger logger, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder drain ran out: handing the running recordings over")]
    private static partial void LogHandingOver(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder drained in {Seconds} s")]
    private static partial void LogDrained(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder draining: writing the node's state failed: {Reason}")]
    private static partial void LogAnnounceFailed(ILogger logger, string reason);
}
