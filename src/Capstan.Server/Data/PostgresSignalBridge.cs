using Capstan.Server.Domain;
using Npgsql;

namespace Capstan.Server.Data;

/// <summary>Carries <see cref="RecorderSignals"/> between nodes on one PostgreSQL database: every local
/// <see cref="RecorderSignals.Notify"/> (a new job, a command written by this API node) becomes a
/// <c>NOTIFY capstan_recorder</c>, and a notification from another node wakes this node's workers at once
/// (<see cref="RecorderSignals.Wake"/>), so a pause or stop given on API node A reaches the recording on a worker
/// in milliseconds rather than at its next poll. The payload is the sending process's id, so a node ignores its own.
/// One dedicated connection listens; when it breaks it is opened again after a pause (2 s, on the server's
/// <see cref="TimeProvider"/>), meanwhile polling carries the commands. Runs only on PostgreSQL.</summary>
public sealed partial class PostgresSignalBridge(DatabaseInfo database, RecorderSignals signals, TimeProvider time, ILogger<PostgresSignalBridge> logger) : BackgroundService
{
    /// <summary>The channel.</summary>
    public const string Channel = "capstan_recorder";

    private static readonly TimeSpan Reconnect = TimeSpan.FromSeconds(2);

    private readonly string _self = Guid.NewGuid().ToString("N");
    private readonly System.Threading.Channels.Channel<bool> _outbox = System.Threading.Channels.Channel.CreateBounded<bool>(
        new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.Provider != DatabaseProvider.Postgres)
        {
            return;
        }
        // Notifications coalesce: one pending NOTIFY stands for any number of changes since the last.
        void Enqueue() => _outbox.Writer.TryWrite(true);
        signals.Notified += Enqueue;
        try
        {
            await Task.WhenAll(ListenAsync(stoppingToken), SendAsync(stoppingToken));
        }
        finally
        {
            signals.Notified -= Enqueue;
        }
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(database.Connection);
                await connection.OpenAsync(ct);
                connection.Notification += (_, e) =>
                {
                    if (e.Channel == Channel && e.Payload != _self)
                    {
                        signals.Wake();
                    }
                };
                await using (var listen = new NpgsqlCommand("LISTEN " + Channel, connection))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }
                LogListening(logger);
                while (true)
                {
                    await connection.WaitAsync(ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.IO.IOException)
            {
                LogBroken(logger, e.Message);
                await Task.Delay(Reconnect, time, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task SendAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var _ in _outbox.Reader.ReadAllAsync(ct))
            {
                try
                {
                    await using var connection = new NpgsqlConnection(database.Connection);
                    await connection.OpenAsync(ct);
                    await using var notify = new NpgsqlCommand("SELECT pg_notify(@channel, @payload)", connection);
                    notify.Parameters.AddWithValue("channel", Channel);
                    notify.Parameters.AddWithValue("payload", _self);
                    await notify.ExecuteNonQueryAsync(ct);
                }
                catch (Exception e) when (e is NpgsqlException or InvalidOperationException or System.IO.IOException)
                {
                    LogBroken(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // stopping
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Listening for recorder signals on PostgreSQL")]
    private static partial void LogListening(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recorder signals between nodes: {Reason}; polling carries the commands meanwhile")]
    private static partial void LogBroken(ILogger logger, string reason);
}
