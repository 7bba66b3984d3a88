using Capstan.Contracts;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Storage;

/// <summary>Delivers finished files to a destination: a destination that refuses us fails at once; one that is
/// only unreachable is retried with exponential backoff for <see cref="StorageOptions.RetryFor"/>. The files stay
/// on disk (the spool) until delivered; the recorder session keeps its job's lease alive meanwhile.</summary>
public sealed partial class UploadSpool(StorageDestinations destinations, IOptions<StorageOptions> options, TimeProvider time, ILogger<UploadSpool> logger,
    Hosting.CapstanMetrics? metrics = null)
{
    public async Task DeliverAsync(StorageConfig config, IReadOnlyList<UploadItem> items, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(items);
        var o = options.Value;
        await using var destination = destinations.Create(config);
        foreach (var item in items)
        {
            DateTimeOffset? firstFailure = null;
            var delay = o.FirstRetryDelay;
            using var span = Hosting.CapstanTelemetry.StartUpload(config.Type, item.Key, item.Size);
            while (true)
            {
                try
                {
                    await destination.UploadAsync(item, ct);
                    LogUploaded(logger, item.Key, item.Size, destination.Description);
                    metrics?.Upload(config.Type, Hosting.CapstanMetrics.Success, item.Size);
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    var failure = e as StorageException ?? new StorageException(StorageFailure.Unreachable, $"{destination.Description}: {e.Message}", e);
                    if (failure.Failure == StorageFailure.Refused)
                    {
                        metrics?.Upload(config.Type, Hosting.CapstanMetrics.Refused, 0);
                        span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, failure.Message);
                        throw failure;
                    }
                    var now = time.GetUtcNow();
                    firstFailure ??= now;
                    if (now - firstFailure.Value >= o.RetryFor)
                    {
                        metrics?.Upload(config.Type, Hosting.CapstanMetrics.Failed, 0);
                        span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, failure.Message);
                        throw new StorageException(StorageFailure.Unreachable, $"{failure.Message} (still failing after {o.RetryFor})", failure);
                    }
                    metrics?.Upload(config.Type, Hosting.CapstanMetrics.Retry, 0);
                    span?.AddEvent(new System.Diagnostics.ActivityEvent("retry"));
                    LogRetry(logger, item.Key, delay.TotalSeconds, failure.Message);
                    await Task.Delay(delay, time, ct);
                    delay = TimeSpan.FromTicks(Math.Min(o.MaxRetryDelay.Ticks, delay.Ticks * 2));
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Uploaded {Key} ({Bytes} bytes) to {Destination}")]
    private static partial void LogUploaded(ILogger logger, string key, long bytes, string destination);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upload of {Key} failed, retrying in {Seconds} s: {Reason}")]
    private static partial void LogRetry(ILogger logger, string key, double seconds, string reason);
}
