using System.Security.Cryptography;
using Capstan.Server.Storage;
using Capstan.Testing;

namespace Capstan.Storage.Tests;

/// <summary>The storage conformance suite, written once and run against a real server of every destination type
/// (s3rver, azurite, a GCS emulator, OpenSSH). A concrete class per type says how to reach its server.</summary>
public abstract class StorageConformanceTests : IDisposable
{
    private readonly List<RefusingPort> _deadPorts = [];

    /// <summary>A destination that works (with a <c>path</c> prefix).</summary>
    protected abstract IStorageDestination Create();

    /// <summary>The same server with wrong credentials.</summary>
    protected abstract IStorageDestination CreateWithBadCredentials();

    /// <summary>A bucket/container/folder that does not exist (and is not created for us).</summary>
    protected abstract IStorageDestination CreateWithMissingBucket();

    /// <summary>An address where nothing listens.</summary>
    protected abstract IStorageDestination CreateUnreachable();

    private static async Task<UploadItem> FileAsync(long size, string key)
    {
        var path = Path.Combine(Path.GetTempPath(), "capstan-conf-" + Guid.NewGuid().ToString("N"));
        await using (var f = File.Create(path))
        {
            var buffer = new byte[1024 * 1024];
            for (long written = 0; written < size; written += buffer.Length)
            {
                RandomNumberGenerator.Fill(buffer);
                await f.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written)), TestContext.Current.CancellationToken);
            }
        }
        return await UploadItem.ForFileAsync(path, key, TestContext.Current.CancellationToken);
    }

    private static async Task<string> Sha256Async(Stream s)
    {
        var hash = await SHA256.HashDataAsync(s, TestContext.Current.CancellationToken);
        return Convert.ToHexStringLower(hash);
    }

    private async Task RoundTripAsync(long size, string key)
    {
        var item = await FileAsync(size, key);
        await using var destination = Create();
        try
        {
            await destination.UploadAsync(item, TestContext.Current.CancellationToken);
            await using var back = await destination.OpenReadAsync(key, TestContext.Current.CancellationToken);
            Assert.Equal(item.Sha256Hex, await Sha256Async(back));
            await destination.DeleteAsync(key, TestContext.Current.CancellationToken);
        }
        finally
        {
            File.Delete(item.LocalPath);
        }
    }

    [Fact]
    public Task SmallFile_RoundTrips() => RoundTripAsync(300 * 1024, $"conformance/small-{Guid.NewGuid():N}.mp4");

    [Fact]
    public Task LargeFile_GoesUpInParts_AndRoundTrips() => RoundTripAsync(40L * 1024 * 1024 + 12345, $"conformance/large-{Guid.NewGuid():N}.mp4");

    [Fact]
    public async Task SameKeyTwice_KeepsTheLastFile()
    {
        var key = $"conformance/twice-{Guid.NewGuid():N}.m4a";
        var first = await FileAsync(1000, key);
        var second = await FileAsync(2000, key);
        await using var destination = Create();
        await destination.UploadAsync(first, TestContext.Current.CancellationToken);
        await destination.UploadAsync(second, TestContext.Current.CancellationToken);
        await using (var back = await destination.OpenReadAsync(key, TestContext.Current.CancellationToken))
        {
            Assert.Equal(second.Sha256Hex, await Sha256Async(back));
        }
        await destination.DeleteAsync(key, TestContext.Current.CancellationToken);
        File.Delete(first.LocalPath);
        File.Delete(second.LocalPath);
    }

    [Fact]
    public async Task BadCredentials_AreRefused_NamingTheDestination()
    {
        var item = await FileAsync(1000, $"conformance/denied-{Guid.NewGuid():N}.mp4");
        await using var destination = CreateWithBadCredentials();
        var e = await Assert.ThrowsAsync<StorageException>(() => destination.UploadAsync(item, TestContext.Current.CancellationToken));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        Assert.Contains(destination.Description, e.Message, StringComparison.Ordinal);
        File.Delete(item.LocalPath);
    }

    [Fact]
    public async Task MissingBucket_IsRefused()
    {
        var item = await FileAsync(1000, $"conformance/missing-{Guid.NewGuid():N}.mp4");
        await using var destination = CreateWithMissingBucket();
        var e = await Assert.ThrowsAsync<StorageException>(() => destination.UploadAsync(item, TestContext.Current.CancellationToken));
        Assert.Equal(StorageFailure.Refused, e.Failure);
        File.Delete(item.LocalPath);
    }

    [Fact]
    public async Task UnreachableServer_IsRetryable()
    {
        var item = await FileAsync(1000, $"conformance/away-{Guid.NewGuid():N}.mp4");
        await using var destination = CreateUnreachable();
        var e = await Assert.ThrowsAsync<StorageException>(() => destination.UploadAsync(item, TestContext.Current.CancellationToken));
        Assert.Equal(StorageFailure.Unreachable, e.Failure);
        File.Delete(item.LocalPath);
    }

    /// <summary>A loopback port that resets every connection, held until the test ends (a port that was merely
    /// free could be taken meanwhile by another test's server, which would answer).</summary>
    protected int DeadPort()
    {
        var port = new RefusingPort();
        _deadPorts.Add(port);
        return port.Port;
    }

    public void Dispose()
    {
        foreach (var port in _deadPorts)
        {
            port.Dispose();
        }
        GC.SuppressFinalize(this);
    }
}
