using Capstan.Server.Data;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>Keeps a claimed job's lease for as long as its session runs: renewed every third of the lease; when
/// the job is no longer this owner's (finished, cancelled, taken over) <c>leaseLost</c> is cancelled.</summary>
public static partial class JobLease
{
    /// <summary>Runs a claimed job's session with its lease kept: <paramref name="body"/> gets a token cancelled when
    /// the worker stops or the lease is lost; that cancellation goes to <paramref name="interrupted"/> (true when the
    /// worker is stopping), any other failure to <paramref name="failed"/>.</summary>
    public static async Task RunAsync(IServiceScopeFactory scopes, RecorderJobRow job, string owner, TimeSpan lease, TimeProvider time, ILogger logger,
        Func<CancellationToken, Task> body, Action<bool> interrupted, Func<Exception, Task> failed, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(interrupted);
        ArgumentNullException.ThrowIfNull(failed);
        using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var heartbeatStop = new CancellationTokenSource();
        var heartbeat = KeepAsync(scopes, job.Id, owner, lease, time, leaseLost, logger, heartbeatStop.Token);
        var ct = leaseLost.Token;
        try
        {
            await body(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            interrupted(stopping.IsCancellationRequested);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await failed(e);
        }
        finally
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
        }
    }

    private static async Task KeepAsync(IServiceScopeFactory scopes, Guid jobId, string owner, TimeSpan lease, TimeProvider time,
        CancellationTokenSource leaseLost, ILogger logger, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        ArgumentNullException.ThrowIfNull(leaseLost);
        try
        {
            while (true)
            {
                await Task.Delay(lease / 3, time, stop);
                await using var scope = scopes.CreateAsyncScope();
                if (!await scope.ServiceProvider.GetRequiredService<JobQueue>().RenewAsync(jobId, owner, lease, stop))
                {
                    await leaseLost.CancelAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the session ended
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException)
        {
            LogRenewFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Renewing a recorder job's lease failed")]
    private static partial void LogRenewFailed(ILogger logger, Exception exception);
}
