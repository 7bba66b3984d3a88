using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

/// <summary>SFTP with <c>auth_method: PASSWORD</c>.</summary>
public sealed class SftpPasswordConformanceTests(SftpServerFixture server)
    : StorageConformanceTests, IClassFixture<SftpServerFixture>
{
    private StorageConfig Config(string? path = "recordings/meetings", string? password = null, int? port = null) => new()
    {
        Type = "sftp",
        Host = "127.0.0.1",
        Port = port ?? server.Port,
        Username = server.User,
        AuthMethod = "PASSWORD",
        Password = password ?? server.Password,
        Path = path,
    };

    private static SftpDestination Make(StorageConfig config) => (SftpDestination)new SftpDestinationFactory()
        .Create(config, endpoint: null, new StorageOptions());

    protected override IStorageDestination Create() => Make(Config());

    protected override IStorageDestination CreateWithBadCredentials() => Make(Config(password: server.Password + "-wrong"));

    /// <summary>An absolute <c>path</c> whose first folder does not exist at the chroot's top, which is
    /// root-owned: the folder cannot be created, as a bucket that does not exist.</summary>
    protected override IStorageDestination CreateWithMissingBucket() => Make(Config(path: $"/missing-{Guid.NewGuid():N}/recordings"));

    protected override IStorageDestination CreateUnreachable() => Make(Config(port: DeadPort()));

    [Fact]
    public async Task Upload_LandsUnderTheLoginFolder_WithoutPartFiles_AndLogsTheHostKey()
    {
        var ct = TestContext.Current.CancellationToken;
        var config = Config(path: "rec/2026");
        var key = ObjectKeys.For(config, $"file-{Guid.NewGuid():N}.mp4");
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, RandomNumberGenerator.GetBytes(5000), ct);
        var item = await UploadItem.ForFileAsync(local, key, ct);
        await using var destination = Make(config);

        await destination.UploadAsync(item, ct);

        var onDisk = Path.Combine(server.UploadsDirectory, key);
        Assert.Equal(await File.ReadAllBytesAsync(local, ct), await File.ReadAllBytesAsync(onDisk, ct));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(onDisk)!, "*.part"));
        Assert.Equal(server.HostKeyFingerprint, destination.HostKeyFingerprint);
        Assert.Equal($"sftp {server.User}@127.0.0.1:{server.Port}", destination.Description);

        await destination.DeleteAsync(key, ct);
        Assert.False(File.Exists(onDisk));
        await destination.DeleteAsync(key, ct); // deleting twice is fine
    }

    [Fact]
    public async Task MissingRootFolder_IsRefused_NamingTheFolder()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = $"missing-{Guid.NewGuid():N}";
        var config = Config(path: $"/{root}/recordings");
        var key = ObjectKeys.For(config, "file.mp4");
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, new byte[10], ct);
        await using var destination = Make(config);
        var e = await Assert.ThrowsAsync<StorageException>(
            async () => await destination.UploadAsync(await UploadItem.ForFileAsync(local, key, ct), ct));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        Assert.StartsWith(destination.Description, e.Message, StringComparison.Ordinal);
        Assert.Contains($"'/{root}'", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(server.ChrootDirectory, root)));
    }

    [Fact]
    public async Task StalePartFile_IsReplaced()
    {
        var ct = TestContext.Current.CancellationToken;
        var key = $"stale/{Guid.NewGuid():N}.mp4";
        var part = Path.Combine(server.UploadsDirectory, key + ".part");
        Directory.CreateDirectory(Path.GetDirectoryName(part)!);
        await File.WriteAllBytesAsync(part, new byte[100_000], ct); // a larger leftover of a broken upload
        await server.GiveToUserAsync(Path.GetDirectoryName(part)!, part);
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, RandomNumberGenerator.GetBytes(1000), ct);
        await using var destination = Make(Config());

        await destination.UploadAsync(await UploadItem.ForFileAsync(local, key, ct), ct);

        Assert.Equal(await File.ReadAllBytesAsync(local, ct), await File.ReadAllBytesAsync(Path.Combine(server.UploadsDirectory, key), ct));
        Assert.False(File.Exists(part));
        await destination.DeleteAsync(key, ct);
    }

    [Fact]
    public async Task AbsolutePath_IsAbsoluteOnTheServer()
    {
        var ct = TestContext.Current.CancellationToken;
        var config = Config(path: "/uploads/absolute");
        var key = ObjectKeys.For(config, $"file-{Guid.NewGuid():N}.m4a");
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, RandomNumberGenerator.GetBytes(3000), ct);
        await using var destination = Make(config);

        await destination.UploadAsync(await UploadItem.ForFileAsync(local, key, ct), ct);

        Assert.True(File.Exists(Path.Combine(server.ChrootDirectory, key)));
        await destination.DeleteAsync(key, ct);
    }

    [Fact]
    public async Task Messages_NeverContainThePassword()
    {
        var ct = TestContext.Current.CancellationToken;
        var wrong = server.Password + "-wrong";
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, new byte[10], ct);
        await using var destination = Make(Config(password: wrong));
        var e = await Assert.ThrowsAsync<StorageException>(
            async () => await destination.UploadAsync(await UploadItem.ForFileAsync(local, "a/b.mp4", ct), ct));
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            Assert.DoesNotContain(wrong, x.Message, StringComparison.Ordinal);
        }
        await using var working = Make(Config());
        var missing = await Assert.ThrowsAsync<StorageException>(() => working.OpenReadAsync("no/such.mp4", ct));
        Assert.Equal(StorageFailure.Refused, missing.Failure);
    }
}

