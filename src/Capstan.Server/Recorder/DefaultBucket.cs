using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Capstan.Server.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Recorder;

/// <summary>The default bucket on local disk: <c>{bucket}/{app}/{recording}/{file}</c>, downloaded through
/// URLs signed with HMAC-SHA256 that expire (decisions.md: 7 days after upload).</summary>
public sealed class DefaultBucket
{
    private readonly byte[] _key;
    private readonly CapstanOptions _options;

    private readonly Microsoft.AspNetCore.Hosting.Server.IServer? _server;

    private readonly Storage.StorageDestinations? _destinations;

    private readonly CapstanMetrics? _metrics;

    public DefaultBucket(CapstanOptions options, IOptions<DefaultBucketOptions> bucket, SecretProtector protector, Microsoft.AspNetCore.Hosting.Server.IServer? server = null,
        Storage.StorageDestinations? destinations = null, CapstanMetrics? metrics = null)
    {
        _metrics = metrics;
        _server = server;
        _destinations = destinations;
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bucket);
        ArgumentNullException.ThrowIfNull(protector);
        _options = options;
        Options = bucket.Value;
        Root = Path.GetFullPath(Options.Path ?? Path.Combine(options.DataDir, "bucket"));
        // Derived from the secret-protection key, so every node with the same key signs alike.
        _key = protector.DeriveKey("default-bucket-url-signing");
    }

    public DefaultBucketOptions Options { get; }

    public string Root { get; }

    public string PathOf(Guid appId, Guid recordingId, string fileName) => System.IO.Path.Combine(Root, appId.ToString("D"), recordingId.ToString("D"), fileName);

    /// <summary>The default bucket is an S3-compatible bucket (by setting) rather than a folder.</summary>
    public bool IsRemote => Options.S3 is { Bucket.Length: > 0 };

    private Contracts.StorageConfig RemoteConfig() => new()
    {
        Type = "aws", Bucket = Options.S3!.Bucket, Region = Options.S3.Region, AccessKey = Options.S3.AccessKey, Secret = Options.S3.Secret, Path = Options.S3.Path,
    };

    private Storage.S3Destination Remote()
    {
        var factories = _destinations ?? throw new InvalidOperationException("storage destinations are not available");
        var endpoint = string.IsNullOrWhiteSpace(Options.S3!.Endpoint) ? null : Options.S3.Endpoint;
        return (Storage.S3Destination)new Storage.S3DestinationFactory().Create(RemoteConfig(), endpoint, factories.Options);
    }

    private string RemoteKey(Guid appId, Guid recordingId, string fileName) =>
        Storage.ObjectKeys.For(RemoteConfig(), $"{appId:D}/{recordingId:D}/{fileName}");

    /// <summary>The default bucket's S3 bucket as the shared store of shipped segment pieces (<see cref="SegmentShipping"/>).</summary>
    internal S3SegmentStore SegmentStore() =>
        new(Remote, name => Storage.ObjectKeys.For(RemoteConfig(), name), $"the default bucket's S3 bucket '{Options.S3!.Bucket}'");

    /// <summary>Puts a finished file into the default bucket: uploaded to the S3 bucket when so configured, else
    /// copied into the folder (through a temporary name, so a crash never leaves half a file under the real one).</summary>
    public async Task StoreAsync(Guid appId, Guid recordingId, string sourceFile, string fileName, CancellationToken ct)
    {
        using var upload = UploadObservation.Start(_metrics, CapstanMetrics.DefaultBucketType, fileName, new FileInfo(sourceFile).Length);
        if (IsRemote)
        {
            await using var remote = Remote();
            await remote.UploadAsync(await Storage.UploadItem.ForFileAsync(sourceFile, RemoteKey(appId, recordingId, fileName), ct), ct);
            upload.Succeeded();
            return;
        }
        Store(appId, recordingId, sourceFile, fileName);
        upload.Succeeded();
    }

    /// <summary>Removes a recording's files (retention).</summary>
    public async Task DeleteAsync(Guid appId, Guid recordingId, IEnumerable<string> fileNames, CancellationToken ct)
    {
        if (IsRemote)
        {
            await using var remote = Remote();
            foreach (var name in fileNames)
            {
                await remote.DeleteAsync(RemoteKey(appId, recordingId, name), ct);
            }
            return;
        }
        var dir = System.IO.Path.Combine(Root, appId.ToString("D"), recordingId.ToString("D"));
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A download URL valid until <paramref name="expires"/>: presigned by the S3 service, or signed by
    /// this server for its <c>/bucket</c> route.</summary>
    public async Task<string> SignedUrlAsync(Guid appId, Guid recordingId, string fileName, DateTime expires)
    {
        if (IsRemote)
        {
            await using var remote = Remote();
            return remote.PresignGet(RemoteKey(appId, recordingId, fileName), expires);
        }
        return SignedUrl(recordingId, fileName, expires);
    }

    private string Store(Guid appId, Guid recordingId, string sourceFile, string fileName)
    {
        var target = PathOf(appId, recordingId, fileName);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
        var part = target + ".part";
        File.Copy(sourceFile, part, overwrite: true);
        File.Move(part, target, overwrite: true);
        return target;
    }

    private string SignedUrl(Guid recordingId, string fileName, DateTime expires)
    {
        var exp = new DateTimeOffset(expires).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"{BaseUrl()}/bucket/{recordingId:D}/{Uri.EscapeDataString(fileName)}?expires={exp}&signature={Sign(recordingId, fileName, exp)}";
    }

    /// <summary><c>Capstan:PublicBaseUrl</c>, else the address the server actually listens on.</summary>
    private string BaseUrl()
    {
        if (_options.PublicBaseUrl is null && _server?.Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.FirstOrDefault() is { } listening)
        {
            return listening.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
        }
        return _options.EffectivePublicBaseUrl;
    }

    public bool Verify(Guid recordingId, string fileName, string? expires, string? signature, DateTimeOffset now)
    {
        if (expires is null || signature is null || !long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var exp))
        {
            return false;
        }
        var expected = Encoding.ASCII.GetBytes(Sign(recordingId, fileName, expires));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature)) && DateTimeOffset.FromUnixTimeSeconds(exp) > now;
    }

    public bool IsSigned(Guid recordingId, string fileName, string? expires, string? signature) =>
        expires is not null && signature is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(recordingId, fileName, expires)), Encoding.ASCII.GetBytes(signature));

    private string Sign(Guid recordingId, string fileName, string expires) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{recordingId:D}/{fileName}/{expires}")));
}

