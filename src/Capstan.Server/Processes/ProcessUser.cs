using System.Globalization;
using System.Runtime.InteropServices;

namespace Capstan.Server.Processes;

/// <summary>The user a group of child processes runs as (the recorder's display, sound server, browser and
/// capture: <see cref="Recorder.RecorderUser"/>), and what it may reach on disk.
/// <para>When Capstan runs as root the processes run as another, unprivileged user: each is started through
/// <c>setpriv --reuid --regid --init-groups --no-new-privs</c> (util-linux; keeping <c>CAP_SYS_NICE</c> alone,
/// see <see cref="KeptCapabilities"/>), which execs the tool in the same
/// process, so its pid is the tool's own: signals, <see cref="ChildProcess.StopAsync"/> and the
/// <see cref="ProcessLedger"/> reach it as before (root may signal any user's process). Otherwise
/// (<see cref="Switches"/> false) they run as Capstan itself.</para>
/// <para>Either way a process started for this user gets a clean environment: <c>HOME</c> (<see cref="Home"/>),
/// <c>USER</c>, <c>LOGNAME</c>, a fixed <c>PATH</c>, the locale and time zone, and what its caller passes; none of
/// Capstan's own settings (database connection strings and keys may be among them).</para>
/// <para>On disk, the user owns only folders made for it (<see cref="CreateOwnedDirectory"/>: its home, the
/// sound server's runtime folder, each browser profile) and the segment files made for the capture
/// (<see cref="CreateOwnedFile"/>). Capstan's own folders (work folder, recording folders) stay Capstan's, shared
/// with the user's group for reading and passing through (<see cref="ShareDirectory"/>), so that the user cannot
/// put a link where Capstan, as root, writes or reads.</para></summary>
public sealed partial class ProcessUser
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Shared = Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;

    /// <summary>Locale and time zone settings passed through from Capstan's environment.</summary>
    private static readonly string[] PassedThrough = ["LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ"];

    public ProcessUser(string name, int uid, int gid, string home, string? setpriv)
    {
        Name = name;
        Uid = uid;
        Gid = gid;
        Home = home;
        Setpriv = setpriv;
    }

    public string Name { get; }

    public int Uid { get; }

    public int Gid { get; }

    /// <summary>The processes' <c>HOME</c> (GStreamer keeps its plugin registry there, fontconfig its cache).</summary>
    public string Home { get; }

    /// <summary>The <c>setpriv</c> launcher, when the processes run as another user than Capstan's.</summary>
    public string? Setpriv { get; }

    /// <summary>True when the processes run as another user than Capstan (Capstan runs as root).</summary>
    public bool Switches => Setpriv is not null;

    /// <summary>Capstan's own effective user id.</summary>
    public static int EffectiveUid => (int)GetEuid();

    public static int EffectiveGid => (int)GetEgid();

    /// <summary>The program and arguments that run <paramref name="fileName"/> as this user. Pure.</summary>
    public (string FileName, IReadOnlyList<string> Arguments) Wrap(string fileName, IEnumerable<string> arguments) =>
        Setpriv is null
            ? (fileName, [.. arguments])
            : (Setpriv, [$"--reuid={I(Uid)}", $"--regid={I(Gid)}", "--init-groups", .. KeptCapabilities, "--no-new-privs", "--", fileName, .. arguments]);

    /// <summary>The one capability the switched processes keep: <c>CAP_SYS_NICE</c>, as an ambient capability (the
    /// only one in their bounding set, so nothing they exec can gain another). Chromium, started as root, gives its
    /// display and input threads nice -8 and its audio threads real-time priority; as a user without it, those stay
    /// at the priority of any busy process, and the sound of a recording ran ahead of its picture on busy cores.
    /// Chromium's sandboxed processes (renderers, which run the page's code) drop every capability in their own user
    /// namespace; what is left with it is the browser process, the display and the capture, which may then change
    /// processes' scheduling priorities (not read or write them).</summary>
    private static readonly string[] KeptCapabilities = ["--inh-caps=-all,+sys_nice", "--ambient-caps=+sys_nice", "--bounding-set=-all,+sys_nice"];

    /// <summary>Replaces <paramref name="environment"/> (a child's, inherited from Capstan) with this user's clean one.</summary>
    public void Apply(IDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var kept = PassedThrough.Where(environment.ContainsKey).ToDictionary(k => k, k => environment[k]);
        environment.Clear();
        foreach (var (k, v) in kept)
        {
            environment[k] = v;
        }
        environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        environment["HOME"] = Home;
        environment["USER"] = Name;
        environment["LOGNAME"] = Name;
    }

    /// <summary>A folder the user owns and only it (and root) may enter: created if missing.</summary>
    public void CreateOwnedDirectory(string path)
    {
        Directory.CreateDirectory(path);
        if (Switches)
        {
            Own(path, Uid, Gid);
        }
        File.SetUnixFileMode(path, Private);
    }

    /// <summary>One of Capstan's folders that the user must pass through or read (owner Capstan, group the user's,
    /// <c>rwxr-x---</c>). Nothing to do when the user is Capstan itself.</summary>
    public void ShareDirectory(string path)
    {
        if (Switches)
        {
            Own(path, -1, Gid);
            File.SetUnixFileMode(path, Shared);
        }
    }

    /// <summary>A file of Capstan's that the user's processes read (a watermark image).</summary>
    public void ShareFile(string path)
    {
        if (Switches)
        {
            Own(path, -1, Gid);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        }
    }

    /// <summary>An empty file the user's process writes into (a capture segment), made in one of Capstan's folders,
    /// where the user could not create it. Nothing to do when the user is Capstan itself.</summary>
    public void CreateOwnedFile(string path)
    {
        if (!Switches)
        {
            return;
        }
        using (File.Create(path))
        {
        }
        Own(path, Uid, Gid);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
    }

    // lchown: a link is never followed.
    private static void Own(string path, int uid, int gid)
    {
        if (LChown(path, uid, gid) != 0)
        {
            throw new IOException($"cannot give {path} to uid {I(uid)} gid {I(gid)} (errno {I(Marshal.GetLastPInvokeError())})");
        }
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial uint GetEgid();
}
