using Capstan.Contracts;
using Capstan.Server.Security;
using Capstan.Server.Storage;
using Microsoft.Extensions.Options;

namespace Capstan.Storage.Tests;

/// <summary>The outbound policy at connect time for destinations taken from a request: SFTP, S3 and Azure connect
/// only through it (the real servers run on loopback, which the default policy refuses and a listed network
/// allows), and an operator endpoint (<c>Storage:Endpoints:*</c>) is trusted.</summary>
public sealed class OutboundStorageTests(S3rverFixture s3rver, AzuriteFixture azurite, SftpServerFixture sftp)
    : IClassFixture<S3rverFixture>, IClassFixture<AzuriteFixture>, IClassFixture<SftpServerFixture>
{
    private static readonly OutboundPolicy Default = new(Options.Create(new OutboundOptions()));
    private static readonly OutboundPolicy Loopback = new(Options.Create(new OutboundOptions { AllowedNetworks = ["127.0.0.0/8"] }));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private StorageConfig Sftp => new()
    {
        Type = "sftp", Host = "127.0.0.1", Port = sftp.Port, Username = sftp.User, AuthMethod = "PASSWORD", Password = sftp.Password, Path = "outbound",
    };

    private static StorageConfig S3 => new()
    {
        Type = "aws", AccessKey = S3rverFixture.AccessKey, Secret = S3rverFixture.Secret, Bucket = S3rverFixture.Bucket, Region = "us-east-1", Path = "outbound",
    };

    private StorageConfig Azure => new() { Type = "azure", AccessKey = azurite.ConnectionString(), Bucket = azurite.Container, Path = "outbound" };

    private static async Task<UploadItem> ItemAsync(string key)
    {
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, "outbound " + key, Ct);
        return await UploadItem.ForFileAsync(path, key, Ct);
    }

    public static TheoryData<string> Kinds() => ["sftp", "s3", "azure"];

    private IStorageDestination Make(string kind, OutboundPolicy guard) => kind switch
    {
        "sftp" => new SftpDestinationFactory().Create(Sftp, null, new StorageOptions(), guard),
        // The request-chosen endpoint: s3rver's address, given as a DigitalOcean-style endpoint the guard must check.
        "s3" => new S3DestinationFactory().Create(S3, s3rver.Url, new StorageOptions(), guard),
        _ => new AzureBlobDestinationFactory().Create(Azure, null, new StorageOptions(), guard),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Destination_OnARefusedAddress_IsRefusedWithTheReason(string kind)
    {
        await using var destination = Make(kind, Default);
        var e = await Assert.ThrowsAsync<StorageException>(async () => await destination.UploadAsync(await ItemAsync($"refused-{kind}.txt"), Ct));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        Assert.Contains("127.0.0.1 is a loopback address", e.Message, StringComparison.Ordinal);
        Assert.Contains("outbound policy", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Destination_OnAListedNetwork_DeliversThroughTheGuard(string kind)
    {
        await using var destination = Make(kind, Loopback);
        var item = await ItemAsync($"allowed-{kind}-{Guid.NewGuid():N}.txt");
        await destination.UploadAsync(item, Ct);
        await using var back = await destination.OpenReadAsync(item.Key, Ct);
        using var reader = new StreamReader(back);
        Assert.StartsWith("outbound allowed-", await reader.ReadToEndAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StorageDestinations_TrustOperatorEndpoints_AndGuardTheRest()
    {
        var options = new StorageOptions();
        options.Endpoints["aws"] = s3rver.Url;
        var destinations = new StorageDestinations(Options.Create(options), Default);

        await using (var s3 = destinations.Create(S3))
        {
            await s3.UploadAsync(await ItemAsync($"operator-{Guid.NewGuid():N}.txt"), Ct);
        }
        await using var sftpDestination = destinations.Create(Sftp);
        var e = await Assert.ThrowsAsync<StorageException>(async () => await sftpDestination.UploadAsync(await ItemAsync("guarded.txt"), Ct));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        Assert.Contains("loopback", e.Message, StringComparison.Ordinal);
    }
}
