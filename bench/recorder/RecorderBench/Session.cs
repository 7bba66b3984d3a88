using System.Diagnostics;
using System.Globalization;

namespace Capstan.Bench.Recorder;

/// <summary>The processes of one recording session, found by walking /proc from the server: its capture (the
/// process writing <c>recorder/{id}/seg_*</c>: the surface's warm capture host, <c>Capstan.Server capture-host</c>, or a
/// gst-launch-1.0), the Xvfb of the display that capture grabs (its <c>DISPLAY</c>, or <c>ximagesrc display-name=:N</c>), the Chromium child of the server started with <c>DISPLAY=:{N}</c> and all its
/// descendants (renderers, GPU, utility processes). The Xvfb is the one holding a socket of <c>/tmp/.X11-unix/X{N}</c>
/// (abstract or not, from <c>/proc/self/net/unix</c> of this network namespace), or else the pid in
/// <c>/tmp/.X{N}-lock</c>. PulseAudio is one process for the whole worker: a session is given its share.
/// A native composite (<see cref="Native"/>) is its compositor host alone (<c>capstan-compositor-host</c>, compiled
/// ahead of time, writing the same segments): no display, no browser, no PulseAudio.</summary>
public sealed record SessionProcesses(int? Display, List<ProcStat> Capture, List<ProcStat> Xvfb, List<ProcStat> Chromium, bool Native = false)
{
    /// <summary>The capture's process names (<c>comm</c>, cut to 15 characters): gst-launch-1.0, the warm capture host
    /// (the server's own executable), or the native compositor's host (<c>capstan-compositor-host</c>).</summary>
    public static readonly string[] CaptureComms = ["gst-launch-1.0", "Capstan.Server", "capstan-composi"];

    public bool Complete => Native ? Capture.Count > 0 : Display is not null && Capture.Count > 0 && Xvfb.Count > 0 && Chromium.Count > 0;

    public IEnumerable<ProcStat> All => Capture.Concat(Xvfb).Concat(Chromium);

    public static SessionProcesses Find(List<ProcStat> all, int serverPid, string recordingId, bool native = false)
    {
        ArgumentNullException.ThrowIfNull(all);
        var tree = Proc.Descendants(all, serverPid);
        var marker = "/" + recordingId + "/seg_";
        var capture = tree.Where(p => CaptureComms.Contains(p.Comm)
            && (Proc.Cmdline(p.Pid).Any(a => a.Contains(marker, StringComparison.Ordinal)) || HoldsPath(p.Pid, marker))).ToList();
        if (native)
        {
            // The compositor host's spec (its argument) names the segment; it inherits the server's environment, so
            // a DISPLAY it may carry is not the recording's.
            return new SessionProcesses(null, capture, [], [], Native: true);
        }
        int? display = null;
        foreach (var c in capture)
        {
            if (Proc.EnvironmentVariable(c.Pid, "DISPLAY") is [':', .. var env] && int.TryParse(env, NumberStyles.None, CultureInfo.InvariantCulture, out var fromEnv))
            {
                display = fromEnv;
            }
            foreach (var a in Proc.Cmdline(c.Pid))
            {
                // "display-name=:N" (ximagesrc)
                if (a.StartsWith("display-name=:", StringComparison.Ordinal)
                    && int.TryParse(a.AsSpan("display-name=:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var d))
                {
                    display = d;
                }
            }
        }
        var xvfb = new List<ProcStat>();
        var chromium = new List<ProcStat>();
        if (display is { } n)
        {
            var sockets = DisplaySockets(n);
            xvfb.AddRange(tree.Where(p => p.Comm == "Xvfb" && HoldsAny(p.Pid, sockets)));
            if (xvfb.Count == 0 && ReadLockPid(n) is { } lockPid)
            {
                xvfb.AddRange(tree.Where(p => p.Comm == "Xvfb" && p.Pid == lockPid));
            }
            var want = ":" + n.ToString(CultureInfo.InvariantCulture);
            foreach (var browser in tree.Where(p => p.ParentPid == serverPid && p.Comm.StartsWith("chrom", StringComparison.Ordinal)
                         && Proc.EnvironmentVariable(p.Pid, "DISPLAY") == want))
            {
                chromium.Add(browser);
                chromium.AddRange(Proc.Descendants(all, browser.Pid));
            }
        }
        return new SessionProcesses(display, capture, xvfb, chromium);
    }

    /// <summary>Inodes of the sockets bound to display <paramref name="display"/> in this network namespace.</summary>
    private static HashSet<string> DisplaySockets(int display)
    {
        var suffix = "/tmp/.X11-unix/X" + display.ToString(CultureInfo.InvariantCulture);
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines("/proc/self/net/unix").Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 8 && (f[7] == suffix || f[7] == "@" + suffix))
                {
                    inodes.Add("socket:[" + f[6] + "]");
                }
            }
        }
        catch (IOException)
        {
            // no /proc/net/unix: the lock file is the fallback
        }
        return inodes;
    }

