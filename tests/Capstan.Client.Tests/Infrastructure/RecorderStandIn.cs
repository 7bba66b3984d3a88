using System.Security.Cryptography;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Recorder;
using Capstan.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Capstan.Client.Tests.Infrastructure;

/// <summary>Plays the recorder worker's part for one app through the server's own domain layer, because the real
/// recorder needs Janus and Chromium, which run only in the media suite (tests/Capstan.Media.Tests/CliMediaTests):
/// an INVOKED recording starts RECORDING, and an UPLOADING one gets a file in the default bucket (random bytes, with
/// its SHA-256) and becomes UPLOADED with a signed download URL served by the real <c>/bucket</c> route.</summary>
public sealed class RecorderStandIn : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ServerFixture _server;
    private readonly Guid _appId;
    private readonly int _fileBytes;

    public RecorderStandIn(ServerFixture server, Guid appId, int fileBytes = 2_500_000)
    {
        _server = server;
        _appId = appId;
        _fileBytes = fileBytes;
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        try
        {
            while (true)
            {
                await StepAsync(_stop.Token);
                // A worker's poll interval, not a synchronisation: tests wait on the API's status with a deadline.
                await Task.Delay(50, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private async Task StepAsync(CancellationToken ct)
    {
        await using var scope = _server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var lifecycle = scope.ServiceProvider.GetRequiredService<RecordingLifecycle>();
        var bucket = scope.ServiceProvider.GetRequiredService<DefaultBucket>();
        var time = scope.ServiceProvider.GetRequiredService<TimeProvider>();
        var rows = await db.Recordings.Where(r => r.AppId == _appId && (r.Status == RecordingStatus.Invoked || r.Status == RecordingStatus.Uploading)).ToListAsync(ct);
        foreach (var r in rows)
        {
            if (r.Status == RecordingStatus.Invoked)
            {
                await lifecycle.MarkStartedAsync(r, time.GetUtcNow().UtcDateTime, ct);
                continue;
            }
            var file = Path.Combine(Path.GetTempPath(), "capstan-standin-" + Guid.NewGuid().ToString("N"));
            var bytes = RandomNumberGenerator.GetBytes(_fileBytes);
            await File.WriteAllBytesAsync(file, bytes, ct);
            await bucket.StoreAsync(r.AppId, r.Id, file, r.OutputFileName, ct);
            File.Delete(file);
            var expiry = time.GetUtcNow().UtcDateTime + bucket.Options.UrlExpiry;
            r.Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
            await lifecycle.CompleteAsync(r, bytes.Length, 3, await bucket.SignedUrlAsync(r.AppId, r.Id, r.OutputFileName, expiry), null, expiry, ct);
        }
        await db.SaveChangesAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
