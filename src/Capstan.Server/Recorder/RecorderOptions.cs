namespace Capstan.Server.Recorder;

/// <summary>Recorder worker settings, section <c>Recorder</c>.</summary>
public sealed class RecorderOptions
{
    public const string Section = "Recorder";

    public const string BrowserCompositor = "browser";

    public const string NativeCompositor = "native";

    /// <summary>How the built-in layout is composited: <c>native</c> (Janus RTP forwarders into one GStreamer
    /// compositor per segment, <see cref="NativeComposite"/>; refused at start when GStreamer or a plugin it uses is
    /// missing, <see cref="NativeCompositorSupport"/>) or <c>browser</c> (Xvfb, Chromium on the recorder view, the
    /// display grabbed). A custom <c>url</c> always uses the browser. Unset, it is chosen at start
    /// (<see cref="DefaultCompositor"/>): native where it can run, else the browser.
    /// <para>Decision (2026-12-06, second session): native is the default where it can run. Its files pass every
    /// composite check and it costs less (bench/recorder). What kept it opt-in, a native segment now and then without
    /// its audio track (about 1 in 160 hosts), is now handled at each of its stages: the host builds its pipeline
    /// again when a mixer puts out nothing as it starts, where the fault was seen
    /// (<see cref="Gst.Compositor.CompositorHost.FirstOutputBound"/>); a mixer that stalls later ends its segment as a
    /// lost capture (<see cref="Gst.Compositor.CompositorHost.Stalled"/>); and the join leaves a one-track segment out
    /// (<see cref="CompositeCapture.Joinable"/>), a gap rather than a file without sound.</para></summary>
    public string? Compositor { get; set; }

    /// <summary>The compositor of the built-in layout when <see cref="Compositor"/> is not set: <c>native</c> where it can
    /// run, else <c>browser</c>. Native runs in <c>capstan serve</c> with its recorder on, beside the Janus it
    /// supervises (Janus forwards the participants' RTP to this machine's loopback), with SQLite (one machine, so no
    /// recorder elsewhere claims the recording) and GStreamer with the compositor's plugins installed
    /// (<paramref name="missing"/> empty). A stand-alone <c>capstan worker</c>, external Janus instances
    /// (<c>Janus:Urls</c>, which may be on other machines) and PostgreSQL (several nodes, any of which may claim the
    /// recording) keep the browser unless <c>Recorder:Compositor=native</c> says otherwise.</summary>
    public static string DefaultCompositor(bool standaloneWorker, bool recorderEnabled, Data.DatabaseProvider database, Meetings.JanusOptions janus, Func<IReadOnlyList<string>> missing)
    {
        ArgumentNullException.ThrowIfNull(janus);
        ArgumentNullException.ThrowIfNull(missing);
        return !standaloneWorker && recorderEnabled && database == Data.DatabaseProvider.Sqlite && janus.Enabled && janus.Urls.Count == 0 && missing().Count == 0
            ? NativeCompositor
            : BrowserCompositor;
    }

    /// <summary>The native compositor's host (<c>capstan-compositor-host</c>, <see cref="Gst.Compositor.CompositorHost"/>,
    /// compiled ahead of time); by default the one built beside the server (<see cref="NativeComposite.DefaultHostPath"/>).
    /// The browser path's capture host is always the server's own executable (<c>capture-host</c>).</summary>
    public string? CompositorHost { get; set; }

    /// <summary>Each warm slot holds its capture ready (<see cref="Recorder.WarmCapture"/>: GStreamer loaded, waiting for
    /// the recording's pipeline), so the first frame follows the start by tens of milliseconds; off: every capture
    /// is a <c>gst-launch-1.0</c> started when it is needed. On by default (2026-12-06): bench/recorder, quiet
    /// machine, 720p30 with 2 participants, start p50 156 ms and p95 289 ms with it, 0.87 s p50 without.
    /// The start transient that kept it off before (a file whose first frame lay 0.32 s before its published
    /// <c>started_time</c>: the clock's origin, refined over the frames after the publication, moved earlier) is
    /// now put right when the file is made (<c>CompositeCapture.RefineStartedTimeAsync</c>).</summary>
    public bool WarmCapture { get; set; } = true;

    /// <summary>How many warm browser surfaces (display, sound sink, Chromium, capture host) the worker keeps ready:
    /// one per slot when the built-in layout is composited in the browser; one with the native compositor, whose
    /// recordings need none (it is there for a custom <c>url</c> recording's quick start; more launch on demand).
    /// Measured by bench/recorder: an idle warm surface holds about 200 MiB.</summary>
    public int WarmSurfaces => Compositor == NativeCompositor ? Math.Min(1, Slots) : Slots;

