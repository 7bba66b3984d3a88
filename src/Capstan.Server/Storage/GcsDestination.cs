using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Contracts;
using Google;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;
using Google.Cloud.Storage.V1;
using GcsObject = Google.Apis.Storage.v1.Data.Object;

namespace Capstan.Server.Storage;

/// <summary>Makes <see cref="GcsDestination"/>s for <c>type: "gcs"</c>.</summary>
public sealed class GcsDestinationFactory : IStorageDestinationFactory
{
    public IReadOnlyList<string> Types { get; } = ["gcs"];

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options) =>
        new GcsDestination(config, endpoint, options);
}

/// <summary>Google Cloud Storage (contract 1.3 / 4.9: <c>secret</c> is the service-account credentials JSON,
/// <c>bucket</c> the bucket, no access key), through the official <c>Google.Cloud.Storage.V1</c> client.
/// <list type="bullet">
/// <item>Credentials: only a <c>service_account</c> JSON is accepted (other credential types can make the
/// server read files, run programs or call URLs named in the JSON). The client signs its own JWT with the
/// account's key (self-signed JWT with scopes), so the JSON's <c>token_uri</c> is never contacted: no token
/// round trip, and no request to an address chosen by whoever supplied the JSON.</item>
/// <item>Endpoint override (<c>Storage:Endpoints:gcs</c>, an emulator): the client's base URI becomes
/// <c>{endpoint}/storage/v1/</c> (uploads go to <c>{endpoint}/upload/storage/v1/</c>); the same signed JWT
/// is sent, which emulators accept without checking.</item>
/// <item>Upload: a resumable upload streamed from the file. Files up to
/// <see cref="StorageOptions.MultipartThresholdBytes"/> go in one request; larger ones in chunks of
/// <see cref="StorageOptions.PartSizeBytes"/> rounded up to a multiple of 256 KiB (GCS's granularity).
/// While the client reads the file, CRC32C, MD5 and SHA-256 are computed; afterwards the object's size and
/// the CRC32C/MD5 the service reports are compared, and the SHA-256 against the one the item declares. The
/// SHA-256 is stored in the object metadata <c>sha256</c>.</item>
/// <item>Failures: 4xx answers (401/403 credentials or permission, 404 no such bucket, 400 bad request) and
/// invalid credentials are <see cref="StorageFailure.Refused"/>; 408/429/5xx, connection failures and time-outs
/// are <see cref="StorageFailure.Unreachable"/>. A mismatch after upload (the object differs from what was
/// sent) deletes the object and is Unreachable (a retry resends it); a local file that no longer matches its
/// declared size or SHA-256 is Refused (resending it would not help).</item>
/// </list></summary>
public sealed class GcsDestination : IStorageDestination
{
    /// <summary>GCS resumable chunks must be multiples of 256 KiB.</summary>
    private const int ChunkGranularity = UploadObjectOptions.MinimumChunkSize;

    /// <summary>Upper bound for one chunk, so a huge setting cannot overflow the client's int buffer.</summary>
    private const long MaxChunkSize = 512L * 1024 * 1024;

    private const string MetadataSha256 = "sha256";

    private readonly string _bucket;
    private readonly string? _secret;
    private readonly Uri? _endpoint;
    private readonly bool _endpointInvalid;
    private readonly StorageOptions _options;
    private StorageClient? _client;

