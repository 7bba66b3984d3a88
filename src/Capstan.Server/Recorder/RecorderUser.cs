using System.Globalization;
using Capstan.Server.Processes;

namespace Capstan.Server.Recorder;

/// <summary>Who the recorder's processes (Xvfb, PulseAudio and <c>pactl</c>, Chromium, the <c>gst-launch-1.0</c>
/// capture, the ffmpeg RTMP pusher) run as: never root, so that Chromium runs with its own sandbox (no
/// <c>--no-sandbox</c>; on Debian's Chromium that is the namespace sandbox, which needs unprivileged user
/// namespaces: Debian's default) while it opens pages chosen by API callers.
/// <list type="bullet">
/// <item><c>Recorder:RunAsUser</c> unset: <c>capstan-recorder</c> when Capstan runs as root (created when missing:
/// <c>useradd --system --user-group</c>, no home, no login shell), else Capstan's own user (which is not root).</item>
/// <item>Set: that user (another user than Capstan's own needs Capstan to run as root, see
/// <see cref="RecorderOptionsValidator"/>); root is refused.</item>
/// </list>
/// Either way Chromium runs with its own sandbox. The switched processes keep one capability, <c>CAP_SYS_NICE</c>
/// (<see cref="ProcessUser"/>), and Capstan raises the sound server's priority itself (<see cref="PulseServer"/>):
/// measured on this 2-core machine, without those the sound of a recording ran 0.2 s ahead of its picture when
/// the cores were busy (the scheduling priority root gives PulseAudio and Chromium's audio was lost).
/// Its <c>HOME</c> is <c>{WorkDir}/home</c>, kept across runs (GStreamer's plugin registry, built once there, takes
/// about 1.5 s). The job runner, the join, the probes and the uploads stay Capstan's.</summary>
public static partial class RecorderUser
{
    public const string DefaultName = "capstan-recorder";

    /// <summary>The user the recorder switches to: <c>Recorder:RunAsUser</c>, else <see cref="DefaultName"/> when
    /// Capstan runs as root; null when the processes run as Capstan's own user.</summary>
    public static string? NameFor(RecorderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = string.IsNullOrEmpty(options.RunAsUser) ? (ProcessUser.EffectiveUid == 0 ? DefaultName : null) : options.RunAsUser;
        return name is not null && ProcessUser.EffectiveUid != 0 && name == Environment.UserName ? null : name;
    }

    /// <summary>A user name useradd and setpriv take (no option, path or list syntax).</summary>
    public static bool LooksLikeUserName(string name) =>
        name is { Length: > 0 and <= 32 } && (char.IsAsciiLetterLower(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-' or '.');

    /// <summary>The user, created if it is the default one and missing; its home made; checked by running the
    /// capture's launcher as it (which also builds GStreamer's registry in its home).</summary>
    public static async Task<ProcessUser> ResolveAsync(RecorderOptions options, string workDir, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var home = Path.Combine(workDir, "home");
        var euid = ProcessUser.EffectiveUid;
        var name = NameFor(options);
        ProcessUser user;
        if (name is null)
        {
            user = new ProcessUser(Environment.UserName, euid, ProcessUser.EffectiveGid, home, setpriv: null);
        }
        else
        {
            if (euid != 0)
            {
                throw new InvalidOperationException($"Recorder:RunAsUser: running the recorder as '{name}' needs Capstan to run as root");
            }
            var entry = await LookupAsync(name, ct);
            if (entry is null && name == DefaultName)
            {
                if (await CreateAsync(name, ct))
                {
                    LogCreated(logger, name);
                }
                entry = await LookupAsync(name, ct);
            }
            var (uid, gid) = entry ?? throw new InvalidOperationException($"Recorder:RunAsUser: there is no user '{name}' on this machine");
            if (uid == 0)
            {
                throw new InvalidOperationException($"Recorder:RunAsUser: '{name}' has uid 0; the recorder's browser does not run as root");
            }
            user = new ProcessUser(name, uid, gid, home, options.Setpriv);
        }
        user.ShareDirectory(workDir);
        user.CreateOwnedDirectory(home);
        // The check is the switched user's: Capstan's own user reaches its own folders.
        if (user.Switches)
        {
            await CheckAsync(user, options, workDir, ct);
        }
        LogUser(logger, user.Name, user.Uid, user.Switches ? "switched to by setpriv" : "Capstan's own");
        return user;
    }

    /// <summary>Runs a one-buffer GStreamer pipeline as the user: proves the switch works, that the user reaches its
    /// home (every folder above the work folder must let it pass), and builds GStreamer's registry there before the
    /// first recording needs it.</summary>
    private static async Task CheckAsync(ProcessUser user, RecorderOptions options, string workDir, CancellationToken ct)
    {
        var output = new System.Text.StringBuilder();
        // Written into its home: a home the user cannot reach fails here, not at the first recording.
        var probe = Path.Combine(user.Home, ".capstan-check");
        await using var p = ChildProcess.Start("gst-launch", options.GstLaunch, ["-q", "fakesrc", "num-buffers=1", "!", "filesink", $"location={probe}"],
            onLine: l => output.AppendLine(l), runAs: user);
        var code = await p.Exited.WaitAsync(TimeSpan.FromSeconds(60), ct);
        if (code == 0 && !File.Exists(probe))
        {
            code = -1;
        }
        File.Delete(probe);
        if (code != 0)
        {
            throw new ChildProcessException("gst-launch", code,
                $"the recorder's user '{user.Name}' cannot run the capture in {user.Home} (every folder above the work folder {workDir} must be searchable by it): {output}");
        }
    }

    /// <summary>uid and gid from the user database (<c>getent passwd</c>: local files, LDAP, ...); null when unknown.</summary>
    private static async Task<(int Uid, int Gid)?> LookupAsync(string name, CancellationToken ct)
    {
        var output = new System.Text.StringBuilder();
        await using var p = ChildProcess.Start("getent", "/usr/bin/getent", ["passwd", name], onLine: l => output.AppendLine(l));
        if (await p.Exited.WaitAsync(TimeSpan.FromSeconds(10), ct) != 0)
        {
            return null;
        }
        var f = output.ToString().Trim().Split(':');
        return f.Length >= 4 && int.TryParse(f[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var uid) && int.TryParse(f[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var gid)
            ? (uid, gid)
            : null;
    }

    /// <summary>A system user with a group of its own, no home folder and no login shell. Another Capstan that
    /// created it at the same moment is fine (useradd answers 9: exists). True when this call created it.</summary>
    private static async Task<bool> CreateAsync(string name, CancellationToken ct)
    {
        var output = new System.Text.StringBuilder();
        await using var p = ChildProcess.Start("useradd", "/usr/sbin/useradd",
            ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "Capstan recorder (browser, display, capture)", name],
            onLine: l => output.AppendLine(l));
        var code = await p.Exited.WaitAsync(TimeSpan.FromSeconds(30), ct);
        if (code is not 0 and not 9)
        {
            throw new ChildProcessException("useradd", code, output.ToString());
        }
        return code == 0;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Created the system user {User} for the recorder's browser and capture")]
    private static partial void LogCreated(ILogger logger, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recorder processes run as {User} (uid {Uid}, {How})")]
    private static partial void LogUser(ILogger logger, string user, int uid, string how);
}
