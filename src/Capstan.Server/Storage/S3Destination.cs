using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Capstan.Contracts;

namespace Capstan.Server.Storage;

/// <summary>Makes S3 destinations: <c>aws</c>, <c>digitalocean</c> (Spaces), and any alias type the operator
/// pointed at an S3-compatible endpoint (<c>Storage:Endpoints:{type}</c>, e.g. <c>cloudflare</c> for R2).</summary>
public sealed class S3DestinationFactory : IStorageDestinationFactory
{
    public IReadOnlyList<string> Types { get; } = ["aws", "digitalocean"];

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options) =>
        Create(config, endpoint, options, guard: null);

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options, Security.OutboundPolicy? guard)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        var type = string.IsNullOrWhiteSpace(config.Type) ? "aws" : config.Type.Trim();
        var bucket = config.Bucket?.Trim() ?? string.Empty;
        var region = config.Region?.Trim() ?? string.Empty;
        endpoint = string.IsNullOrWhiteSpace(endpoint) ? null : endpoint.Trim();

        string? serviceUrl = endpoint;
        if (serviceUrl is null)
        {
            switch (type)
            {
                case "aws":
                    if (region.Length == 0)
                    {
                        throw new StorageException(StorageFailure.Refused, $"aws bucket '{bucket}': storage_config.region is required");
                    }
                    break;
                case "digitalocean":
                    if (region.Length == 0)
                    {
                        throw new StorageException(StorageFailure.Refused, $"digitalocean bucket '{bucket}': storage_config.region is required (for example 'nyc3')");
                    }
                    serviceUrl = $"https://{region.ToLowerInvariant()}.digitaloceanspaces.com";
                    break;
                default:
                    throw new StorageException(StorageFailure.Refused,
                        $"storage type '{type}' needs an S3-compatible endpoint configured by the operator (Storage:Endpoints:{type})");
            }
        }

        Uri? endpointUri = null;
        if (serviceUrl is not null
            && (!Uri.TryCreate(serviceUrl, UriKind.Absolute, out endpointUri) || (endpointUri.Scheme != Uri.UriSchemeHttp && endpointUri.Scheme != Uri.UriSchemeHttps)))
        {
            throw new StorageException(StorageFailure.Refused, $"{type} bucket '{bucket}': the endpoint '{serviceUrl}' is not an http(s) URL");
        }

        // Description: the region when the type's own service is used, the endpoint's host when the operator
        // pointed the type somewhere else (MinIO, an emulator, R2...).
        var where = endpoint is not null && endpointUri is not null ? endpointUri.Authority : region;
        var description = $"{type} bucket '{bucket}' ({where})";
        if (bucket.Length == 0)
        {
            throw new StorageException(StorageFailure.Refused, $"{description}: storage_config.bucket is required");
        }
        if (string.IsNullOrEmpty(config.AccessKey) || string.IsNullOrEmpty(config.Secret))
        {
            throw new StorageException(StorageFailure.Refused, $"{description}: storage_config.access_key and secret are required");
        }

        return new S3Destination(new S3Settings(
            Description: description,
            Bucket: bucket,
            AccessKey: config.AccessKey,
            Secret: config.Secret,
            // The SigV4 signing region: AWS's own region name; Spaces wants its (lower-case) region name as in
            // the endpoint; S3-compatible servers without regions (MinIO's default, R2's alias) take us-east-1.
            Region: region.Length == 0 ? "us-east-1" : type == "digitalocean" ? region.ToLowerInvariant() : region,
            ServiceUrl: endpointUri,
            ForcePathStyle: endpoint is not null,
            // Real AWS verifies x-amz-checksum-sha256 itself; S3-compatible servers vary (s3rver ignores it,
            // some reject unknown checksum headers), so only the size is verified there.
            SendChecksums: type == "aws" && endpoint is null,
            MultipartThresholdBytes: options.MultipartThresholdBytes,
            PartSizeBytes: options.PartSizeBytes,
            Guard: guard));
    }
}

internal sealed record S3Settings(
    string Description,
    string Bucket,
    string AccessKey,
    string Secret,
    string Region,
    Uri? ServiceUrl,
    bool ForcePathStyle,
    bool SendChecksums,
    long MultipartThresholdBytes,
    long PartSizeBytes,
    Security.OutboundPolicy? Guard = null);

/// <summary>HttpClients for the S3 SDK whose connections go through the outbound policy.</summary>
internal sealed class GuardedS3HttpClientFactory(Security.OutboundPolicy guard) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig) =>
        new(guard.CreateHandler(allowRedirects: false)) { Timeout = clientConfig?.Timeout ?? TimeSpan.FromMinutes(5) };

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => true;

    public override string GetConfigUniqueString(IClientConfig clientConfig) => "capstan-outbound";
}

