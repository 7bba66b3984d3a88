using Capstan.Server.Data;
using Capstan.Server.Hosting;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>The recorder nodes table: each worker writes its slots, busy and warm counts (and its measured capacity,
/// <see cref="CostMeter"/>) every
/// <see cref="Interval"/> while it runs (one guarded update, an insert the first time), with the instant it began
/// draining once it is told to stop (<see cref="RecorderDrain"/>: written at once then, and on each report of the
/// drain), and removes its row when it stops cleanly. A node killed outright leaves its row, which readers show as not seen since its last report and
/// which is deleted once it is <see cref="Forget"/> old.</summary>
public static partial class RecorderNodes
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>A node not seen for this long is shown as lost.</summary>
    public static readonly TimeSpan Stale = TimeSpan.FromSeconds(20);

    /// <summary>A node not seen for this long is forgotten.</summary>
    public static readonly TimeSpan Forget = TimeSpan.FromDays(1);

    /// <summary>Reports <paramref name="load"/> until <paramref name="ct"/> ends, then removes the row.</summary>
    public static async Task ReportAsync(IServiceScopeFactory scopes, TimeProvider time, string owner, string node, Func<RecorderLoad> load, ILogger logger, CancellationToken ct)
    {
        var started = time.GetUtcNow().UtcDateTime;
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                try
                {
                    await WriteAsync(scopes, time, owner, node, started, load(), ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogReportFailed(logger, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<CapstanDbContext>().RecorderNodes.Where(n => n.Owner == owner).ExecuteDeleteAsync(cts.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogReportFailed(logger, e.Message);
        }
    }

    internal static async Task WriteAsync(IServiceScopeFactory scopes, TimeProvider time, string owner, string node, DateTime started, RecorderLoad load, CancellationToken ct)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var c = load.Capacity;
        var classes = c is null ? null : Domain.Mapping.Write(c.Classes);
        double? cpu = c?.CpuCores, cpuUsed = c?.CpuUsed;
        long? memory = c?.MemoryBytes, memoryUsed = c?.MemoryUsedBytes;
        var updated = await db.RecorderNodes.Where(n => n.Owner == owner).ExecuteUpdateAsync(u => u
            .SetProperty(n => n.Node, node).SetProperty(n => n.Slots, load.Slots).SetProperty(n => n.Busy, load.Busy)
            .SetProperty(n => n.Warm, load.Warm).SetProperty(n => n.SeenAt, now).SetProperty(n => n.DrainingSince, load.DrainingSince)
            .SetProperty(n => n.CpuCores, cpu).SetProperty(n => n.CpuUsed, cpuUsed)
            .SetProperty(n => n.MemoryBytes, memory).SetProperty(n => n.MemoryUsedBytes, memoryUsed)
            .SetProperty(n => n.CostClassesJson, classes), ct);
        if (updated == 0)
        {
            db.RecorderNodes.Add(new RecorderNodeRow
            {
                Owner = owner, Node = node, Slots = load.Slots, Busy = load.Busy, Warm = load.Warm, StartedAt = started, SeenAt = now, DrainingSince = load.DrainingSince,
                CpuCores = cpu, CpuUsed = cpuUsed, MemoryBytes = memory, MemoryUsedBytes = memoryUsed, CostClassesJson = classes,
            });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // written by this node's previous report meanwhile: the next report updates it
            }
            var forget = now - Forget;
            await db.RecorderNodes.Where(n => n.SeenAt < forget).ExecuteDeleteAsync(ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reporting this recorder node failed: {Reason}")]
    private static partial void LogReportFailed(ILogger logger, string reason);
}