    /// <summary>Whether the process has a file open whose path contains <paramref name="marker"/>.</summary>
    private static bool HoldsPath(int pid, string marker) => Holds(pid, t => t.Contains(marker, StringComparison.Ordinal));

    private static bool HoldsAny(int pid, HashSet<string> sockets) => sockets.Count > 0 && Holds(pid, sockets.Contains);

    /// <summary>Whether one of the process's open files (the targets of <c>/proc/{pid}/fd</c>) matches.</summary>
    private static bool Holds(int pid, Func<string, bool> match)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Any(fd => new FileInfo(fd).LinkTarget is { } t && match(t));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static int? ReadLockPid(int display)
    {
        try
        {
            return int.TryParse(File.ReadAllText($"/tmp/.X{display}-lock").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>CPU of a window, in shares of one core, per part; and the memory of everything the recording started,
/// sampled once a second: the peak of the sum over its processes (capture, Xvfb, Chromium tree, its share of
/// PulseAudio) of RSS (which counts a page shared by several processes once per process) and of PSS (which splits
/// it between them: the memory the recording really holds), and the capture's own peak RSS.</summary>
public sealed record SessionCpu(double Capture, double Xvfb, double Chromium, double PulseShare, int ChromiumProcesses, double CapturePeakRssMb, double PeakRssMb, double PeakPssMb)
{
    public double Total => Capture + Xvfb + Chromium + PulseShare;
}

/// <summary>What one measured window saw: the sessions' CPU, and for context the server, PulseAudio as a whole, the
/// participants' browsers and the whole machine (every process of anyone, in cores), and of it what this benchmark's
/// own process tree did not use (<see cref="Others"/>: anything else running on the machine).</summary>
public sealed record WindowCpu(double Seconds, IReadOnlyDictionary<string, SessionCpu> Sessions, double Server, double Pulse, double Participants, double Machine, double Ours, double Load)
{
    public double Others => Math.Max(0, Machine - Ours);

    /// <summary>Janus (the server's child <c>janus</c>) over the window; null when it was not running, or restarted.</summary>
    public JanusUse? Janus { get; init; }

    public double SessionsTotal => Sessions.Values.Sum(s => s.Total);
}

/// <summary>Janus over a window: its CPU (all its threads) in shares of one core, and its VmRSS sampled once a second.</summary>
public sealed record JanusUse(int Pid, double Cpu, double RssMeanMb, double RssPeakMb, double RssLastMb);

/// <summary>Measures the CPU of the sessions of some recordings over a window (none: only the context, and Janus): the processes are found again once a
/// second (a renderer that starts in the window counts from its start), and every process's first and last tick
/// counts are kept (one that ends in the window keeps what it used until its last sample).</summary>
public sealed class SessionMeter
{
    private readonly Server _server;
    private readonly IReadOnlyList<string> _recordings;
    private readonly bool _native;
    private readonly Dictionary<(int Pid, long Start), (string Recording, string Part, long First, long Last)> _seen = [];
    private readonly Stopwatch _clock = new();
    private readonly Dictionary<string, long> _captureRssKb = [];
    private readonly Dictionary<string, long> _sessionRssKb = [];
    private readonly Dictionary<string, long> _sessionPssKb = [];
    private (long Busy, long Total) _machine0;
    private ProcStat? _server0;
    private ProcStat? _pulse0;
    private ProcStat? _pulseLast;
    private ProcStat? _serverLast;
    private TickSnapshot? _participants0;
    private TickSnapshot? _ours0;
    private ProcStat? _janus0;
    private ProcStat? _janusLast;
    private readonly List<long> _janusRssKb = [];

    /// <param name="native">The recordings are native composites (<see cref="SessionProcesses.Native"/>): their
    /// session is the compositor host alone, without a share of PulseAudio (which they do not use).</param>
    public SessionMeter(Server server, IReadOnlyList<string> recordings, bool native = false)
    {
        _server = server;
        _recordings = recordings;
        _native = native;
    }

    /// <summary>Recordings whose session processes were not all found (a name for each missing part).</summary>
    public List<string> Missing { get; } = [];

    public void Start()
    {
        _clock.Restart();
        _machine0 = Proc.MachineTicks();
        var all = Proc.All();
        _server0 = all.FirstOrDefault(p => p.Pid == _server.Pid);
        _pulse0 = all.FirstOrDefault(p => p.ParentPid == _server.Pid && p.Comm == "pulseaudio");
        _janus0 = Janus(all);
        _participants0 = TickSnapshot.Of(Browsers.Processes(all, _server.Pid));
        _ours0 = TickSnapshot.Of(Ours(all));
        Sample(all, first: true);
    }

    public void Sample() => Sample(Proc.All(), first: false);

    private void Sample(List<ProcStat> all, bool first)
    {
        foreach (var id in _recordings)
        {
            var s = SessionProcesses.Find(all, _server.Pid, id, _native);
            if (first && !s.Complete)
            {
                Missing.Add($"{id[..8]}: {(s.Capture.Count == 0 ? "capture " : "")}{(s.Xvfb.Count == 0 && !_native ? "Xvfb " : "")}{(s.Chromium.Count == 0 && !_native ? "Chromium" : "")}".Trim());
            }
            // The capture queues raw frames when its encoder falls behind: its memory shows it. The whole session's
            // memory is the capture, Xvfb, the Chromium tree and this recording's share of PulseAudio.
            var captureRss = s.Capture.Sum(p => Proc.RssKb(p.Pid) ?? 0);
            _captureRssKb[id] = Math.Max(_captureRssKb.GetValueOrDefault(id), captureRss);
            var pulse = _native ? default : all.FirstOrDefault(p => p.ParentPid == _server.Pid && p.Comm == "pulseaudio");
            var share = Math.Max(1, _recordings.Count);
            var rss = s.All.Sum(p => Proc.RssKb(p.Pid) ?? 0) + (pulse is { Pid: > 0 } ? (Proc.RssKb(pulse.Pid) ?? 0) / share : 0);
            var pss = s.All.Sum(p => Proc.PssKb(p.Pid) ?? 0) + (pulse is { Pid: > 0 } ? (Proc.PssKb(pulse.Pid) ?? 0) / share : 0);
            _sessionRssKb[id] = Math.Max(_sessionRssKb.GetValueOrDefault(id), rss);
            _sessionPssKb[id] = Math.Max(_sessionPssKb.GetValueOrDefault(id), pss);
            foreach (var (part, list) in new[] { ("capture", s.Capture), ("Xvfb", s.Xvfb), ("Chromium", s.Chromium) })
            {
                foreach (var p in list)
                {
                    var key = (p.Pid, p.StartTime);
                    _seen[key] = _seen.TryGetValue(key, out var v) ? v with { Last = p.Ticks } : (id, part, first ? p.Ticks : 0, p.Ticks);
                }
            }
        }
        _serverLast = all.FirstOrDefault(p => p.Pid == _server.Pid) is { Pid: > 0 } sv ? sv : _serverLast;
        _pulseLast = all.FirstOrDefault(p => p.ParentPid == _server.Pid && p.Comm == "pulseaudio") is { Pid: > 0 } pa ? pa : _pulseLast;
        if (Janus(all) is { } janus && Proc.RssKb(janus.Pid) is { } janusRss)
        {
            _janusLast = janus;
            _janusRssKb.Add(janusRss);
        }
    }

    /// <summary>The server's Janus: its child process <c>janus</c> (JanusSupervisor starts it).</summary>
    private ProcStat? Janus(List<ProcStat> all) => all.FirstOrDefault(p => p.ParentPid == _server.Pid && p.Comm == "janus") is { Pid: > 0 } j ? j : null;

    /// <summary>A last sample, then the shares of one core per recording (PulseAudio split evenly between them).</summary>
    public WindowCpu Stop()
    {
        var all = Proc.All();
        Sample(all, first: false);
        var machine1 = Proc.MachineTicks();
        var participants1 = TickSnapshot.Of(Browsers.Processes(all, _server.Pid));
        var ours1 = TickSnapshot.Of(Ours(all));
        var seconds = _clock.Elapsed.TotalSeconds;
        double Share(long ticks) => ticks / (Proc.TicksPerSecond * seconds);
        var pulse = _pulse0 is { } p0 && _pulseLast is { } p1 && p0.Pid == p1.Pid && p0.StartTime == p1.StartTime ? Share(p1.Ticks - p0.Ticks) : 0;
        var server = _server0 is { } s0 && _serverLast is { } s1 ? Share(s1.Ticks - s0.Ticks) : 0;
        var sessions = new Dictionary<string, SessionCpu>();
        foreach (var id in _recordings)
        {
            double Part(string part) => Share(_seen.Values.Where(v => v.Recording == id && v.Part == part).Sum(v => v.Last - v.First));
            sessions[id] = new SessionCpu(Part("capture"), Part("Xvfb"), Part("Chromium"), _native ? 0 : pulse / Math.Max(1, _recordings.Count),
                _seen.Count(kv => kv.Value.Recording == id && kv.Value.Part == "Chromium"), _captureRssKb.GetValueOrDefault(id) / 1024.0,
                _sessionRssKb.GetValueOrDefault(id) / 1024.0, _sessionPssKb.GetValueOrDefault(id) / 1024.0);
        }
        var machineTotal = machine1.Total - _machine0.Total;
        var machine = machineTotal > 0 ? Environment.ProcessorCount * (double)(machine1.Busy - _machine0.Busy) / machineTotal : double.NaN;
        var janus = _janus0 is { } j0 && _janusLast is { } j1 && j0.Pid == j1.Pid && j0.StartTime == j1.StartTime && _janusRssKb.Count > 0
            ? new JanusUse(j0.Pid, Share(j1.Ticks - j0.Ticks), _janusRssKb.Average() / 1024.0, _janusRssKb.Max() / 1024.0, _janusRssKb[^1] / 1024.0)
            : null;
        return new WindowCpu(seconds, sessions, server, pulse, Share(participants1.Since(_participants0!)), machine, Share(ours1.Since(_ours0!)), Proc.LoadAverage()) { Janus = janus };
    }

    /// <summary>This benchmark and everything it started: the server (Janus, the recorder's processes), the
    /// participants' browser and its Playwright driver.</summary>
    private static List<ProcStat> Ours(List<ProcStat> all) =>
        [.. all.Where(p => p.Pid == Environment.ProcessId), .. Proc.Descendants(all, Environment.ProcessId)];

    /// <summary>Measures for <paramref name="seconds"/>, sampling once a second.</summary>
    public async Task<WindowCpu> RunAsync(double seconds, CancellationToken ct)
    {
        Start();
        using (var timer = new PeriodicTimer(TimeSpan.FromSeconds(1)))
        {
            while (_clock.Elapsed.TotalSeconds < seconds - 1 && await timer.WaitForNextTickAsync(ct))
            {
                Sample();
            }
        }
        var remaining = seconds - _clock.Elapsed.TotalSeconds;
        if (remaining > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(remaining), ct);
        }
        return Stop();
    }
}
