using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

/// <summary>The <c>aws</c> type pointed at s3rver by the operator's endpoint override (path style), as with MinIO.</summary>
public sealed class S3ConformanceTests(S3rverFixture s3rver) : StorageConformanceTests, IClassFixture<S3rverFixture>
{
    private static readonly StorageOptions Options = new();

    private IStorageDestination Make(string accessKey = S3rverFixture.AccessKey, string bucket = S3rverFixture.Bucket, string? endpoint = null) =>
        new S3DestinationFactory().Create(new StorageConfig
        {
            Type = "aws",
            AccessKey = accessKey,
            Secret = S3rverFixture.Secret,
            Bucket = bucket,
            Region = "us-east-1",
            Path = "capstan/tests",
        }, endpoint ?? s3rver.Url, Options);

    protected override IStorageDestination Create() => Make();

    /// <summary>s3rver does not check SigV4 signatures (a wrong secret is accepted); it does refuse an access key
    /// it does not know, with 403 InvalidAccessKeyId, which is what real S3 answers for a wrong key too.</summary>
    protected override IStorageDestination CreateWithBadCredentials() => Make(accessKey: "NOTAKEY123");

    protected override IStorageDestination CreateWithMissingBucket() => Make(bucket: "no-such-bucket-" + Guid.NewGuid().ToString("N")[..8]);

    protected override IStorageDestination CreateUnreachable() => Make(endpoint: $"http://127.0.0.1:{DeadPort()}");

    /// <summary>The default bucket's S3 bucket as the shared store of shipped segment pieces: pieces put, listed with
    /// their sizes (past a page of the listing), a segment put back from them on another node, and all removed.</summary>
    [Fact]
    public async Task SegmentStore_RoundTrip_ListsFetchesAndDeletesARecordingsPieces()
    {
        var ct = TestContext.Current.CancellationToken;
        var recording = Guid.NewGuid();
        var store = new Server.Recorder.S3SegmentStore(() => (S3Destination)Make(), name => "capstan/tests/" + name, "s3rver");
        var dir = Path.Combine(Path.GetTempPath(), "capstan-s3seg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var expected = new List<byte>();
            var at = DateTime.UtcNow;
            for (var i = 1; i <= 3; i++)
            {
                var bytes = Enumerable.Range(0, 1000 * i).Select(x => (byte)(x * i)).ToArray();
                expected.AddRange(bytes);
                var piece = Path.Combine(dir, "piece");
                await File.WriteAllBytesAsync(piece, bytes, ct);
                await store.PutAsync(recording, Server.Recorder.ShippedPieces.PieceName("seg_0001.mkv", i, at.AddSeconds(i)), piece, ct);
            }
            await File.WriteAllTextAsync(Path.Combine(dir, "origin"), "1 2", ct);
            await store.PutAsync(recording, "seg_0001.mkv.origin", Path.Combine(dir, "origin"), ct);
            var listed = await store.ListAsync(recording, ct);
            Assert.Equal(4, listed.Count);
            Assert.Contains(listed, o => o.Name == "seg_0001.mkv.origin" && o.Size == 3);
            Assert.Empty(await store.ListAsync(Guid.NewGuid(), ct));

            var node = Path.Combine(dir, "node-b");
            Directory.CreateDirectory(node);
            var back = Assert.Single(await Server.Recorder.ShippedPieces.FetchMissingAsync(store, recording, node, ct));
            Assert.Equal(expected.ToArray(), await File.ReadAllBytesAsync(back, ct));
            Assert.Equal("1 2", await File.ReadAllTextAsync(back + ".origin", ct));
            Assert.Equal(at.AddSeconds(3), File.GetLastWriteTimeUtc(back));

            await store.DeleteAsync(recording, ct);
            Assert.Empty(await store.ListAsync(recording, ct));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BadCredentials_MessageNamesTheBucketAndTheReason()
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, "x", TestContext.Current.CancellationToken);
        var item = await UploadItem.ForFileAsync(path, "conformance/denied.mp4", TestContext.Current.CancellationToken);
        await using var destination = CreateWithBadCredentials();
        var e = await Assert.ThrowsAsync<StorageException>(() => destination.UploadAsync(item, TestContext.Current.CancellationToken));
        Assert.StartsWith($"aws bucket 'recordings' ({new Uri(s3rver.Url).Authority}): access denied (InvalidAccessKeyId)", e.Message, StringComparison.Ordinal);
        File.Delete(path);
    }

