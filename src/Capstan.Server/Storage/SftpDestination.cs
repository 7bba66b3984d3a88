using System.Net.Sockets;
using System.Text;
using Capstan.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Capstan.Server.Storage;

/// <summary>Makes <see cref="SftpDestination"/>s for <c>storage_config.type = "sftp"</c>.</summary>
public sealed class SftpDestinationFactory : IStorageDestinationFactory
{
    /// <summary>Where destinations log (the host key fingerprint they accepted). Factories are created by
    /// reflection without dependency injection, so the host sets this once at start-up; without it nothing is
    /// logged.</summary>
    public static ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;

    public IReadOnlyList<string> Types { get; } = ["sftp"];

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options) =>
        new SftpDestination(config, LoggerFactory.CreateLogger<SftpDestination>());

    public IStorageDestination Create(StorageConfig config, string? endpoint, StorageOptions options, Security.OutboundPolicy? guard) =>
        new SftpDestination(config, LoggerFactory.CreateLogger<SftpDestination>(), guard);
}

/// <summary>
/// An SFTP server (SSH.NET). What it does:
/// <list type="bullet">
/// <item>Logs in to <c>host:port</c> (port 22 by default) as <c>username</c>, with <c>auth_method</c>
/// <c>PASSWORD</c> (password, or keyboard-interactive answered with it) or <c>KEY</c> (<c>private_key</c> in
/// OpenSSH, PEM/PKCS#1, PKCS#8 or PuTTY format; <c>password</c>, when given, is its passphrase).</item>
/// <item>Object keys (<c>path</c> + file name, see <see cref="ObjectKeys"/>) are relative to the folder the
/// server logs the user in to (the home or chroot folder), like keys in a bucket. A <c>path</c> written with a
/// leading <c>/</c> is absolute on the server instead. Missing folders of the key are created; the folder they
/// start from must exist, and a folder that cannot be created (no permission) is
/// <see cref="StorageFailure.Refused"/>, like a missing bucket.</item>
/// <item>A file goes up streamed to <c>{key}.part</c>, its size is checked (stat), and only then it is renamed
/// over the final name (<c>posix-rename@openssh.com</c>, which replaces an existing file atomically; on servers
/// without it the old file is removed first). A broken upload therefore never leaves a half file under the real
/// name. SFTP has no standard checksum, so the size is what is verified.</item>
/// <item>Host key: the contract has no field for a known host key, so the key the server presents is trusted on
/// first use and its SHA-256 fingerprint is logged (and kept in <see cref="HostKeyFingerprint"/>). Within one
/// destination a changed key on reconnection is refused.</item>
/// <item>Failures: authentication, permission, missing folder or file, an unreadable private key and a changed
/// host key are <see cref="StorageFailure.Refused"/>; refused connections, timeouts, socket errors and dropped
/// connections are <see cref="StorageFailure.Unreachable"/>. Messages start with <see cref="Description"/> and
/// never contain the password or the key.</item>
/// </list>
/// One connection is opened on first use and reused by later calls (one at a time) until disposal; a call that
/// failed with a connection problem drops it, and the next call reconnects.
/// </summary>
public sealed class SftpDestination : IStorageDestination
{
    /// <summary>How long connecting (TCP, key exchange, authentication) may take.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long one SFTP request may wait for its answer, and how long an upload or download may go
    /// without progress.</summary>
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(30);

    private readonly string _host;
    private readonly int _port;
    private readonly string _username;
    private readonly bool _useKey;
    private readonly string? _password;
    private readonly string? _privateKey;
    private readonly bool _absolute;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SftpClient? _client;
    private List<IDisposable> _clientResources = [];
    private bool _hostKeyChanged;
    private bool _disposed;

    private readonly Security.OutboundPolicy? _guard;

