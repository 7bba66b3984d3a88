using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Capstan.Contracts;
using Capstan.Server.Storage;

namespace Capstan.Storage.Tests;

/// <summary>
/// A real OpenSSH server for the SFTP conformance tests: <c>/usr/sbin/sshd -D -e</c> (Debian <c>openssh-server</c>,
/// installed by <c>scripts/deps.sh test</c>) on a free 127.0.0.1 port, with its own host key, config and pid file
/// in a temporary folder (the system's <c>/etc/ssh</c> is not touched). It needs root (password logins and the
/// chroot). Each fixture creates its own user <c>capstan-sftp-XXXXXXXX</c> (so concurrent runs cannot change
/// each other's password) with a random password and a per-run key pair, chrooted to
/// <c>/srv/capstan-sftp/{user}</c> (root-owned, as sshd requires) where <c>/uploads</c> belongs to the user and is
/// the folder logins start in (<c>internal-sftp -d /uploads</c>). Everything is removed at the end.
/// </summary>
public sealed class SftpServerFixture : IAsyncLifetime
{
    private const string Sshd = "/usr/sbin/sshd";
    private const string Root = "/srv/capstan-sftp";
    private readonly StringBuilder _log = new();
    private Process? _sshd;
    private bool _userCreated;

    public string User { get; } = "capstan-sftp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    public string Password { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('/', '_').Replace('+', '-');

    /// <summary>The passphrase of <see cref="Ed25519Key"/>.</summary>
    public string Passphrase { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    public int Port { get; private set; }

    /// <summary>Authorized: ed25519 in OpenSSH format, encrypted with <see cref="Passphrase"/>.</summary>
    public string Ed25519Key { get; private set; } = string.Empty;

    /// <summary>Authorized: RSA in PEM (PKCS#1) format, without passphrase.</summary>
    public string RsaPemKey { get; private set; } = string.Empty;

    /// <summary>Not authorized.</summary>
    public string OtherKey { get; private set; } = string.Empty;

    /// <summary>The host key fingerprint as <c>ssh-keygen -l</c> prints it.</summary>
    public string HostKeyFingerprint { get; private set; } = string.Empty;

    /// <summary>The user's chroot on this machine; <c>/uploads</c> inside it is the login folder.</summary>
    public string ChrootDirectory => Path.Combine(Root, User);

    public string UploadsDirectory => Path.Combine(ChrootDirectory, "uploads");

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("capstan-sftp-").FullName;

    public string ServerLog
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public async ValueTask InitializeAsync()
    {
        const UnixFileMode rwxr_xr_x = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        if (!File.Exists(Sshd))
        {
            throw new InvalidOperationException(
                $"{Sshd} is missing: the SFTP tests run a real OpenSSH server. Install it with `scripts/deps.sh test` (apt-get install openssh-server).");
        }
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                "The SFTP tests must run as root: they create a test user, a chroot and run sshd with password logins.");
        }

        Directory.CreateDirectory(Root, rwxr_xr_x);
        File.SetUnixFileMode(Root, rwxr_xr_x);
        await SweepAbandonedRunsAsync();
        await WriteMarkerAsync(sshdPid: null);

