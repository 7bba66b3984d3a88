using System.Security.Cryptography;
using Capstan.Contracts;

namespace Capstan.Server.Storage;

/// <summary>A finished file to deliver: where it is on disk, the object key at the destination
/// (<c>path</c> + file name), and its size and SHA-256 for verification.</summary>
public sealed record UploadItem(string LocalPath, string Key, string ContentType, long Size, string Sha256Hex)
{
    public static async Task<UploadItem> ForFileAsync(string localPath, string key, CancellationToken ct)
    {
        await using var f = File.OpenRead(localPath);
        var hash = await SHA256.HashDataAsync(f, ct);
        return new UploadItem(localPath, key, ContentTypes.Of(localPath), f.Length, Convert.ToHexStringLower(hash));
    }
}

/// <summary>Why a delivery failed. <see cref="Refused"/>: the destination answered and said no (bad
/// credentials, no such bucket, no permission): retrying will not help. <see cref="Unreachable"/>: it could not
/// be reached or failed transiently: retry with backoff.</summary>
public enum StorageFailure
{
    Refused,
    Unreachable,
}

public sealed class StorageException : Exception
{
    public StorageException(StorageFailure failure, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
    }

    public StorageException()
        : this(StorageFailure.Unreachable, "storage failure")
    {
    }

    public StorageException(string message)
        : this(StorageFailure.Unreachable, message)
    {
    }

    public StorageException(string message, Exception innerException)
        : this(StorageFailure.Unreachable, message, innerException)
    {
    }

    public StorageFailure Failure { get; }
}

/// <summary>One storage destination of the contract (<c>storage_config.type</c>). Implementations stream the
/// file (multipart or resumable for large files), verify what arrived (size, and the checksum where the service
/// reports one), and classify every failure as refused or unreachable.</summary>
public interface IStorageDestination : IAsyncDisposable
{
    /// <summary>Names the destination in messages, without secrets: "aws bucket 'b' (us-east-1)".</summary>
    string Description { get; }

    Task UploadAsync(UploadItem item, CancellationToken ct);

    /// <summary>Reads an object back (verification and tests).</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken ct);

    Task DeleteAsync(string key, CancellationToken ct);
}

/// <summary>Operator settings for destinations, section <c>Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Endpoint override per type (<c>Storage:Endpoints:aws</c> = <c>http://127.0.0.1:4568</c>), for
    /// S3-compatible servers, emulators, or an alias type such as <c>cloudflare</c>.</summary>
    public Dictionary<string, string> Endpoints { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long an unreachable destination is retried before the recording ends ERRORED.</summary>
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromHours(1);

    /// <summary>First retry delay; it doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Files larger than this go up in parts (multipart/resumable/chunked).</summary>
    public long MultipartThresholdBytes { get; set; } = 16 * 1024 * 1024;

    public long PartSizeBytes { get; set; } = 8 * 1024 * 1024;
}

public static class ContentTypes
{
    public static string Of(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".mp4" => "video/mp4",
        ".webm" => "video/webm",
        ".m4a" => "audio/mp4",
        ".mp3" => "audio/mpeg",
        ".ogg" => "audio/ogg",
        ".json" => "application/json",
        ".tar" => "application/x-tar",
        _ => "application/octet-stream",
    };
}

/// <summary>Object keys: the destination's <c>path</c> (a folder, may be empty) joined with the file name.</summary>
public static class ObjectKeys
{
    public static string For(StorageConfig config, string fileName)
    {
        ArgumentNullException.ThrowIfNull(config);
        var prefix = (config.Path ?? string.Empty).Trim().Trim('/');
        return prefix.Length == 0 ? fileName : prefix + "/" + fileName;
    }
}
