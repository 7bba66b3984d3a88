using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Capstan.Contracts;

namespace Capstan.Server.Storage;

/// <summary>Serves <c>storage_config.type = azure</c>: <c>access_key</c> is the connection string, <c>bucket</c> the
/// container (spec 1.3 and 4.9; <c>secret</c> and <c>region</c> are empty).</summary>
public sealed class AzureBlobDestinationFactory : IStorageDestinationFactory
{
    public IReadOnlyList<string> Types { get; } = ["azure"];

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options) =>
        new AzureBlobDestination(config, endpoint, options);

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options, Security.OutboundPolicy? guard) =>
        new AzureBlobDestination(config, endpoint, options, guard);
}

/// <summary>An Azure Blob Storage container. Files above <see cref="StorageOptions.MultipartThresholdBytes"/> go up as
/// staged blocks of <see cref="StorageOptions.PartSizeBytes"/> read from the file (one block in memory at a time),
/// then one commit of the block list; smaller files in a single Put Blob. Every request carries a Content-MD5 that the
/// service checks; after the upload the blob's size is compared with the file's, and the file's SHA-256 is kept in
/// the blob metadata <c>sha256</c>. The container is never created: a missing one is refused.
/// <para>An operator endpoint override (<c>Storage:Endpoints:azure</c>) replaces the connection string's blob
/// endpoint as given (for Azurite, include the account: <c>http://127.0.0.1:10000/devstoreaccount1</c>).</para>
/// <para>The SDK retries at most once with short delays: the caller retries unreachable destinations with backoff.</para></summary>
public sealed class AzureBlobDestination : IStorageDestination
{
    /// <summary>The service limit for one staged block is 4000 MiB; one block is buffered, so stay far below.</summary>
    private const long MaxBlockBytes = 256L * 1024 * 1024;

    private const long MinBlockBytes = 64 * 1024;

    /// <summary>The service limit for one Put Blob; larger files always go up in blocks.</summary>
    private const long MaxSinglePutBytes = 5000L * 1024 * 1024;

    private readonly BlobContainerClient _container;
    private readonly long _threshold;
    private readonly int _blockSize;