    /// <summary>Host the worker inside <c>capstan serve</c> (the single-machine default).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Recordings this worker runs at once at most; each slot keeps a warm display, sink and browser. Within
    /// it, a job is claimed only when its measured cost fits (<see cref="CostMeter"/>).</summary>
    public int Slots { get; set; } = 2;

    /// <summary>The share of the machine's cores (<see cref="Environment.ProcessorCount"/>, or the cgroup's
    /// <c>cpu.max</c> quota) the recordings may use by their measured cost (<see cref="CostMeter"/>); more than 0, at
    /// most 1; default 0.8, leaving room for the server, Janus and the file joins.</summary>
    public double CpuHeadroom { get; set; } = 0.8;

    /// <summary>The share of the memory (MemAvailable plus what the running recordings hold, at most MemTotal) the
    /// recordings may use by their measured cost; more than 0, at most 1; default 0.8.</summary>
    public double MemoryHeadroom { get; set; } = 0.8;

    /// <summary>Claim a job only when its measured cost fits (<see cref="CostMeter"/>); default true. False: the slots
    /// alone (the recordings are still measured and reported): for a benchmark that loads a node past its capacity on
    /// purpose (bench/recorder's concurrency levels).</summary>
    public bool AdmitByCost { get; set; } = true;

    /// <summary>How often the running recordings' processes are measured (<see cref="CostMeter"/>); default 3 s.</summary>
    public TimeSpan CostSampleInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>The Capstan server the recorder page is loaded from; default: this server's own address.</summary>
    public string? ServerUrl { get; set; }

    /// <summary>Work folder for segments and logs; default <c>{DataDir}/recorder</c> (under <c>/var/tmp</c> when the
    /// recorder's user cannot reach the data folder: <see cref="RecorderWorker.WorkDirFor"/>).</summary>
    public string? WorkDir { get; set; }

    public int FrameRate { get; set; } = 30;

    /// <summary>An operator's calibration: how much later the sound is put in the delivered file (seconds, may be
    /// negative), on top of <see cref="MediaArgs.SoundShiftSeconds"/>. Default 0: the media tests measure the result
    /// from the delivered files with no calibration.</summary>
    public double AudioOffsetSeconds { get; set; }

    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a worker told to stop (SIGTERM) lets its running recordings go on before it hands them over
    /// (<see cref="RecorderDrain"/>): it claims nothing new from the first moment; a recording that ends within this
    /// time is delivered here; one still running then has its segments closed (as on stop) and its job released at
    /// once for another worker, its status untouched. Default 10 min; 0 hands over at once; at most 24 h. The host's
    /// shutdown timeout is raised to this plus <see cref="DrainMargin"/>, so the host does not cut the drain short.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>What the host's shutdown allows beyond <see cref="DrainTimeout"/>: closing the segments (at most 5 s
    /// each), the browsers and displays, releasing the jobs, then the rest of the host.</summary>
    public static readonly TimeSpan DrainMargin = TimeSpan.FromSeconds(60);

    /// <summary>The longest <see cref="DrainTimeout"/> accepted.</summary>
    public static readonly TimeSpan MaxDrainTimeout = TimeSpan.FromHours(24);

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long to wait for the recorder page to report ready before the capture starts anyway. Default 0:
    /// the capture starts as the page is opened, so the file begins at the start (the page's first moments, while
    /// it joins the meeting, included) and <c>started_time</c> is not held back by the page.</summary>
    public TimeSpan ReadyTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>Runs the recorder's browser behind the worker's filtering proxy (<see cref="OutboundProxy"/>), so a
    /// custom <c>url</c> page reaches only what the outbound policy allows. Default true.</summary>
    public bool BrowserProxy { get; set; } = true;

    /// <summary>The proxy's address once the worker started it (set by the worker, not a setting).</summary>
    public string? BrowserProxyServer { get; internal set; }

    /// <summary>The target length of an interactive recording's HLS segments in seconds (default 10, the contract's;
    /// 2 to 60). Segments are cut on keyframes (every 2 s), so each is at most this plus 0.45 s.</summary>
    public double HlsSegmentSeconds { get; set; } = 10;

    /// <summary>How often (seconds) the bytes a capture segment gained are shipped to shared storage as its next
    /// piece (<see cref="SegmentShipping"/>): a node lost mid-recording loses at most this much of it. 1 to 60,
    /// default 10.</summary>
    public double ShipSeconds { get; set; } = 10;

