using Capstan.Server.Domain;

namespace Capstan.Server.Meetings;

/// <summary>Once a second: ends sessions empty for their keep-alive (their recordings stop with
/// ALL_PEERS_LEFT) and destroys their rooms; once a minute: destroys orphaned rooms.</summary>
public sealed partial class SessionSweeper(IServiceScopeFactory scopes, TimeProvider time, ILogger<SessionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        var ticks = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var ended = await scope.ServiceProvider.GetRequiredService<SessionService>().EndIdleSessionsAsync(stoppingToken);
                    var rooms = scope.ServiceProvider.GetRequiredService<RoomService>();
                    foreach (var meeting in ended)
                    {
                        LogEnded(logger, meeting);
                        await rooms.DestroyAsync(meeting, stoppingToken);
                    }
                    if (++ticks % 60 == 0)
                    {
                        await rooms.CollectOrphansAsync(TimeSpan.FromMinutes(2), stoppingToken);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Session of meeting {Meeting} ended: everyone left for the keep-alive time")]
    private static partial void LogEnded(ILogger logger, Guid meeting);

    [LoggerMessage(Level = LogLevel.Error, Message = "Session sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
