using System.Diagnostics;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Tests.Infrastructure;
using Npgsql;

namespace Capstan.Server.Tests;

/// <summary>Recorder signals between nodes on one PostgreSQL (<see cref="PostgresSignalBridge"/>): another node's
/// <c>NOTIFY</c> wakes this node's workers at once, and this node's changes (a new job, a command) are announced
/// to the others. The other node is a plain connection to the same database, as a second server's bridge is.</summary>
public sealed class RecorderSignalsAcrossNodesTests_Postgres(PostgresServer server) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task AnotherNodesNotify_WakesThisNode_AndThisNodesChanges_ReachTheOthers()
    {
        var ct = TestContext.Current.CancellationToken;
        var signals = server.Services.GetRequiredService<RecorderSignals>();
        var database = server.Services.GetRequiredService<DatabaseInfo>();
        await using var other = new NpgsqlConnection(database.Connection);
        await other.OpenAsync(ct);
        var heard = new System.Collections.Concurrent.ConcurrentQueue<string>();
        other.Notification += (_, e) => heard.Enqueue(e.Payload);
        await using (var listen = new NpgsqlCommand("LISTEN " + PostgresSignalBridge.Channel, other))
        {
            await listen.ExecuteNonQueryAsync(ct);
        }

        // Another node announces a change: this node's workers wake (the bridge may still be connecting at first:
        // each try waits up to a second; a worker waiting 30 s is woken by the notification alone).
        TimeSpan? woke = null;
        for (var i = 0; i < 10 && woke is null; i++)
        {
            var wait = signals.WaitAsync(TimeSpan.FromSeconds(30), ct);
            var sw = Stopwatch.StartNew();
            await using (var notify = new NpgsqlCommand($"SELECT pg_notify('{PostgresSignalBridge.Channel}', 'another-node')", other))
            {
                await notify.ExecuteNonQueryAsync(ct);
            }
            if (await Task.WhenAny(wait, Task.Delay(1000, ct)) == wait)
            {
                woke = sw.Elapsed;
            }
        }
        Assert.NotNull(woke);
        TestContext.Current.TestOutputHelper?.WriteLine($"woken {woke.Value.TotalMilliseconds:F1} ms after the other node's NOTIFY");
        Assert.True(woke < TimeSpan.FromSeconds(1), $"woken after {woke}");

        // This node writes a command (any Notify): the other node hears it, with this node's id, not its own.
        heard.Clear();
        var sent = Stopwatch.StartNew();
        signals.Notify();
        while (heard.IsEmpty && sent.Elapsed < TimeSpan.FromSeconds(5))
        {
            await other.WaitAsync(TimeSpan.FromMilliseconds(100), ct);
        }
        Assert.True(heard.TryDequeue(out var payload), "the other node heard nothing");
        TestContext.Current.TestOutputHelper?.WriteLine($"heard {sent.Elapsed.TotalMilliseconds:F1} ms after Notify");
        Assert.NotEqual("another-node", payload);
        Assert.Matches("^[0-9a-f]{32}$", payload);
    }
}
