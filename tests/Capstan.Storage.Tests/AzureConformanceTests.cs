using System.Diagnostics;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

public sealed class AzureConformanceTests(AzuriteFixture azurite) : StorageConformanceTests, IClassFixture<AzuriteFixture>
{
    private static readonly StorageOptions Options = new();

    private static IStorageDestination Make(string connectionString, string container, string? endpoint = null) =>
        new AzureBlobDestinationFactory().Create(new StorageConfig
        {
            Type = "azure",
            AccessKey = connectionString,
            Secret = "",
            Region = "",
            Bucket = container,
            Path = "conformance",
        }, endpoint, Options);

    protected override IStorageDestination Create() => Make(azurite.ConnectionString(), azurite.Container);

    protected override IStorageDestination CreateWithBadCredentials() =>
        Make(azurite.ConnectionString(Convert.ToBase64String(new byte[64])), azurite.Container);

    protected override IStorageDestination CreateWithMissingBucket() =>
        Make(azurite.ConnectionString(), "missing-" + Guid.NewGuid().ToString("N")[..12]);

    protected override IStorageDestination CreateUnreachable() =>
        Make(AzuriteFixture.ConnectionString(DeadPort()), azurite.Container);

    [Fact]
    public void Description_NamesContainerAndAccount_WithoutTheKey()
    {
        var d = Create();
        Assert.StartsWith($"azure container '{azurite.Container}' ({AzuriteFixture.AccountName})", d.Description, StringComparison.Ordinal);
        Assert.DoesNotContain(AzuriteFixture.AccountKey, d.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidConnectionString_IsRefused_WithoutEchoingIt()
    {
        var e = Assert.Throws<StorageException>(() => Make("AccountName=x;AccountKey=not base64 %%%", azurite.Container));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        Assert.DoesNotContain("not base64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upload_SetsContentTypeAndSha256_AndTheEndpointOverrideWins()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Path.GetTempPath(), "capstan-az-" + Guid.NewGuid().ToString("N") + ".m4a");
        await File.WriteAllBytesAsync(path, new byte[3000], ct);
        var item = await UploadItem.ForFileAsync(path, $"conformance/meta-{Guid.NewGuid():N}.m4a", ct);
        try
        {
            // The connection string points nowhere; the operator's override points at Azurite.
            await using var destination = Make(AzuriteFixture.ConnectionString(DeadPort()), azurite.Container,
                $"http://127.0.0.1:{azurite.Port}/{AzuriteFixture.AccountName}");
            await destination.UploadAsync(item, ct);
            var blob = new BlobContainerClient(azurite.ConnectionString(), azurite.Container).GetBlobClient(item.Key);
            var properties = (await blob.GetPropertiesAsync(cancellationToken: ct)).Value;
            Assert.Equal("audio/mp4", properties.ContentType);
            Assert.Equal(item.Sha256Hex, properties.Metadata["sha256"]);
            await destination.DeleteAsync(item.Key, ct);
            Assert.False((await blob.ExistsAsync(ct)).Value);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task AboveTheThreshold_GoesUpInBlocksOfThePartSize()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Path.GetTempPath(), "capstan-az-" + Guid.NewGuid().ToString("N") + ".mp4");
        var bytes = new byte[(3 * 64 * 1024) + 100];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        await File.WriteAllBytesAsync(path, bytes, ct);
        var item = await UploadItem.ForFileAsync(path, $"conformance/blocks-{Guid.NewGuid():N}.mp4", ct);
        try
        {
            var options = new StorageOptions { MultipartThresholdBytes = 64 * 1024, PartSizeBytes = 64 * 1024 };
            await using var destination = new AzureBlobDestinationFactory().Create(
                new StorageConfig { Type = "azure", AccessKey = azurite.ConnectionString(), Bucket = azurite.Container }, null, options);
            await destination.UploadAsync(item, ct);
            var blob = new BlobContainerClient(azurite.ConnectionString(), azurite.Container).GetBlockBlobClient(item.Key);
            var blocks = (await blob.GetBlockListAsync(Azure.Storage.Blobs.Models.BlockListTypes.Committed, cancellationToken: ct)).Value;
            Assert.Equal([65536L, 65536L, 65536L, 100L], blocks.CommittedBlocks.Select(b => b.SizeLong));
            await using (var back = await destination.OpenReadAsync(item.Key, ct))
            {
                Assert.Equal(item.Sha256Hex, Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(back, ct)));
            }
            await destination.DeleteAsync(item.Key, ct);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task FailureMessages_NameTheDestination_NeverTheKey()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(Path.GetTempPath(), "capstan-az-" + Guid.NewGuid().ToString("N") + ".mp4");
        await File.WriteAllBytesAsync(path, new byte[100], ct);
        var item = await UploadItem.ForFileAsync(path, "conformance/x.mp4", ct);
        try
        {
            var wrongKey = Convert.ToBase64String(new byte[64]);
            foreach (var destination in new[] { CreateWithBadCredentials(), CreateWithMissingBucket(), CreateUnreachable() })
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => destination.UploadAsync(item, ct));
                TestContext.Current.TestOutputHelper?.WriteLine(e.Failure + ": " + e.Message);
                Assert.StartsWith(destination.Description, e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain(AzuriteFixture.AccountKey, e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain(wrongKey, e.Message, StringComparison.Ordinal);
                await destination.DisposeAsync();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Factory_IsDiscovered()
    {
        var destinations = new StorageDestinations(Microsoft.Extensions.Options.Options.Create(new StorageOptions()));
        Assert.Contains("azure", destinations.SupportedTypes);
    }
}