/// <summary>An S3 bucket (AWS, DigitalOcean Spaces, or an S3-compatible endpoint). Small files go up in one
/// PutObject, large ones in a multipart upload read part by part from the file; the object carries its SHA-256
/// as <c>x-amz-meta-sha256</c> and its size is checked with HeadObject afterwards.</summary>
public sealed class S3Destination : IStorageDestination
{
    private const long MinPartSize = 5L * 1024 * 1024;
    private const long MaxPartSize = 512L * 1024 * 1024; // S3 allows 5 GiB, but a part is held in memory
    private const int MaxParts = 10_000;

    private readonly S3Settings _settings;
    private readonly AmazonS3Client _client;

    internal S3Destination(S3Settings settings)
    {
        _settings = settings;
        var config = new AmazonS3Config
        {
            // The upload spool retries with backoff; the SDK only smooths over a single blip.
            MaxErrorRetry = 1,
            RetryMode = RequestRetryMode.Standard,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            // Per request: one part or one small file, at a pessimistic 64 KiB/s, and at least 5 minutes.
            Timeout = TimeSpan.FromSeconds(Math.Max(300, Math.Max(settings.MultipartThresholdBytes, settings.PartSizeBytes) / (64 * 1024))),
            // Only what the operator configured: no AWS_ENDPOINT_URL or shared-config endpoint from the machine.
            IgnoreConfiguredEndpointUrls = true,
            // The SDK's default CRC32 trailers (aws-chunked) are not understood by every S3-compatible server;
            // checksums are sent explicitly where they are supported.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (settings.ServiceUrl is not null)
        {
            config.ServiceURL = settings.ServiceUrl.ToString();
            config.AuthenticationRegion = settings.Region;
            config.ForcePathStyle = settings.ForcePathStyle;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(settings.Region);
        }
        if (settings.Guard is not null)
        {
            config.HttpClientFactory = new GuardedS3HttpClientFactory(settings.Guard);
        }
        _client = new AmazonS3Client(new BasicAWSCredentials(settings.AccessKey, settings.Secret), config);
    }

    public string Description => _settings.Description;

    /// <summary>A presigned GET URL for <paramref name="key"/>, valid until <paramref name="expires"/>. SigV4 allows
    /// at most 7 days, and an expiry the SDK finds beyond that (by its own clock, read a moment later and corrected for
    /// the server's) came out as a SigV2 URL, now and then, for the default 7 days (a CI failure): the expiry is kept a
    /// minute inside the limit, so a full 7-day link ends up to a minute before <c>download_url_expiry</c>.</summary>
    public string PresignGet(string key, DateTime expires)
    {
        var limit = DateTime.UtcNow.AddDays(7).AddMinutes(-1);
        return _client.GetPreSignedURL(new GetPreSignedUrlRequest
        {
            BucketName = _settings.Bucket,
            Key = key,
            Verb = HttpVerb.GET,
            Expires = expires.ToUniversalTime() < limit ? expires : limit,
            Protocol = _settings.ServiceUrl?.Scheme == "http" ? Protocol.HTTP : Protocol.HTTPS,
        });
    }

    /// <summary>aws-chunked bodies (the SDK's default for streamed uploads) are plain S3 only: other servers get
    /// an ordinary body with a signed payload hash.</summary>
    private bool UseChunkEncoding => _settings.SendChecksums;

    public async Task UploadAsync(UploadItem item, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(item);
        try
        {
            if (item.Size < _settings.MultipartThresholdBytes || item.Size == 0)
            {
                await PutAsync(item, ct);
            }
            else
            {
                await PutInPartsAsync(item, ct);
            }
            await VerifyAsync(item, ct);
        }
        catch (Exception e) when (e is not (StorageException or FileNotFoundException or DirectoryNotFoundException)
                                  && !(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            // A missing local file is the caller's problem, not the destination's: it goes up as it is.
            throw Classify(e, "upload of '" + item.Key + "'");
        }
    }

    private async Task PutAsync(UploadItem item, CancellationToken ct)
    {
        await using var file = OpenFile(item.LocalPath);
        var request = new PutObjectRequest
        {
            BucketName = _settings.Bucket,
            Key = item.Key,
            InputStream = file,
            AutoCloseStream = false,
            ContentType = item.ContentType,
            UseChunkEncoding = UseChunkEncoding,
        };
        request.Headers.ContentLength = item.Size;
        request.Metadata.Add("sha256", item.Sha256Hex);
        if (_settings.SendChecksums)
        {
            request.ChecksumSHA256 = Convert.ToBase64String(Convert.FromHexString(item.Sha256Hex));
        }
        await _client.PutObjectAsync(request, ct);
    }

    private async Task PutInPartsAsync(UploadItem item, CancellationToken ct)
    {
        var partSize = Math.Clamp(_settings.PartSizeBytes, MinPartSize, MaxPartSize);
        partSize = Math.Max(partSize, (item.Size + MaxParts - 1) / MaxParts);
        var initiate = new InitiateMultipartUploadRequest
        {
            BucketName = _settings.Bucket,
            Key = item.Key,
            ContentType = item.ContentType,
        };
        initiate.Metadata.Add("sha256", item.Sha256Hex);
        if (_settings.SendChecksums)
        {
            initiate.ChecksumAlgorithm = ChecksumAlgorithm.SHA256;
        }
        var started = await _client.InitiateMultipartUploadAsync(initiate, ct);
        var uploadId = started.UploadId;
        try
        {
            var parts = new List<PartETag>();
            // One part in memory at a time (a MemoryStream over it can be re-read by the SDK to sign and retry).
            var buffer = new byte[checked((int)Math.Min(partSize, item.Size))];
            await using var file = OpenFile(item.LocalPath);
            for (var partNumber = 1; ; partNumber++)
            {
                var length = await file.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
                if (length == 0)
                {
                    break;
                }
                var part = new UploadPartRequest
                {
                    BucketName = _settings.Bucket,
                    Key = item.Key,
                    UploadId = uploadId,
                    PartNumber = partNumber,
                    PartSize = length,
                    InputStream = new MemoryStream(buffer, 0, length, writable: false),
                    UseChunkEncoding = UseChunkEncoding,
                    IsLastPart = length < buffer.Length,
                };
                if (_settings.SendChecksums)
                {
                    part.ChecksumAlgorithm = ChecksumAlgorithm.SHA256;
                    part.ChecksumSHA256 = Convert.ToBase64String(SHA256.HashData(buffer.AsSpan(0, length)));
                }
                var uploaded = await _client.UploadPartAsync(part, ct);
                parts.Add(new PartETag(partNumber, uploaded.ETag) { ChecksumSHA256 = part.ChecksumSHA256 });
                if (length < buffer.Length)
                {
                    break;
                }
            }
            var sent = file.Position;
            if (sent != item.Size)
            {
                throw new StorageException(StorageFailure.Unreachable,
                    $"{Description}: the local file '{item.LocalPath}' is {sent} bytes, expected {item.Size}");
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _settings.Bucket,
                Key = item.Key,
                UploadId = uploadId,
                PartETags = parts,
            }, ct);
        }
        catch
        {
            await AbortAsync(item.Key, uploadId);
            throw;
        }
    }

    /// <summary>Best effort: an abandoned upload only costs storage until the bucket's lifecycle rule (if any)
    /// cleans it up, and the original failure is the one worth reporting.</summary>
    private async Task AbortAsync(string key, string uploadId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
            {
                BucketName = _settings.Bucket,
                Key = key,
                UploadId = uploadId,
            }, timeout.Token);
        }
#pragma warning disable CA1031 // the upload's own failure is reported; this is cleanup
        catch (Exception)
        {
        }
#pragma warning restore CA1031
    }

    private async Task VerifyAsync(UploadItem item, CancellationToken ct)
    {
        var request = new GetObjectMetadataRequest { BucketName = _settings.Bucket, Key = item.Key };
        if (_settings.SendChecksums)
        {
            request.ChecksumMode = ChecksumMode.ENABLED;
        }
        GetObjectMetadataResponse head;
        try
        {
            head = await _client.GetObjectMetadataAsync(request, ct);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new StorageException(StorageFailure.Unreachable, $"{Description}: '{item.Key}' is missing right after its upload", e);
        }
        if (head.ContentLength != item.Size)
        {
            throw new StorageException(StorageFailure.Unreachable,
                $"{Description}: '{item.Key}' arrived with {head.ContentLength} bytes instead of {item.Size}");
        }
        // A whole-object checksum (single PutObject); multipart ones are "checksum-of-parts-N".
        var expected = Convert.ToBase64String(Convert.FromHexString(item.Sha256Hex));
        if (_settings.SendChecksums && !string.IsNullOrEmpty(head.ChecksumSHA256) && !head.ChecksumSHA256.Contains('-', StringComparison.Ordinal)
            && !string.Equals(head.ChecksumSHA256, expected, StringComparison.Ordinal))
        {
            throw new StorageException(StorageFailure.Unreachable,
                $"{Description}: '{item.Key}' arrived with SHA-256 {head.ChecksumSHA256} instead of {expected}");
        }
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken ct)
    {
        try
        {
            var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _settings.Bucket, Key = key }, ct);
            return new ResponseStream(response);
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw Classify(e, "read of '" + key + "'");
        }
    }

    /// <summary>The objects under <paramref name="prefix"/> (key and size), every page of the listing: the shipped
    /// pieces of a recording's segments (<see cref="Recorder.S3SegmentStore"/>).</summary>
    public async Task<IReadOnlyList<(string Key, long Size)>> ListAsync(string prefix, CancellationToken ct)
    {
        var found = new List<(string Key, long Size)>();
        try
        {
            var request = new ListObjectsV2Request { BucketName = _settings.Bucket, Prefix = prefix };
            while (true)
            {
                var page = await _client.ListObjectsV2Async(request, ct);
                found.AddRange((page.S3Objects ?? []).Select(o => (o.Key, o.Size ?? 0)));
                if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
                {
                    return found;
                }
                request.ContinuationToken = page.NextContinuationToken;
            }
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw Classify(e, "listing of '" + prefix + "'");
        }
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _settings.Bucket, Key = key }, ct);
        }
        catch (Exception e) when (!(e is OperationCanceledException && ct.IsCancellationRequested))
        {
            throw Classify(e, "delete of '" + key + "'");
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private static FileStream OpenFile(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 81920, Options = FileOptions.Asynchronous | FileOptions.SequentialScan });

    /// <summary>Refused: the service answered no (credentials, permissions, bucket, request): retrying will not
    /// help. Unreachable: network, timeouts, throttling, server errors, corrupted transfers: retry later.</summary>
    internal StorageException Classify(Exception e, string what)
    {
        if (e is StorageException storage)
        {
            return storage;
        }
        if (Security.OutboundRefusal.Find(e) is { } refusal)
        {
            return Refused(refusal.Message);
        }
        if (e is AmazonS3Exception s3 && (int)s3.StatusCode != 0)
        {
            var code = string.IsNullOrEmpty(s3.ErrorCode) ? ((int)s3.StatusCode).ToString(CultureInfo.InvariantCulture) : s3.ErrorCode;
            var status = (int)s3.StatusCode;
            switch (code)
            {
                case "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "AllAccessDisabled"
                    or "InvalidToken" or "ExpiredToken" or "AccountProblem" or "InvalidSecurity":
                    return Refused($"access denied ({code})");
                case "NoSuchBucket":
                    return Refused($"no such bucket ({code})");
                case "SlowDown" or "RequestTimeout" or "InternalError" or "ServiceUnavailable" or "BadDigest"
                    or "IncompleteBody" or "XAmzContentSHA256Mismatch" or "RequestTimeTooSkewed" or "OperationAborted":
                    return Unreachable($"{what} failed ({status} {code}): {s3.Message}");
            }
            if (status >= 500 || status == 429 || status == 408)
            {
                return Unreachable($"{what} failed ({status} {code}): {s3.Message}");
            }
            if (status is 401 or 403)
            {
                return Refused($"access denied ({code})");
            }
            if (status == 404 && string.IsNullOrEmpty(s3.ErrorCode))
            {
                // HEAD answers carry no error body: a 404 there is an object or a bucket that is not there.
                return Refused($"not found (404) during {what}");
            }
            return Refused($"{what} refused ({status} {code}): {s3.Message}");
        }
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case HttpRequestException or SocketException or IOException:
                    return Unreachable($"unreachable: {inner.Message}");
                case TimeoutException or TaskCanceledException or OperationCanceledException:
                    return Unreachable($"{what} timed out");
            }
        }
        if (e is AmazonServiceException service && (int)service.StatusCode is >= 500 or 429 or 0)
        {
            return Unreachable($"{what} failed: {service.Message}");
        }
        // The SDK refused the request itself (an invalid bucket name, key or configuration).
        return Refused($"{what} refused: {e.Message}");

        StorageException Refused(string message) => new(StorageFailure.Refused, $"{Description}: {message}", e);
        StorageException Unreachable(string message) => new(StorageFailure.Unreachable, $"{Description}: {message}", e);
    }

    /// <summary>The object's body; disposing it releases the HTTP response too.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => response.ContentLength;
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.ReadAsync(buffer, cancellationToken);
        public override void Flush()
        {
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await _inner.DisposeAsync();
            response.Dispose();
            await base.DisposeAsync();
        }
    }
}