    /// <summary>A folder every recorder node mounts (NFS, a shared disk) where capture segments are shipped while
    /// they are recorded, so that a node that takes a job over from a lost one continues the same recording. Used
    /// when the default bucket is not an S3 bucket (that one is used first); unset with no S3 default bucket: nothing
    /// is shipped (the segments stay on the node that captures them). An absolute path; it must exist where the
    /// recorder runs.</summary>
    public string? SpoolStore { get; set; }

    /// <summary>Capture restarts (a died ffmpeg or Chromium) before the recording is finished with what it has.</summary>
    public int MaxCaptureRestarts { get; set; } = 3;

    /// <summary>The user the display, sound server, browser and capture run as (<see cref="RecorderUser"/>), with
    /// Chromium's own sandbox on. Unset: <c>capstan-recorder</c> (a system user created at start when missing) when
    /// Capstan runs as root, else Capstan's own user. Root cannot be set.</summary>
    public string? RunAsUser { get; set; }

    /// <summary>util-linux <c>setpriv</c>: starts each of those processes as <see cref="RunAsUser"/> when Capstan runs as root.</summary>
    public string Setpriv { get; set; } = "/usr/bin/setpriv";

    public string Chromium { get; set; } = "/usr/bin/chromium";

    public string Xvfb { get; set; } = "/usr/bin/Xvfb";

    public string Ffmpeg { get; set; } = "/usr/bin/ffmpeg";

    /// <summary>GStreamer's launcher (package gstreamer1.0-tools): runs each capture segment.</summary>
    public string GstLaunch { get; set; } = "/usr/bin/gst-launch-1.0";

    public string Ffprobe { get; set; } = "/usr/bin/ffprobe";

    /// <summary>Janus's recording post-processor (package janus-tools): turns track recordings into media files.</summary>
    public string JanusPpRec { get; set; } = "/usr/bin/janus-pp-rec";

    public string PulseAudio { get; set; } = "/usr/bin/pulseaudio";

    public string Pactl { get; set; } = "/usr/bin/pactl";

    /// <summary>Largest screen a warm display offers; recordings use its top-left corner.</summary>
    public int MaxWidth { get; set; } = 1920;

    public int MaxHeight { get; set; } = 1920;
}

/// <summary>What the native compositor needs on this machine: libgstreamer and the GStreamer plugins its pipeline
/// uses (base: compositor, audiomixer, videoconvertscale, opus, vorbis...; good: rtp, rtpmanager, udp, vpx, matroska,
/// lame, gdkpixbuf, videocrop, debug (capssetter); bad: mpegtsmux; ugly: x264; libav), looked for by file in GStreamer's system plugin folders, and
/// the compositor's host, built with the server (<see cref="NativeComposite.DefaultHostPath"/>).</summary>
public static class NativeCompositorSupport
{
    private static readonly string[] Plugins =
        [
            "compositor", "audiomixer", "videoconvertscale", "audioconvert", "audioresample", "videotestsrc", "audiotestsrc", "rtp", "rtpmanager", "udp",
            "vpx", "opus", "vorbis", "x264", "lame", "libav", "matroska", "mpegtsmux", "pango", "gdkpixbuf", "videocrop", "debug",
        ];