    [Fact]
    public async Task Objects_CarryTheirSha256_AsMetadata()
    {
        var path = Path.Combine(Path.GetTempPath(), $"capstan-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, "hello capstan", TestContext.Current.CancellationToken);
        var key = ObjectKeys.For(new StorageConfig { Path = "capstan/tests" }, $"meta-{Guid.NewGuid():N}.json");
        var item = await UploadItem.ForFileAsync(path, key, TestContext.Current.CancellationToken);
        await using var destination = Create();
        await destination.UploadAsync(item, TestContext.Current.CancellationToken);

        using var client = new AmazonS3Client(new BasicAWSCredentials(S3rverFixture.AccessKey, S3rverFixture.Secret),
            new AmazonS3Config { ServiceURL = s3rver.Url, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        var head = await client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = S3rverFixture.Bucket, Key = key }, TestContext.Current.CancellationToken);
        Assert.Equal(item.Sha256Hex, head.Metadata["x-amz-meta-sha256"]);
        Assert.Equal("application/json", head.Headers.ContentType);
        Assert.Equal(item.Size, head.ContentLength);

        await destination.DeleteAsync(key, TestContext.Current.CancellationToken);
        File.Delete(path);
    }

    [Fact]
    public async Task MissingObject_IsRefusedOnRead()
    {
        await using var destination = Create();
        var e = await Assert.ThrowsAsync<StorageException>(() => destination.OpenReadAsync($"conformance/none-{Guid.NewGuid():N}.mp4", TestContext.Current.CancellationToken));
        Assert.Equal(StorageFailure.Refused, e.Failure);
    }

    [Fact]
    public async Task Descriptions_NameTypeBucketAndRegion()
    {
        var factory = new S3DestinationFactory();
        Assert.Equal(["aws", "digitalocean"], factory.Types);
        var config = new StorageConfig { Type = "aws", AccessKey = "a", Secret = "s", Bucket = "b", Region = "eu-west-1" };
        Assert.Equal("aws bucket 'b' (eu-west-1)", await DescribeAsync(config, null));
        config.Type = "digitalocean";
        config.Region = "SGP1";
        Assert.Equal("digitalocean bucket 'b' (SGP1)", await DescribeAsync(config, null));
        config.Type = "cloudflare";
        Assert.Equal("cloudflare bucket 'b' (acct.r2.cloudflarestorage.com)", await DescribeAsync(config, "https://acct.r2.cloudflarestorage.com"));
        // An alias type with no endpoint configured by the operator has nowhere to go.
        var e = Assert.Throws<StorageException>(() => factory.Create(config, null, Options));
        Assert.Equal(StorageFailure.Refused, e.Failure);

        async Task<string> DescribeAsync(StorageConfig c, string? endpoint)
        {
            await using var d = factory.Create(c, endpoint, Options);
            return d.Description;
        }
    }
}

/// <summary>The <c>digitalocean</c> type through the same kind of server, as an operator override
/// (<c>Storage:Endpoints:digitalocean</c>) would send it.</summary>
public sealed class S3DigitalOceanConformanceTests(S3rverFixture s3rver) : StorageConformanceTests, IClassFixture<S3rverFixture>
{
    private static readonly StorageOptions Options = new();

    private IStorageDestination Make(string accessKey = S3rverFixture.AccessKey, string bucket = S3rverFixture.Bucket, string? endpoint = null) =>
        new S3DestinationFactory().Create(new StorageConfig
        {
            Type = "digitalocean",
            AccessKey = accessKey,
            Secret = S3rverFixture.Secret,
            Bucket = bucket,
            Region = "NYC3",
            Path = "/spaces/tests/",
        }, endpoint ?? s3rver.Url, Options);

    protected override IStorageDestination Create() => Make();

    /// <summary>See <see cref="S3ConformanceTests"/>: s3rver refuses unknown access keys, not wrong secrets.</summary>
    protected override IStorageDestination CreateWithBadCredentials() => Make(accessKey: "DO00NOTAKEY");

    protected override IStorageDestination CreateWithMissingBucket() => Make(bucket: "no-such-space-" + Guid.NewGuid().ToString("N")[..8]);

    protected override IStorageDestination CreateUnreachable() => Make(endpoint: $"http://127.0.0.1:{DeadPort()}");
}