    public GcsDestination(StorageConfig config, string? endpoint, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        _bucket = (config.Bucket ?? string.Empty).Trim();
        _secret = config.Secret;
        _options = options;
        if (!string.IsNullOrWhiteSpace(endpoint))
        {
            // A malformed override is the operator's mistake; it is reported when the destination is used.
            _endpointInvalid = !Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out _endpoint)
                || _endpoint.Scheme is not ("http" or "https");
        }
        var where = _endpoint is not null ? _endpoint.Authority
            : _endpointInvalid ? "invalid endpoint" : ProjectIdOf(_secret) ?? "no project id";
        Description = $"gcs bucket '{_bucket}' ({where})";
    }

    public string Description { get; }

    public async Task UploadAsync(UploadItem item, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(item);
        var client = Client();
        var destination = new GcsObject
        {
            Bucket = _bucket,
            Name = item.Key,
            ContentType = item.ContentType,
            Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { [MetadataSha256] = item.Sha256Hex },
        };
        var uploadOptions = new UploadObjectOptions
        {
            ChunkSize = ChunkSizeFor(item.Size, _options),
            // The integrity check is done here, against the hashes computed while the file streams (below).
            UploadValidationMode = UploadValidationMode.None,
        };

        // A missing local file is not the destination's failure: FileNotFoundException goes up as it is.
        await using var file = new FileStream(item.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read,
            bufferSize: 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        GcsObject uploaded;
        SentFile sent;
        try
        {
            await using var hashing = new HashingReadStream(file);
            uploaded = await client.UploadObjectAsync(destination, hashing, uploadOptions, ct);
            sent = await hashing.ResultAsync(ct);
        }
        catch (Exception e) when (!IsCancellation(e, ct) && e is not StorageException)
        {
            throw Failure(e, $"upload of '{item.Key}'");
        }

        await VerifyAsync(client, item, uploaded, sent, ct);
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken ct)
    {
        var client = Client();
        var path = Path.Combine(Path.GetTempPath(), "capstan-gcs-" + Guid.NewGuid().ToString("N"));
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        try
        {
            await client.DownloadObjectAsync(_bucket, key, file, options: null, ct);
            file.Position = 0;
            return file;
        }
        catch (Exception e)
        {
            await file.DisposeAsync();
            if (IsCancellation(e, ct))
            {
                throw;
            }
            throw Failure(e, $"download of '{key}'");
        }
    }

    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        var client = Client();
        try
        {
            await client.DeleteObjectAsync(_bucket, key, options: null, ct);
        }
        catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound)
        {
            // Already gone (or never there): deleting is idempotent.
        }
        catch (Exception e) when (!IsCancellation(e, ct) && e is not StorageException)
        {
            throw Failure(e, $"delete of '{key}'");
        }
    }

    public ValueTask DisposeAsync()
    {
        _client?.Dispose();
        _client = null;
        return ValueTask.CompletedTask;
    }

    /// <summary>The chunk size for a file: the whole file (one request) up to the multipart threshold, else
    /// the part size; always a multiple of 256 KiB.</summary>
    public static int ChunkSizeFor(long fileSize, StorageOptions options)
    {
        var wanted = fileSize <= options.MultipartThresholdBytes ? fileSize : options.PartSizeBytes;
        wanted = Math.Clamp(wanted, ChunkGranularity, MaxChunkSize);
        return (int)((wanted + ChunkGranularity - 1) / ChunkGranularity * ChunkGranularity);
    }

    private async Task VerifyAsync(StorageClient client, UploadItem item, GcsObject uploaded, SentFile sent, CancellationToken ct)
    {
        if (sent.Length != item.Size || !string.Equals(sent.Sha256Hex, item.Sha256Hex, StringComparison.OrdinalIgnoreCase))
        {
            await TryDeleteAsync(client, item.Key, ct);
            throw new StorageException(StorageFailure.Refused,
                $"{Description}: upload of '{item.Key}' rejected: the local file '{item.LocalPath}' no longer matches its declared size/SHA-256");
        }
        var problems = new List<string>();
        if (uploaded.Size is not { } size || (long)size != item.Size)
        {
            problems.Add($"size {uploaded.Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}, expected {item.Size}");
        }
        if (!string.IsNullOrEmpty(uploaded.Crc32c) && !string.Equals(uploaded.Crc32c, sent.Crc32cBase64, StringComparison.Ordinal))
        {
            problems.Add($"crc32c {uploaded.Crc32c}, expected {sent.Crc32cBase64}");
        }
        if (!string.IsNullOrEmpty(uploaded.Md5Hash) && !string.Equals(uploaded.Md5Hash, sent.Md5Base64, StringComparison.Ordinal))
        {
            problems.Add($"md5 {uploaded.Md5Hash}, expected {sent.Md5Base64}");
        }
        if (problems.Count > 0)
        {
            await TryDeleteAsync(client, item.Key, ct);
            throw new StorageException(StorageFailure.Unreachable,
                $"{Description}: upload of '{item.Key}' arrived damaged ({string.Join("; ", problems)}); the object was deleted");
        }
    }

    private async Task TryDeleteAsync(StorageClient client, string key, CancellationToken ct)
    {
        try
        {
            await client.DeleteObjectAsync(_bucket, key, options: null, ct);
        }
        catch (Exception e) when (!IsCancellation(e, ct))
        {
            // Best effort: the failure being reported matters more.
        }
    }

    private StorageClient Client()
    {
        if (_client is not null)
        {
            return _client;
        }
        if (_endpointInvalid)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: the endpoint override Storage:Endpoints:gcs is not an http(s) URL");
        }
        if (_bucket.Length == 0)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: no bucket given");
        }
        var credential = Credential();
        try
        {
            var builder = new StorageClientBuilder { GoogleCredential = credential };
            if (_endpoint is not null)
            {
                builder.BaseUri = _endpoint.AbsoluteUri.TrimEnd('/') + "/storage/v1/";
            }
            _client = builder.Build();
            return _client;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or UriFormatException)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: the client cannot be set up ({e.GetType().Name})");
        }
    }

    /// <summary>The service account of <c>secret</c>. The parser's own messages are not repeated: they could
    /// quote parts of the secret.</summary>
    private GoogleCredential Credential()
    {
        if (string.IsNullOrWhiteSpace(_secret))
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: no service-account credentials (secret) given");
        }
        string? type;
        string? universe;
        try
        {
            using var doc = JsonDocument.Parse(_secret);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new StorageException(StorageFailure.Refused, $"{Description}: the credentials (secret) are not a JSON object");
            }
            type = StringProperty(doc.RootElement, "type");
            universe = StringProperty(doc.RootElement, "universe_domain");
        }
        catch (JsonException)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: the credentials (secret) are not valid JSON");
        }
        if (!string.Equals(type, JsonCredentialParameters.ServiceAccountCredentialType, StringComparison.Ordinal))
        {
            throw new StorageException(StorageFailure.Refused,
                $"{Description}: the credentials (secret) must be a service-account key (type \"service_account\"), not \"{type ?? "(none)"}\"");
        }
        if (universe is not null && !string.Equals(universe, "googleapis.com", StringComparison.Ordinal))
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: universe domain '{universe}' is not supported");
        }
        try
        {
            var account = CredentialFactory.FromJson<ServiceAccountCredential>(_secret).WithUseJwtAccessWithScopes(true);
            return account.ToGoogleCredential().CreateScoped(Google.Apis.Storage.v1.StorageService.Scope.DevstorageReadWrite);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new StorageException(StorageFailure.Refused,
                $"{Description}: the service-account credentials (secret) cannot be used ({e.GetType().Name}: missing or invalid client_email or private_key?)");
        }
    }

    private static string? StringProperty(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string? ProjectIdOf(string? secret)
    {
        if (string.IsNullOrWhiteSpace(secret))
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(secret);
            return doc.RootElement.ValueKind == JsonValueKind.Object ? StringProperty(doc.RootElement, "project_id") : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsCancellation(Exception e, CancellationToken ct) =>
        e is OperationCanceledException && ct.IsCancellationRequested;

    private StorageException Failure(Exception e, string what)
    {
        var (failure, detail) = Classify(e);
        return new StorageException(failure, $"{Description}: {what} failed: {detail}", e);
    }

    internal static (StorageFailure Failure, string Detail) Classify(Exception e)
    {
        switch (e)
        {
            case StorageException s:
                return (s.Failure, s.Message);
            case GoogleApiException g:
            {
                var status = (int)g.HttpStatusCode;
                var said = g.Error?.Message is { Length: > 0 } m ? $": {m}" : string.Empty;
                return status switch
                {
                    401 => (StorageFailure.Refused, $"credentials rejected (401){said}"),
                    403 => (StorageFailure.Refused, $"permission denied (403){said}"),
                    404 => (StorageFailure.Refused, $"not found (404: no such bucket or object){said}"),
                    408 or 429 => (StorageFailure.Unreachable, $"busy or timed out ({status}){said}"),
                    >= 500 => (StorageFailure.Unreachable, $"service error ({status}){said}"),
                    >= 400 => (StorageFailure.Refused, $"request refused ({status}){said}"),
                    _ => (StorageFailure.Unreachable, $"unexpected answer ({(status == 0 ? "no status" : status)}){said}"),
                };
            }
            case TokenResponseException t:
            {
                var status = t.StatusCode is { } sc ? (int)sc : 0;
                var refused = status is 400 or 401 or 403;
                return (refused ? StorageFailure.Refused : StorageFailure.Unreachable,
                    $"token request failed ({(status == 0 ? "no status" : status)} {t.Error?.Error})");
            }
            case HttpRequestException h:
                return (StorageFailure.Unreachable, $"connection failed: {h.Message}");
            case SocketException or IOException:
                return (StorageFailure.Unreachable, $"connection failed: {e.Message}");
            case TimeoutException or OperationCanceledException:
                return (StorageFailure.Unreachable, "timed out");
            default:
                return e.InnerException is { } inner && inner != e
                    ? Classify(inner)
                    : (StorageFailure.Unreachable, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>What was read from the file: its length and hashes.</summary>
    private sealed record SentFile(long Length, string Crc32cBase64, string Md5Base64, string Sha256Hex);

    /// <summary>Reads through to the file and computes CRC32C, MD5 and SHA-256 of the bytes the client reads.
    /// The client may seek back to resend a chunk: bytes already hashed are not hashed again.</summary>
    private sealed class HashingReadStream : Stream
    {
        private readonly Stream _inner;
#pragma warning disable CA5351 // MD5 is what GCS reports for integrity; it is not used for security.
        private readonly IncrementalHash _md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
#pragma warning restore CA5351
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private uint _crc = Crc32C.Initial;
        private long _hashed;
        private bool _gap;

        public HashingReadStream(Stream inner) => _inner = inner;

        public override bool CanRead => true;

        public override bool CanSeek => _inner.CanSeek;

        public override bool CanWrite => false;

        public override long Length => _inner.Length;

        public override long Position
        {
            get => _inner.Position;
            set => _inner.Position = value;
        }

        /// <summary>The hashes of the whole file. If the client skipped a range (it never does when reading
        /// from the start), the file is hashed again from its start.</summary>
        public async Task<SentFile> ResultAsync(CancellationToken ct)
        {
            if (_gap || _hashed != _inner.Length)
            {
                _md5.GetHashAndReset();
                _sha.GetHashAndReset();
                _crc = Crc32C.Initial;
                _hashed = 0;
                _gap = false;
                _inner.Position = 0;
                var buffer = new byte[1 << 16];
                int n;
                while ((n = await _inner.ReadAsync(buffer, ct)) > 0)
                {
                    Update(buffer.AsSpan(0, n));
                }
            }
            return new SentFile(_hashed, Convert.ToBase64String(Crc32C.ToBigEndian(_crc)),
                Convert.ToBase64String(_md5.GetHashAndReset()), Convert.ToHexStringLower(_sha.GetHashAndReset()));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var start = _inner.Position;
            var n = _inner.Read(buffer);
            Hash(start, buffer[..n]);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var start = _inner.Position;
            var n = await _inner.ReadAsync(buffer, cancellationToken);
            Hash(start, buffer.Span[..n]);
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private void Hash(long start, ReadOnlySpan<byte> read)
        {
            if (read.IsEmpty)
            {
                return;
            }
            if (start > _hashed)
            {
                _gap = true;
                return;
            }
            var skip = _hashed - start;
            if (skip < read.Length)
            {
                Update(read[(int)skip..]);
            }
        }

        private void Update(ReadOnlySpan<byte> data)
        {
            _crc = Crc32C.Append(_crc, data);
            _md5.AppendData(data);
            _sha.AppendData(data);
            _hashed += data.Length;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _md5.Dispose();
                _sha.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>CRC-32C (Castagnoli), the checksum GCS reports as <c>crc32c</c> (base64 of the big-endian value).
    /// Uses the CPU's CRC32C instruction (SSE4.2 / ARMv8) where there is one.</summary>
    private static class Crc32C
    {
        public const uint Initial = 0xFFFFFFFFu;

        private static readonly uint[] Table = BuildTable();

        /// <summary>Continues a running CRC (start with <see cref="Initial"/>; the final value is its complement,
        /// applied by <see cref="ToBigEndian"/>).</summary>
        public static uint Append(uint crc, ReadOnlySpan<byte> data)
        {
            if (System.Runtime.Intrinsics.X86.Sse42.X64.IsSupported)
            {
                ulong c = crc;
                while (data.Length >= 8)
                {
                    c = System.Runtime.Intrinsics.X86.Sse42.X64.Crc32(c, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(data));
                    data = data[8..];
                }
                crc = (uint)c;
            }
            else if (System.Runtime.Intrinsics.Arm.Crc32.Arm64.IsSupported)
            {
                while (data.Length >= 8)
                {
                    crc = System.Runtime.Intrinsics.Arm.Crc32.Arm64.ComputeCrc32C(crc, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(data));
                    data = data[8..];
                }
            }
            foreach (var b in data)
            {
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }
            return crc;
        }

        public static byte[] ToBigEndian(uint running)
        {
            var bytes = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, ~running);
            return bytes;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                var c = i;
                for (var k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
                }
                table[i] = c;
            }
            return table;
        }
    }
}
