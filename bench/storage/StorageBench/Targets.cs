using Capstan.Contracts;
using Capstan.Server.Storage;
using Capstan.Storage.Tests;

namespace Capstan.Bench.Storage;

/// <summary>One destination type and the local server that plays it: the storage tests' fixture, started and
/// stopped as the tests do, and the <c>storage_config</c> plus operator settings
/// (<see cref="StorageOptions"/>, endpoint overrides) that make <see cref="StorageDestinations"/> upload to it.</summary>
public abstract class Target : IAsyncDisposable
{
    /// <summary>The <c>storage_config.type</c>.</summary>
    public abstract string Type { get; }

    /// <summary>The server that plays it.</summary>
    public abstract string Server { get; }

    public abstract Task StartAsync();

    public abstract StorageConfig Config();

    /// <summary>The server's defaults plus the endpoint override the type needs.</summary>
    public virtual StorageOptions Options(long fileSize) => new();

    /// <summary>What differs from the server's default settings for this target (printed), or null.</summary>
    public virtual string? Deviation(long fileSize) => null;

    public abstract ValueTask DisposeAsync();

    public static Target For(string type) => type switch
    {
        "aws" => new S3Target(),
        "azure" => new AzureTarget(),
        "gcs" => new GcsTarget(),
        "sftp" => new SftpTarget(),
        _ => throw new ArgumentException($"unknown destination type '{type}' (aws, azure, gcs, sftp)", nameof(type)),
    };
}

/// <summary><c>aws</c> through the operator's endpoint override (<c>Storage:Endpoints:aws</c>) to s3rver.</summary>
public sealed class S3Target : Target
{
    private readonly S3rverFixture _server = new();

    public override string Type => "aws";

    public override string Server => "s3rver";

    public override Task StartAsync() => _server.InitializeAsync().AsTask();

    public override StorageConfig Config() => new()
    {
        Type = "aws",
        AccessKey = S3rverFixture.AccessKey,
        Secret = S3rverFixture.Secret,
        Bucket = S3rverFixture.Bucket,
        Region = "us-east-1",
        Path = "bench/storage",
    };

    public override StorageOptions Options(long fileSize)
    {
        var options = new StorageOptions();
        options.Endpoints["aws"] = _server.Url;
        return options;
    }

    public override ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary><c>azure</c> to Azurite: the connection string (<c>access_key</c>) names its blob endpoint.</summary>
public sealed class AzureTarget : Target
{
    private readonly AzuriteFixture _server = new();

    public override string Type => "azure";

    public override string Server => "azurite";

    public override Task StartAsync() => _server.InitializeAsync().AsTask();

    public override StorageConfig Config() => new()
    {
        Type = "azure",
        AccessKey = _server.ConnectionString(),
        Secret = string.Empty,
        Region = string.Empty,
        Bucket = _server.Container,
        Path = "bench/storage",
    };

    public override ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary><c>gcs</c> through <c>Storage:Endpoints:gcs</c> to the firebase-tools Cloud Storage emulator. That
/// emulator finalises a resumable upload on its first chunk, so the file can only go up in one request: the
/// multipart threshold is set above the file size (the one deviation from the defaults). Its upload PUT route
/// has a 130 MB body-parser limit, but body-parser only reads bodies with a Content-Type, and the Google client
/// sends the chunk without one (the type goes in <c>X-Upload-Content-Type</c> when the session starts), so the
/// emulator takes the whole body: whether it accepts the request is simply tried, and a refusal reported.</summary>
public sealed class GcsTarget : Target
{
    private readonly GcsEmulatorFixture _server = new();

    public override string Type => "gcs";

    public override string Server => "firebase-tools storage emulator";

    public override Task StartAsync() => _server.InitializeAsync().AsTask();

    public override StorageConfig Config() => new()
    {
        Type = "gcs",
        Bucket = GcsEmulatorFixture.Bucket,
        Secret = GcsEmulatorFixture.ServiceAccountJson(),
        Region = "US multi-region",
        Path = "bench/storage",
    };

    public override StorageOptions Options(long fileSize)
    {
        var options = new StorageOptions { MultipartThresholdBytes = fileSize + 1 };
        options.Endpoints["gcs"] = _server.Endpoint;
        return options;
    }

    public override string? Deviation(long fileSize) =>
        $"MultipartThresholdBytes = {fileSize + 1} (file size + 1) instead of 16 MiB: the file goes up in ONE resumable request, " +
        "because the emulator finalises an upload on its first chunk. Google.Apis' ResumableUpload copies each chunk into a " +
        "byte[] of the chunk's size before sending it, so this configuration holds the whole file in memory; with the default " +
        "settings a chunk is 8 MiB (PartSizeBytes), which this emulator cannot take in sequence, so that case is not measurable here";

    public override ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary><c>sftp</c> with a password to OpenSSH's sshd (a throwaway chrooted user; needs root).</summary>
public sealed class SftpTarget : Target
{
    private readonly SftpServerFixture _server = new();

    public override string Type => "sftp";

    public override string Server => "OpenSSH sshd (internal-sftp)";

    public override Task StartAsync() => _server.InitializeAsync().AsTask();

    public override StorageConfig Config() => new()
    {
        Type = "sftp",
        Host = "127.0.0.1",
        Port = _server.Port,
        Username = _server.User,
        AuthMethod = "PASSWORD",
        Password = _server.Password,
        Path = "bench/storage",
    };

    public override ValueTask DisposeAsync() => _server.DisposeAsync();
}
