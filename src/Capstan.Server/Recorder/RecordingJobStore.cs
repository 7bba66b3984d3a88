using Capstan.Server.Data;
using Capstan.Server.Domain;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Server.Recorder;

/// <summary>A claimed job's recording in the database, for the sessions that run it (composite and track): each
/// call in a scope of its own; changes go through <see cref="RecordingLifecycle"/> in a transaction.</summary>
public sealed class RecordingJobStore(IServiceScopeFactory scopes, RecorderJobRow job)
{
    public async Task<T> WithScopeAsync<T>(Func<IServiceProvider, Task<T>> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        await using var scope = scopes.CreateAsyncScope();
        return await f(scope.ServiceProvider);
    }

    public Task<RecordingRow> LoadAsync(CancellationToken ct) =>
        WithScopeAsync(s => s.GetRequiredService<CapstanDbContext>().Recordings.AsNoTracking().FirstAsync(r => r.Id == job.RecordingId, ct));

    /// <summary>What the API currently wants: the job's desired state and the recording's status, since when.</summary>
    public Task<RecordingCommandState> ReadStateAsync(CancellationToken ct) =>
        WithScopeAsync(s => s.GetRequiredService<JobQueue>().ReadAsync(job.Id, job.RecordingId, ct));

    /// <summary>Applies <paramref name="change"/> to the recording in a transaction and returns the saved row.</summary>
    public async Task<RecordingRow> UpdateAsync(Func<RecordingRow, RecordingLifecycle, CancellationToken, Task> change, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(change);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var row = await db.Recordings.FirstAsync(r => r.Id == job.RecordingId, ct);
        await change(row, scope.ServiceProvider.GetRequiredService<RecordingLifecycle>(), ct);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return row;
    }

    public Task FinishAsync(string state, CancellationToken ct) =>
        WithScopeAsync(async s =>
        {
            await s.GetRequiredService<JobQueue>().FinishAsync(job.Id, state, ct);
            return true;
        });
}