    /// <param name="guard">When set (the connection string came from a request), every connection goes through the
    /// outbound policy.</param>
    public AzureBlobDestination(StorageConfig config, string? endpoint, StorageOptions options, Security.OutboundPolicy? guard = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        var bucket = config.Bucket?.Trim() ?? string.Empty;
        Description = $"azure container '{bucket}'";
        if (bucket.Length == 0)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: bucket (the container name) is required");
        }
        var connectionString = config.AccessKey?.Trim() ?? string.Empty;
        if (connectionString.Length == 0)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: access_key (the connection string) is required");
        }
        if (!string.IsNullOrWhiteSpace(endpoint))
        {
            connectionString = WithBlobEndpoint(connectionString, endpoint.Trim());
        }

        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.MaxRetries = 1;
        clientOptions.Retry.Mode = Azure.Core.RetryMode.Exponential;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(500);
        clientOptions.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        // Per try: long enough for the largest single request at 128 KiB/s, at least 30 s.
        var largestRequest = Math.Max(Math.Clamp(options.MultipartThresholdBytes, 0, MaxSinglePutBytes),
            Math.Clamp(options.PartSizeBytes, MinBlockBytes, MaxBlockBytes));
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(Math.Max(30, largestRequest / (128 * 1024)));
        clientOptions.Diagnostics.ApplicationId = "capstan";
        if (guard is not null)
        {
            clientOptions.Transport = new Azure.Core.Pipeline.HttpClientTransport(guard.CreateHandler(allowRedirects: false));
        }
        BlobServiceClient service;
        try
        {
            service = new BlobServiceClient(connectionString, clientOptions);
            _container = service.GetBlobContainerClient(bucket);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or UriFormatException)
        {
            // The SDK's message may quote the connection string: it is not passed on.
            throw new StorageException(StorageFailure.Refused, $"{Description}: access_key is not a valid Azure Storage connection string");
        }
        var account = service.AccountName;
        var where = !string.IsNullOrEmpty(account) ? account : service.Uri.Host;
        Description = $"azure container '{bucket}' ({where})";

        _threshold = Math.Clamp(options.MultipartThresholdBytes, 0, MaxSinglePutBytes);
        _blockSize = (int)Math.Clamp(options.PartSizeBytes, MinBlockBytes, MaxBlockBytes);
    }

    public string Description { get; private set; }

    public async Task UploadAsync(UploadItem item, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(item);
        var blob = _container.GetBlockBlobClient(item.Key);
        var headers = new BlobHttpHeaders { ContentType = item.ContentType };
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["sha256"] = item.Sha256Hex };
        var md5 = new UploadTransferValidationOptions { ChecksumAlgorithm = StorageChecksumAlgorithm.MD5 };
        try
        {
            await using var file = new FileStream(item.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read, 81920,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            if (file.Length > _threshold)
            {
                await UploadInBlocksAsync(blob, file, headers, metadata, md5, ct);
            }
            else
            {
                await blob.UploadAsync(file, new BlobUploadOptions
                {
                    HttpHeaders = headers,
                    Metadata = metadata,
                    TransferValidation = md5,
                }, ct);
            }
            var properties = await blob.GetPropertiesAsync(cancellationToken: ct);
            if (properties.Value.ContentLength != item.Size)
            {
                throw new StorageException(StorageFailure.Unreachable,
                    $"{Description}: '{item.Key}' arrived with {properties.Value.ContentLength} bytes instead of {item.Size}");
            }
        }
        catch (Exception e) when (e is not StorageException && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw Classify(e, $"uploading '{item.Key}'");
        }
    }

    private async Task UploadInBlocksAsync(BlockBlobClient blob, FileStream file, BlobHttpHeaders headers,
        Dictionary<string, string> metadata, UploadTransferValidationOptions md5, CancellationToken ct)
    {
        // Ids of one upload share a random prefix, so blocks left uncommitted by an earlier attempt are never reused.
        var upload = Guid.NewGuid().ToString("N");
        var ids = new List<string>();
        var buffer = ArrayPool<byte>.Shared.Rent(_blockSize);
        try
        {
            while (true)
            {
                var filled = 0;
                while (filled < _blockSize)
                {
                    var n = await file.ReadAsync(buffer.AsMemory(filled, _blockSize - filled), ct);
                    if (n == 0)
                    {
                        break;
                    }
                    filled += n;
                }
                if (filled == 0)
                {
                    break;
                }
                var id = Convert.ToBase64String(Encoding.ASCII.GetBytes($"{upload}-{ids.Count:D6}"));
                using (var block = new MemoryStream(buffer, 0, filled, writable: false))
                {
                    await blob.StageBlockAsync(id, block, new BlockBlobStageBlockOptions { TransferValidation = md5 }, ct);
                }
                ids.Add(id);
                if (filled < _blockSize)
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        await blob.CommitBlockListAsync(ids, new CommitBlockListOptions { HttpHeaders = headers, Metadata = metadata }, ct);
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken ct)
    {
        try
        {
            return await _container.GetBlobClient(key).OpenReadAsync(
                new BlobOpenReadOptions(allowModifications: false) { BufferSize = 4 * 1024 * 1024 }, ct);
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw Classify(e, $"reading '{key}'");
        }
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        try
        {
            await _container.GetBlobClient(key).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: ct);
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw Classify(e, $"deleting '{key}'");
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Refused: the service answered no (4xx other than 408/429: bad credentials, no permission, missing
    /// container, bad request). Unreachable: no answer (status 0, connection or socket errors, timeouts) or a
    /// transient one (408, 429, 5xx). Messages carry status and error code, never the connection string.</summary>
    private StorageException Classify(Exception e, string action)
    {
        // After its retries the SDK throws an AggregateException of each try's failure: the last one speaks.
        var last = e is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[^1] : e;
        if (Security.OutboundRefusal.Find(last) is { } refusal)
        {
            return new StorageException(StorageFailure.Refused, $"{Description}: {action} refused: {refusal.Message}", e);
        }
        switch (last)
        {
            case RequestFailedException { Status: > 0 } r:
                var refused = r.Status is >= 400 and < 500 and not 408 and not 429;
                return new StorageException(refused ? StorageFailure.Refused : StorageFailure.Unreachable,
                    $"{Description}: {action} failed: {Explain(r)}", e);
            case RequestFailedException r:
                return new StorageException(StorageFailure.Unreachable,
                    $"{Description}: {action} failed: unreachable ({Network(r.InnerException ?? r)})", e);
            case HttpRequestException or SocketException or IOException or TimeoutException or OperationCanceledException:
                return new StorageException(StorageFailure.Unreachable,
                    $"{Description}: {action} failed: unreachable ({Network(last)})", e);
            default:
                return new StorageException(StorageFailure.Unreachable,
                    $"{Description}: {action} failed: {last.GetType().Name}", e);
        }
    }

    private static string Explain(RequestFailedException r)
    {
        var what = r.ErrorCode switch
        {
            "AuthenticationFailed" => "the credentials (access_key) were refused",
            "AuthorizationFailure" or "AuthorizationPermissionMismatch" or "InsufficientAccountPermissions" =>
                "the credentials (access_key) may not write here",
            "ContainerNotFound" => "the container does not exist",
            "ContainerBeingDeleted" or "ContainerDisabled" => "the container is being deleted or is disabled",
            "BlobNotFound" => "no such blob",
            "AccountIsDisabled" => "the storage account is disabled",
            _ => null,
        };
        var code = string.IsNullOrEmpty(r.ErrorCode) ? $"HTTP {r.Status}" : $"HTTP {r.Status} {r.ErrorCode}";
        return what is null ? code : $"{what} ({code})";
    }

    private static string Network(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null && inner is not SocketException)
        {
            inner = inner.InnerException;
        }
        return inner switch
        {
            SocketException s => $"{s.SocketErrorCode}: {s.Message}",
            TimeoutException or OperationCanceledException => "timed out",
            _ => inner.Message,
        };
    }

    /// <summary>The connection string with its blob endpoint replaced by the operator's override.</summary>
    private static string WithBlobEndpoint(string connectionString, string endpoint)
    {
        var kept = connectionString
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(part =>
            {
                var name = part.Split('=', 2)[0].Trim();
                return !name.Equals("BlobEndpoint", StringComparison.OrdinalIgnoreCase);
            });
        return string.Join(';', kept.Append("BlobEndpoint=" + endpoint.TrimEnd('/')));
    }
}