    /// <param name="guard">When set (the host came from a request), the host is resolved once through the outbound
    /// policy and the connection goes to the checked address.</param>
    public SftpDestination(StorageConfig config, ILogger? logger = null, Security.OutboundPolicy? guard = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        _guard = guard;
        _logger = logger ?? NullLogger.Instance;
        _host = (config.Host ?? string.Empty).Trim();
        _port = config.Port is > 0 and <= 65535 ? config.Port.Value : 22;
        _username = (config.Username ?? string.Empty).Trim();
        Description = $"sftp {_username}@{(_host.Contains(':', StringComparison.Ordinal) ? $"[{_host}]" : _host)}:{_port}";
        _password = string.IsNullOrEmpty(config.Password) ? null : config.Password;
        _privateKey = string.IsNullOrWhiteSpace(config.PrivateKey) ? null : config.PrivateKey;
        _absolute = (config.Path ?? string.Empty).TrimStart().StartsWith('/');

        if (_host.Length == 0)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: host is required");
        }
        if (_username.Length == 0)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: username is required");
        }
        if (config.Port is { } p && (p <= 0 || p > 65535))
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: port {p} is not a TCP port");
        }

        var method = config.AuthMethod?.Trim().ToUpperInvariant();
        _useKey = method switch
        {
            "KEY" => true,
            "PASSWORD" => false,
            null or "" => _privateKey is not null,
            _ => throw new StorageException(StorageFailure.Refused, $"{Description}: auth_method must be KEY or PASSWORD"),
        };
        if (_useKey && _privateKey is null)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: auth_method KEY needs private_key");
        }
        if (!_useKey && _password is null)
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: auth_method PASSWORD needs password");
        }
    }

    public string Description { get; }

    /// <summary>The SHA-256 fingerprint (<c>SHA256:...</c>, as <c>ssh-keygen -l</c> prints it) of the host key
    /// accepted on the first connection, or null before connecting.</summary>
    public string? HostKeyFingerprint { get; private set; }

    public async Task UploadAsync(UploadItem item, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(item);
        var remote = RemotePath(item.Key);
        var part = remote + ".part";
        await using var local = new FileStream(item.LocalPath, FileMode.Open, FileAccess.Read, FileShare.Read,
            bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);

        await RunAsync("upload", item.Key, async client =>
        {
            await EnsureFolderAsync(client, remote, ct);
            try
            {
                using (var watchdog = new Watchdog(ct))
                {
                    await client.UploadFileAsync(local, part, canOverride: true, watchdog.UploadProgress, watchdog.Token);
                }
                var attributes = await WithTimeoutAsync(t => client.GetAttributesAsync(part, t), ct);
                if (attributes.Size != item.Size)
                {
                    throw new StorageException(StorageFailure.Unreachable,
                        $"{Description}: '{item.Key}' arrived with {attributes.Size} bytes instead of {item.Size}");
                }
                await RenameOverAsync(client, part, remote, ct);
            }
            catch (Exception) when (!ct.IsCancellationRequested && client.IsConnected)
            {
                await TryDeleteAsync(client, part);
                throw;
            }
        }, ct);
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken ct)
    {
        var remote = RemotePath(key);
        var temp = new FileStream(Path.Combine(Path.GetTempPath(), "capstan-sftp-" + Guid.NewGuid().ToString("N")),
            FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 81920,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        try
        {
            await RunAsync("download", key, async client =>
            {
                temp.SetLength(0);
                using var watchdog = new Watchdog(ct);
                await client.DownloadFileAsync(remote, temp, watchdog.DownloadProgress, watchdog.Token);
            }, ct);
            await temp.FlushAsync(ct);
            temp.Position = 0;
            return temp;
        }
        catch
        {
            await temp.DisposeAsync();
            throw;
        }
    }

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        var remote = RemotePath(key);
        return RunAsync("delete", key, async client =>
        {
            try
            {
                await WithTimeoutAsync(t => client.DeleteFileAsync(remote, t), ct);
            }
            catch (SftpPathNotFoundException)
            {
                // Already gone: deleting is idempotent, as in a bucket.
            }
        }, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _gate.WaitAsync();
        try
        {
            DropClient();
        }
        finally
        {
            _gate.Release();
            _gate.Dispose();
        }
    }

    /// <summary>The remote path of an object key: relative to the login folder, or absolute when the configured
    /// <c>path</c> was. Keys are checked so that they stay below that folder.</summary>
    private string RemotePath(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var segments = key.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0 || segments.Any(s => s is "." or ".."))
        {
            throw new StorageException(StorageFailure.Refused, $"{Description}: '{key}' is not a valid object key");
        }
        var joined = string.Join('/', segments);
        return _absolute ? "/" + joined : joined;
    }

    /// <summary>Runs one operation on the (re)connected client, one at a time, and turns every failure into a
    /// classified <see cref="StorageException"/>.</summary>
    private async Task RunAsync(string action, string key, Func<SftpClient, Task> operation, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(ct);
        try
        {
            var client = await ConnectedAsync(ct);
            await operation(client);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            DropClient();
            throw;
        }
        catch (Exception e)
        {
            var failure = Classify(e, action, key);
            if (failure.Failure == StorageFailure.Unreachable || _client is { IsConnected: false })
            {
                DropClient();
            }
            throw failure;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SftpClient> ConnectedAsync(CancellationToken ct)
    {
        if (_client is { IsConnected: true })
        {
            return _client;
        }
        DropClient();

        var resources = new List<IDisposable>();
        SftpClient? client = null;
        try
        {
            var methods = _useKey ? KeyMethods(resources) : PasswordMethods(resources);
            var host = _host;
            if (_guard is not null)
            {
                try
                {
                    host = (await _guard.ResolveAsync(_host, ct))[0].ToString();
                }
                catch (Security.OutboundRefusedException e)
                {
                    throw new StorageException(StorageFailure.Refused, $"{Description}: {e.Message}", e);
                }
            }
            var info = new Renci.SshNet.ConnectionInfo(host, _port, _username, methods) { Timeout = ConnectTimeout };
            client = new SftpClient(info)
            {
                OperationTimeout = OperationTimeout,
                KeepAliveInterval = KeepAliveInterval,
            };
            client.HostKeyReceived += OnHostKeyReceived;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(ConnectTimeout);
                await client.ConnectAsync(timeout.Token);
            }
            _client = client;
            _clientResources = resources;
            return client;
        }
        catch
        {
            client?.Dispose();
            foreach (var r in resources)
            {
                r.Dispose();
            }
            throw;
        }
    }

    private AuthenticationMethod[] PasswordMethods(List<IDisposable> resources)
    {
        var password = new PasswordAuthenticationMethod(_username, _password!);
        resources.Add(password);
        var interactive = new KeyboardInteractiveAuthenticationMethod(_username);
        resources.Add(interactive);
        interactive.AuthenticationPrompt += (_, e) =>
        {
            foreach (var prompt in e.Prompts)
            {
                prompt.Response = prompt.IsEchoed ? string.Empty : _password!;
            }
        };
        return [password, interactive];
    }

    private AuthenticationMethod[] KeyMethods(List<IDisposable> resources)
    {
        PrivateKeyFile key;
        try
        {
            // SSH.NET reads the text form; normalise line endings that JSON clients sometimes mangle.
            var text = _privateKey!.Replace("\r\n", "\n", StringComparison.Ordinal).Trim() + "\n";
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
            key = new PrivateKeyFile(stream, _password);
        }
        catch (SshPassPhraseNullOrEmptyException e)
        {
            throw new StorageException(StorageFailure.Refused,
                $"{Description}: private_key is encrypted and no password (its passphrase) was given", e);
        }
        catch (Exception e) when (e is SshException or ArgumentException or FormatException or InvalidOperationException
                                      or NotSupportedException or System.Security.Cryptography.CryptographicException)
        {
            // The exception's own message names the format problem only, never key material.
            throw new StorageException(StorageFailure.Refused,
                $"{Description}: private_key could not be read (wrong passphrase or unsupported format: {e.Message})", e);
        }
        resources.Add(key);
        var method = new PrivateKeyAuthenticationMethod(_username, key);
        resources.Add(method);
        return [method];
    }

    private void OnHostKeyReceived(object? sender, HostKeyEventArgs e)
    {
        var fingerprint = "SHA256:" + e.FingerPrintSHA256;
        if (HostKeyFingerprint is null)
        {
            HostKeyFingerprint = fingerprint;
            _logger.LogInformation(
                "{Destination}: accepting host key {Algorithm} {Fingerprint} (trusted on first use: storage_config has no field for a known host key)",
                Description, e.HostKeyName, fingerprint);
            e.CanTrust = true;
        }
        else if (string.Equals(HostKeyFingerprint, fingerprint, StringComparison.Ordinal))
        {
            e.CanTrust = true;
        }
        else
        {
            _hostKeyChanged = true;
            _logger.LogWarning("{Destination}: host key changed from {Known} to {Fingerprint}; refusing it",
                Description, HostKeyFingerprint, fingerprint);
            e.CanTrust = false;
        }
    }

    private void DropClient()
    {
        var client = _client;
        _client = null;
        if (client is not null)
        {
            client.HostKeyReceived -= OnHostKeyReceived;
            try
            {
                client.Dispose();
            }
            catch (Exception e) when (e is SshException or SocketException or IOException or ObjectDisposedException)
            {
                // Tearing down a broken connection: nothing to report.
            }
        }
        foreach (var r in _clientResources)
        {
            r.Dispose();
        }
        _clientResources = [];
    }

    /// <summary>Creates the folders of <paramref name="remoteFile"/> that are missing.</summary>
    private async Task EnsureFolderAsync(SftpClient client, string remoteFile, CancellationToken ct)
    {
        var slash = remoteFile.LastIndexOf('/');
        if (slash <= 0)
        {
            return; // in the login folder, or directly under "/"
        }
        var folder = remoteFile[..slash];
        if (await IsFolderAsync(client, folder, ct))
        {
            return;
        }
        var segments = folder.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var prefix = _absolute ? "/" : string.Empty;
        for (var i = 0; i < segments.Length; i++)
        {
            var path = prefix + string.Join('/', segments, 0, i + 1);
            if (await IsFolderAsync(client, path, ct))
            {
                continue;
            }
            try
            {
                await WithTimeoutAsync(t => client.CreateDirectoryAsync(path, t), ct);
            }
            catch (SftpPermissionDeniedException e)
            {
                throw new StorageException(StorageFailure.Refused,
                    $"{Description}: folder '{path}' does not exist and may not be created (permission denied)", e);
            }
            catch (SftpPathNotFoundException e)
            {
                throw new StorageException(StorageFailure.Refused,
                    $"{Description}: folder '{path}' cannot be created: its parent does not exist", e);
            }
            catch (SftpException)
            {
                // Perhaps created meanwhile by a concurrent upload; otherwise the original failure stands.
                if (!await IsFolderAsync(client, path, ct))
                {
                    throw;
                }
            }
        }
    }

    /// <summary>Whether <paramref name="path"/> is a folder; false when it does not exist; Refused when it is
    /// a file.</summary>
    private async Task<bool> IsFolderAsync(SftpClient client, string path, CancellationToken ct)
    {
        try
        {
            var attributes = await WithTimeoutAsync(t => client.GetAttributesAsync(path, t), ct);
            return attributes.IsDirectory
                ? true
                : throw new StorageException(StorageFailure.Refused, $"{Description}: '{path}' is a file, not a folder");
        }
        catch (SftpPathNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Moves the finished <paramref name="part"/> over <paramref name="remote"/>, replacing a file that
    /// is already there.</summary>
    private async Task RenameOverAsync(SftpClient client, string part, string remote, CancellationToken ct)
    {
        try
        {
            // SSH.NET has no asynchronous POSIX rename; the request is short and bounded by OperationTimeout.
            await Task.Run(() => client.RenameFile(part, remote, isPosix: true), ct);
        }
        catch (NotSupportedException)
        {
            // A server without posix-rename@openssh.com: plain SFTP rename refuses an existing target.
            try
            {
                await WithTimeoutAsync(t => client.DeleteFileAsync(remote, t), ct);
            }
            catch (SftpPathNotFoundException)
            {
                // nothing to replace
            }
            await WithTimeoutAsync(t => client.RenameFileAsync(part, remote, t), ct);
        }
    }

    private static async Task TryDeleteAsync(SftpClient client, string path)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.DeleteFileAsync(path, timeout.Token);
        }
        catch (Exception e) when (e is SshException or SocketException or IOException or OperationCanceledException
                                      or ObjectDisposedException or InvalidOperationException)
        {
            // Best effort: a leftover .part is overwritten by the next attempt and never has the real name.
        }
    }

    private static async Task WithTimeoutAsync(Func<CancellationToken, Task> request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(OperationTimeout);
        await request(timeout.Token);
    }

    private static async Task<T> WithTimeoutAsync<T>(Func<CancellationToken, Task<T>> request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(OperationTimeout);
        return await request(timeout.Token);
    }

    private StorageException Classify(Exception e, string action, string key)
    {
        var what = $"{Description}: {action} of '{key}'";
        return e switch
        {
            StorageException s => s,
            SshAuthenticationException => new StorageException(StorageFailure.Refused,
                $"{Description}: authentication failed ({e.Message})", e),
            SftpPermissionDeniedException => new StorageException(StorageFailure.Refused,
                $"{what} failed: permission denied ({e.Message})", e),
            SftpPathNotFoundException => new StorageException(StorageFailure.Refused,
                $"{what} failed: no such file or folder ({e.Message})", e),
            SshConnectionException when _hostKeyChanged => new StorageException(StorageFailure.Refused,
                $"{Description}: the server's host key changed since the first connection (expected {HostKeyFingerprint})", e),
            SshConnectionException => new StorageException(StorageFailure.Unreachable,
                $"{Description}: connection failed or was lost ({e.Message})", e),
            SocketException socket => new StorageException(StorageFailure.Unreachable,
                $"{Description}: cannot connect ({socket.SocketErrorCode}: {e.Message})", e),
            OperationCanceledException or TimeoutException or SshOperationTimeoutException => new StorageException(
                StorageFailure.Unreachable, $"{what} timed out", e),
            ProxyException or IOException => new StorageException(StorageFailure.Unreachable,
                $"{what} failed ({e.Message})", e),
            _ => new StorageException(StorageFailure.Unreachable, $"{what} failed ({e.GetType().Name}: {e.Message})", e),
        };
    }

    /// <summary>Cancels a transfer that makes no progress for <see cref="OperationTimeout"/>.</summary>
    private sealed class Watchdog : IDisposable
    {
        private readonly CancellationTokenSource _cts;

        public Watchdog(CancellationToken ct)
        {
            _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _cts.CancelAfter(OperationTimeout);
            UploadProgress = new Callback<UploadFileProgressReport>(Kick);
            DownloadProgress = new Callback<DownloadFileProgressReport>(Kick);
        }

        public CancellationToken Token => _cts.Token;

        public IProgress<UploadFileProgressReport> UploadProgress { get; }

        public IProgress<DownloadFileProgressReport> DownloadProgress { get; }

        public void Dispose() => _cts.Dispose();

        private void Kick()
        {
            try
            {
                _cts.CancelAfter(OperationTimeout);
            }
            catch (ObjectDisposedException)
            {
                // a late report after the transfer ended
            }
        }

        /// <summary>Runs on the reporting thread (<see cref="Progress{T}"/> would post elsewhere).</summary>
        private sealed class Callback<T>(Action kick) : IProgress<T>
        {
            public void Report(T value) => kick();
        }
    }
}