/// <summary>Signed downloads from the default bucket, with HTTP Range support. An expired or tampered URL is a
/// 403 in the error envelope.</summary>
public static class BucketDownloads
{
    public static WebApplication MapBucketDownloads(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/bucket/{recording_id}/{file_name}", Download).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> Download(string recording_id, string file_name, HttpRequest request, DefaultBucket bucket, CapstanDbContext db, TimeProvider time, CancellationToken ct)
    {
        var id = Ids.Parse(recording_id, "recording_id");
        var q = request.Query;
        if (!bucket.IsSigned(id, file_name, q["expires"], q["signature"]))
        {
            throw new CapstanException(ErrorCategory.Forbidden, "bad_signature", "this download URL is not valid");
        }
        if (!bucket.Verify(id, file_name, q["expires"], q["signature"], time.GetUtcNow()))
        {
            throw new CapstanException(ErrorCategory.Forbidden, "expired", "this download URL has expired: get a fresh one from the recording");
        }
        var app = await db.Recordings.AsNoTracking().Where(r => r.Id == id).Select(r => (Guid?)r.AppId).FirstOrDefaultAsync(ct)
            ?? throw CapstanException.NotFound($"No recording found with id {id}");
        var path = bucket.PathOf(app, id, file_name);
        if (file_name.Contains('/', StringComparison.Ordinal) || file_name.Contains("..", StringComparison.Ordinal) || !File.Exists(path))
        {
            throw CapstanException.NotFound("the file is no longer in the bucket (retention)");
        }
        return Results.File(path, Storage.ContentTypes.Of(file_name), file_name, enableRangeProcessing: true);
    }
}

/// <summary>Deletes default-bucket files whose retention has passed (their URLs have expired).</summary>
public sealed partial class BucketRetention(IServiceScopeFactory scopes, DefaultBucket bucket, TimeProvider time, ILogger<BucketRetention> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(bucket.Options.RetentionInterval, time);
        try
        {
            do
            {
                await SweepAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    public async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var cutoff = time.GetUtcNow().UtcDateTime - bucket.Options.Retention + bucket.Options.UrlExpiry;
        var expired = await db.Recordings.AsNoTracking()
            .Where(r => r.DownloadUrlExpiry != null && r.DownloadUrlExpiry < cutoff && (r.DownloadUrl != null || r.AudioDownloadUrl != null || r.TrackDownloadsJson != null))
            .Select(r => new { r.Id, r.AppId, r.OutputFileName, r.AudioFileName, r.TrackDownloadsJson }).ToListAsync(ct);
        var deleted = 0;
        foreach (var r in expired)
        {
            await bucket.DeleteAsync(r.AppId, r.Id, new[] { r.OutputFileName, r.AudioFileName }.OfType<string>().Concat(TrackFileNames(r.TrackDownloadsJson)), ct);
            // The files are gone: so are their links (the expired filter still sees the expiry).
            await db.Recordings.Where(x => x.Id == r.Id).ExecuteUpdateAsync(u => u
                .SetProperty(x => x.DownloadUrl, (string?)null).SetProperty(x => x.AudioDownloadUrl, (string?)null).SetProperty(x => x.TrackDownloadsJson, (string?)null), ct);
            deleted++;
        }
        if (deleted > 0)
        {
            LogDeleted(logger, deleted);
        }
        return deleted;
    }

    /// <summary>The file names in a track recording's layer list (<c>[{layer_name, download_urls: {name: ...}}]</c>).</summary>
    internal static IEnumerable<string> TrackFileNames(string? layersJson)
    {
        if (layersJson is null)
        {
            return [];
        }
        var layers = System.Text.Json.Nodes.JsonNode.Parse(layersJson)?.AsArray() ?? [];
        return layers.SelectMany(l => l?["download_urls"]?.AsObject().Select(kv => kv.Key) ?? []).Distinct().ToList();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted the files of {Count} expired recordings")]
    private static partial void LogDeleted(ILogger logger, int count);
}
