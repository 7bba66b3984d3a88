using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>Keeps a claimed job's lease for as long as its session runs: renewed every third of the lease; when
/// the job is no longer this owner's (finished, cancelled, taken over) <c>leaseLost</c> is cancelled.</summary>
public static partial class JobLease
{
    public static async Task KeepAsync(IServiceScopeFactory scopes, Guid jobId, string owner, TimeSpan lease, TimeProvider time,
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