        var hostKey = Path.Combine(WorkDirectory, "host_ed25519");
        await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "capstan-test-host", "-f", hostKey]);
        var fingerprint = await RunAsync("ssh-keygen", ["-l", "-f", hostKey + ".pub"]);
        HostKeyFingerprint = fingerprint.Split(' ')[1];

        var ed25519 = Path.Combine(WorkDirectory, "client_ed25519");
        var rsa = Path.Combine(WorkDirectory, "client_rsa");
        var other = Path.Combine(WorkDirectory, "other_ed25519");
        await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", Passphrase, "-C", "capstan-test", "-f", ed25519]);
        await RunAsync("ssh-keygen", ["-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "", "-C", "capstan-test", "-f", rsa]);
        await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "capstan-other", "-f", other]);
        Ed25519Key = await File.ReadAllTextAsync(ed25519);
        RsaPemKey = await File.ReadAllTextAsync(rsa);
        OtherKey = await File.ReadAllTextAsync(other);

        await CreateUserAsync();
        await RunAsync("chpasswd", [], stdin: $"{User}:{Password}\n");

        // sshd reads authorized_keys as the user: the folder must be reachable by it (the keys next to it are 0600).
        var authorizedKeys = Directory.CreateDirectory(Path.Combine(WorkDirectory, "authorized_keys")).FullName;
        var authorizedFile = Path.Combine(authorizedKeys, User);
        await File.WriteAllTextAsync(authorizedFile,
            await File.ReadAllTextAsync(ed25519 + ".pub") + await File.ReadAllTextAsync(rsa + ".pub"));
        File.SetUnixFileMode(WorkDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(authorizedKeys, rwxr_xr_x);
        File.SetUnixFileMode(authorizedFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        // sshd's chroot rules: the chroot and every parent root-owned and not writable by others.
        Directory.CreateDirectory(ChrootDirectory, rwxr_xr_x);
        File.SetUnixFileMode(ChrootDirectory, rwxr_xr_x);
        Directory.CreateDirectory(UploadsDirectory, rwxr_xr_x);
        await RunAsync("chown", [$"{User}:{User}", UploadsDirectory]);
        Directory.CreateDirectory("/run/sshd", rwxr_xr_x); // privilege separation folder

        await StartSshdAsync(hostKey, authorizedKeys);
        await WriteMarkerAsync(_sshd?.Id);
    }

    private string Marker => Path.Combine(Root, User + ".owner");

    /// <summary>Records who owns this run (test process, sshd, work folder), so that a later run can clean up
    /// after a test process that was killed before <see cref="DisposeAsync"/>.</summary>
    private Task WriteMarkerAsync(int? sshdPid) =>
        File.WriteAllLinesAsync(Marker, [Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
            sshdPid?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, WorkDirectory]);

    private static async Task SweepAbandonedRunsAsync()
    {
        foreach (var marker in Directory.GetFiles(Root, "capstan-sftp-*.owner"))
        {
            var lines = await File.ReadAllLinesAsync(marker);
            if (lines.Length < 3 || !int.TryParse(lines[0], CultureInfo.InvariantCulture, out var owner) || Directory.Exists($"/proc/{owner}"))
            {
                continue;
            }
            var user = Path.GetFileNameWithoutExtension(marker);
            var workDirectory = lines[2];
            if (int.TryParse(lines[1], CultureInfo.InvariantCulture, out var sshdPid)
                && File.Exists($"/proc/{sshdPid}/cmdline")
                && (await File.ReadAllTextAsync($"/proc/{sshdPid}/cmdline")).Contains(workDirectory, StringComparison.Ordinal))
            {
                try
                {
                    using var orphan = Process.GetProcessById(sshdPid);
                    orphan.Kill(entireProcessTree: true);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // gone meanwhile
                }
            }
            await RunRawAsync("userdel", [user], stdin: null);
            TryDelete(Path.Combine(Root, user));
            TryDelete(workDirectory);
            File.Delete(marker);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_sshd is { } sshd)
        {
            try
            {
                if (!sshd.HasExited)
                {
                    sshd.Kill(entireProcessTree: true);
                }
                await sshd.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
                // already gone
            }
            sshd.Dispose();
        }
        if (_userCreated)
        {
            await RunAsync("userdel", [User], check: false);
        }
        TryDelete(ChrootDirectory);
        TryDelete(WorkDirectory);
        if (File.Exists(Marker))
        {
            File.Delete(Marker);
        }
    }

    /// <summary>Makes files or folders created by the test (as root) the test user's.</summary>
    public Task GiveToUserAsync(params string[] paths) => RunAsync("chown", [$"{User}:{User}", .. paths]);

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task CreateUserAsync()
    {
        // useradd may find /etc/passwd locked by a concurrent useradd/userdel: try again a few times.
        for (var attempt = 1; ; attempt++)
        {
            var (code, output) = await RunRawAsync("useradd", ["-M", "-s", "/usr/sbin/nologin", User], stdin: null);
            if (code == 0)
            {
                _userCreated = true;
                return;
            }
            if (attempt == 5)
            {
                throw new InvalidOperationException($"useradd {User} failed ({code}): {output}");
            }
            await Task.Delay(200 * attempt);
        }
    }

    private async Task StartSshdAsync(string hostKey, string authorizedKeys)
    {
        for (var attempt = 1; ; attempt++)
        {
            Port = TestHttpServer.FreePort();
            var config = Path.Combine(WorkDirectory, "sshd_config");
            await File.WriteAllTextAsync(config, $"""
                ListenAddress 127.0.0.1
                Port {Port}
                HostKey {hostKey}
                PidFile {Path.Combine(WorkDirectory, "sshd.pid")}
                PermitRootLogin no
                AllowUsers {User}
                PubkeyAuthentication yes
                PasswordAuthentication yes
                KbdInteractiveAuthentication no
                UsePAM yes
                StrictModes no
                AuthorizedKeysFile {authorizedKeys}/%u
                MaxStartups 50:30:100
                LogLevel VERBOSE
                Subsystem sftp internal-sftp
                Match User {User}
                    ChrootDirectory {ChrootDirectory}
                    ForceCommand internal-sftp -d /uploads
                    AllowTcpForwarding no
                    X11Forwarding no

                """);
            await RunAsync(Sshd, ["-t", "-f", config]);

            var start = new ProcessStartInfo(Sshd)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "-D", "-e", "-f", config })
            {
                start.ArgumentList.Add(a);
            }
            var sshd = Process.Start(start) ?? throw new InvalidOperationException("sshd did not start");
            sshd.ErrorDataReceived += (_, e) => Append(e.Data);
            sshd.OutputDataReceived += (_, e) => Append(e.Data);
            sshd.BeginErrorReadLine();
            sshd.BeginOutputReadLine();
            _sshd = sshd;

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (DateTime.UtcNow < deadline && !sshd.HasExited)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, Port);
                    return;
                }
                catch (SocketException)
                {
                    await Task.Delay(100);
                }
            }
            if (!sshd.HasExited)
            {
                sshd.Kill(entireProcessTree: true);
            }
            await sshd.WaitForExitAsync();
            sshd.Dispose();
            _sshd = null;
            // The port may have been taken between choosing and binding it: try another one.
            if (attempt == 3)
            {
                throw new InvalidOperationException($"sshd did not accept connections on 127.0.0.1:{Port}:\n{ServerLog}");
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            _log.AppendLine(line);
        }
    }

    private static async Task<string> RunAsync(string file, string[] args, string? stdin = null, bool check = true)
    {
        var (code, output) = await RunRawAsync(file, args, stdin);
        if (check && code != 0)
        {
            // Arguments are not printed: some carry a passphrase.
            throw new InvalidOperationException($"{file} failed ({code}): {output}");
        }
        return output;
    }

    private static async Task<(int Code, string Output)> RunRawAsync(string file, string[] args, string? stdin)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
        }
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, (await stdout + await stderr).Trim());
    }
}