    /// <summary>The missing pieces (empty: the native compositor can run here); <paramref name="compositorHost"/>: the
    /// host set by <c>Recorder:CompositorHost</c>, if any.</summary>
    public static IReadOnlyList<string> Missing(string? compositorHost = null)
    {
        var host = compositorHost ?? NativeComposite.DefaultHostPath();
        if (!File.Exists(host))
        {
            return [$"the compositor host {host} (built with the server by dotnet build, which needs clang)"];
        }
        if (!System.Runtime.InteropServices.NativeLibrary.TryLoad("libgstreamer-1.0.so.0", out var handle))
        {
            return ["libgstreamer-1.0"];
        }
        System.Runtime.InteropServices.NativeLibrary.Free(handle);
        var folders = (Environment.GetEnvironmentVariable("GST_PLUGIN_SYSTEM_PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(Directory.Exists("/usr/lib") ? Directory.GetDirectories("/usr/lib").Select(d => Path.Combine(d, "gstreamer-1.0")) : [])
            .Append("/usr/lib/gstreamer-1.0").Where(Directory.Exists).ToList();
        return Plugins.Where(p => !folders.Any(f => File.Exists(Path.Combine(f, "libgst" + p + ".so")))).Select(p => "the GStreamer plugin " + p).ToList();
    }
}

/// <summary>Refuses a recorder that would run its browser as root, or as another user without the right to switch.</summary>
public sealed class RecorderOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<RecorderOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, RecorderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Compositor is not (null or RecorderOptions.BrowserCompositor or RecorderOptions.NativeCompositor))
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:Compositor: '{options.Compositor}' must be 'browser' or 'native'");
        }
        if (options.Enabled && options.Compositor == RecorderOptions.NativeCompositor && NativeCompositorSupport.Missing(options.CompositorHost) is { Count: > 0 } missing)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                $"Recorder:Compositor: native needs {string.Join(", ", missing)} (scripts/deps.sh runtime installs them)");
        }
        if (options.CpuHeadroom is not (> 0 and <= 1))
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:CpuHeadroom: {options.CpuHeadroom} must be more than 0 and at most 1 (a share of the cores)");
        }
        if (options.MemoryHeadroom is not (> 0 and <= 1))
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:MemoryHeadroom: {options.MemoryHeadroom} must be more than 0 and at most 1 (a share of the memory)");
        }
        if (options.CostSampleInterval <= TimeSpan.Zero)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:CostSampleInterval: {options.CostSampleInterval} must be positive");
        }
        if (options.DrainTimeout < TimeSpan.Zero || options.DrainTimeout > RecorderOptions.MaxDrainTimeout)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                $"Recorder:DrainTimeout: {options.DrainTimeout} must be 00:00:00 (hand over at once) to {RecorderOptions.MaxDrainTimeout} (hh:mm:ss)");
        }
        if (options.HlsSegmentSeconds is < 2 or > 60)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:HlsSegmentSeconds: {options.HlsSegmentSeconds} must be 2 to 60 (seconds)");
        }
        if (double.IsNaN(options.ShipSeconds) || options.ShipSeconds is < 1 or > 60)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:ShipSeconds: {options.ShipSeconds} must be 1 to 60 (seconds)");
        }
        if (options.SpoolStore is { } spool)
        {
            if (spool.Trim().Length == 0 || !Path.IsPathFullyQualified(spool))
            {
                return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:SpoolStore: '{spool}' must be an absolute folder path (shared by the recorder nodes)");
            }
            if (options.Enabled && !Directory.Exists(spool))
            {
                return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:SpoolStore: the folder '{spool}' does not exist (is the shared storage mounted?)");
            }
        }
        if (!options.Enabled || string.IsNullOrEmpty(options.RunAsUser))
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Success;
        }
        if (options.RunAsUser is "root" or "0")
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                "Recorder:RunAsUser: root is refused; the recorder's browser runs unprivileged, with Chromium's sandbox on");
        }
        if (!RecorderUser.LooksLikeUserName(options.RunAsUser))
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail($"Recorder:RunAsUser: '{options.RunAsUser}' is not a user name");
        }
        if (Processes.ProcessUser.EffectiveUid != 0 && options.RunAsUser != Environment.UserName)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                $"Recorder:RunAsUser: running the recorder as '{options.RunAsUser}' needs Capstan to run as root (it runs as '{Environment.UserName}'); leave it unset to record as '{Environment.UserName}'");
        }
        return Microsoft.Extensions.Options.ValidateOptionsResult.Success;
    }
}

/// <summary>The default bucket, section <c>Storage:DefaultBucket</c>: files under a folder, served through
/// signed URLs that expire.</summary>
public sealed class DefaultBucketOptions
{
    public const string Section = "Storage:DefaultBucket";

    /// <summary>Default <c>{DataDir}/bucket</c>.</summary>
    public string? Path { get; set; }

    /// <summary>decisions.md: download URLs expire 7 days after upload.</summary>
    public TimeSpan UrlExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Files are deleted this long after upload (default: when their URLs expire).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Optional: keep the default bucket in an S3-compatible bucket instead of the data folder
    /// (<c>Storage:DefaultBucket:S3:Endpoint</c>, <c>:Bucket</c>, <c>:Region</c>, <c>:AccessKey</c>, <c>:Secret</c>,
    /// <c>:Path</c>); download URLs are then presigned by that service.</summary>
    public RemoteBucketOptions? S3 { get; set; }
}

public sealed class RemoteBucketOptions
{
    /// <summary>The service URL (for example <c>http://minio:9000</c>); empty means AWS itself (by region).</summary>
    public string? Endpoint { get; set; }

    public string? Bucket { get; set; }

    public string Region { get; set; } = "us-east-1";

    public string? AccessKey { get; set; }

    public string? Secret { get; set; }

    /// <summary>Key prefix inside the bucket.</summary>
    public string? Path { get; set; }
}