/// <summary>SFTP with <c>auth_method: KEY</c>: an encrypted ed25519 key in OpenSSH format, its passphrase in
/// <c>password</c>.</summary>
public sealed class SftpKeyConformanceTests(SftpServerFixture server)
    : StorageConformanceTests, IClassFixture<SftpServerFixture>
{
    private StorageConfig Config(string? key = null, string? path = "recordings", int? port = null) => new()
    {
        Type = "sftp",
        Host = "127.0.0.1",
        Port = port ?? server.Port,
        Username = server.User,
        AuthMethod = "KEY",
        PrivateKey = key ?? server.Ed25519Key,
        Password = key is null ? server.Passphrase : null,
        Path = path,
    };

    private static IStorageDestination Make(StorageConfig config) =>
        new SftpDestinationFactory().Create(config, endpoint: null, new StorageOptions());

    protected override IStorageDestination Create() => Make(Config());

    protected override IStorageDestination CreateWithBadCredentials() => Make(Config(key: server.OtherKey));

    protected override IStorageDestination CreateWithMissingBucket() => Make(Config(path: $"/missing-{Guid.NewGuid():N}"));

    protected override IStorageDestination CreateUnreachable() => Make(Config(port: DeadPort()));

    [Fact]
    public async Task RsaPemKey_Works()
    {
        var ct = TestContext.Current.CancellationToken;
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, RandomNumberGenerator.GetBytes(2000), ct);
        var key = $"rsa/{Guid.NewGuid():N}.mp4";
        await using var destination = Make(Config(key: server.RsaPemKey));
        await destination.UploadAsync(await UploadItem.ForFileAsync(local, key, ct), ct);
        Assert.True(File.Exists(Path.Combine(server.UploadsDirectory, key)));
        await destination.DeleteAsync(key, ct);
    }

    [Theory]
    [InlineData("not-the-passphrase")]
    [InlineData(null)]
    public async Task WrongOrMissingPassphrase_IsRefused(string? passphrase)
    {
        var ct = TestContext.Current.CancellationToken;
        var local = Path.Combine(server.WorkDirectory, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(local, new byte[10], ct);
        var config = Config();
        config.Password = passphrase;
        await using var destination = Make(config);
        var e = await Assert.ThrowsAsync<StorageException>(
            async () => await destination.UploadAsync(await UploadItem.ForFileAsync(local, "a/b.mp4", ct), ct));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        Assert.StartsWith(destination.Description, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", e.ToString(), StringComparison.Ordinal);
    }
}
