using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Capstan.Server.Hosting;

/// <summary>Where <c>./capstan install</c> puts things: the self-contained build in <c>{Prefix}/lib</c>, the data
/// folder <c>{Prefix}/data</c>, the settings in <see cref="EnvironmentFile"/> and the units in <see cref="UnitsDir"/>.</summary>
public sealed record InstallLayout(string Prefix, string User, string UnitsDir, string EnvironmentFile)
{
    public string Executable => Path.Combine(Prefix, "lib", "Capstan.Server");

    public string DataDir => Path.Combine(Prefix, "data");

    public static InstallLayout Default => new("/opt/capstan", "capstan", "/etc/systemd/system", "/etc/capstan/capstan.env");

    /// <summary>Refuses what would make a broken or unsafe unit: relative paths, spaces or quotes in paths (systemd
    /// would split them), a user name systemd rejects, root.</summary>
    public void Validate()
    {
        foreach (var (name, path) in new[] { ("--prefix", Prefix), ("--units-dir", UnitsDir), ("--env-file", EnvironmentFile) })
        {
            if (!Path.IsPathRooted(path) || path.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or '%' or '$'))
            {
                throw new ArgumentException($"{name} must be an absolute path without spaces, quotes, '\\', '%' or '$', got '{path}'");
            }
        }
        if (User.Length is 0 or > 31 || !(char.IsAsciiLetterLower(User[0]) || User[0] == '_') || !User.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-'))
        {
            throw new ArgumentException($"--user must be a system user name (a-z, 0-9, '_', '-', starting with a letter or '_'), got '{User}'");
        }
        if (User == "root")
        {
            throw new ArgumentException("--user root is refused: Capstan runs its browsers and encoders as an unprivileged user");
        }
    }
}

/// <summary>The systemd units for <c>capstan serve</c> and <c>capstan worker</c> and the settings file they read.
/// Choices: <c>KillMode=mixed</c>: a stop sends SIGTERM to Capstan alone, which drains its recorder
/// (<see cref="Recorder.RecorderDrain"/>: its recordings go on, with their browsers, captures and Janus, then are
/// handed over); once Capstan has exited, or at the timeout, every process left in the cgroup gets SIGKILL, so no
/// Xvfb, PulseAudio, Chromium, capture or Janus outlives the service (with <c>control-group</c> the SIGTERM went to
/// every process at once, which ended the recordings the drain is there to keep);
/// <c>Restart=on-failure</c> with a 5 s pause; <c>TimeoutStopSec=12min</c>: the default <c>Recorder:DrainTimeout</c>
/// (10 min) and the host's margin (1 min), with a minute to spare (raise it with the drain);
/// <c>EnvironmentFile</c> holding every setting in its environment form (<c>Section__Key</c>), readable by root and
/// the service's group only (it holds secrets).</summary>
public static class SystemdUnits
{
    public const string ServeUnit = "capstan-serve.service";
    public const string WorkerUnit = "capstan-worker.service";

    public static string Serve(InstallLayout layout) => Unit(layout,
        "Capstan: RealtimeKit-compatible recording server (API, meeting pages, Janus, webhooks, built-in recorder)",
        "serve", after: "network-online.target postgresql.service");

    public static string Worker(InstallLayout layout) => Unit(layout,
        "Capstan: recorder worker (claims recording jobs from the shared PostgreSQL database)",
        "worker", after: "network-online.target");

    private static string Unit(InstallLayout l, string description, string command, string after)
    {
        ArgumentNullException.ThrowIfNull(l);
        l.Validate();
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"""
            # Written by ./capstan install. Settings: {l.EnvironmentFile} (see the README, "Production").
            [Unit]
            Description={description}
            After={after}
            Wants=network-online.target

            [Service]
            Type=exec
            User={l.User}
            Group={l.User}
            EnvironmentFile={l.EnvironmentFile}
            Environment=Capstan__DataDir={l.DataDir}
            WorkingDirectory={l.DataDir}
            ExecStart={l.Executable} {command}
            Restart=on-failure
            RestartSec=5s
            # SIGTERM to Capstan alone: it drains its recorder (Recorder__DrainTimeout, 10 min by default), then exits;
            # whatever is left in the cgroup then gets SIGKILL: no capture process outlives the service.
            KillMode=mixed
            KillSignal=SIGTERM
            # Recorder__DrainTimeout + 2 min: raise both together.
            TimeoutStopSec=12min
            LimitNOFILE=65536
            PrivateTmp=true
            ProtectSystem=full
            ProtectHome=true

            [Install]
            WantedBy=multi-user.target

            """);
        return b.ToString().ReplaceLineEndings("\n");
    }

    /// <summary>The settings file written once (an existing one is kept): the single-node defaults, a fresh metrics
    /// token and encryption key, and the multi-node settings commented out.</summary>
    public static string EnvironmentFile(InstallLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var metricsToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        return $"""
            # Capstan settings for {ServeUnit} and {WorkerUnit} (environment form: Section__Key). See the README, "Production".
            # Secrets live here: keep this file root:{layout.User} 0640.
            Capstan__ListenAddress=127.0.0.1
            Capstan__Port=8080
            # The URL clients and download links use (behind a TLS proxy: https://capstan.example.com).
            #Capstan__PublicBaseUrl=https://capstan.example.com
            # The same key on every node (secrets at rest, download signatures).
            Capstan__EncryptionKey={key}
            # Multi-node: every node shares one PostgreSQL database.
            #Capstan__Database=Host=db.internal;Database=capstan;Username=capstan;Password=change-me
            # Prometheus: scrape /metrics with Authorization: Bearer <token>, or set a port for /metrics alone.
            Metrics__Token={metricsToken}
            #Metrics__Port=9464
            #Metrics__ListenAddress=10.0.0.5
            Logging__Format=json
            # Traces over OTLP (grpc by default; OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf for port 4318).
            #OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector.internal:4317
            # Recorder: slots per node; on an API-only node Recorder__Enabled=false.
            Recorder__Slots=2
            #Recorder__Enabled=false
            # Worker nodes ({WorkerUnit}): the server the recorder page is loaded from.
            #Recorder__ServerUrl=http://capstan-api.internal:8080
            # With external Janus instances instead of the supervised one:
            #Janus__Urls__0=http://janus1.internal:8088/janus
            #Janus__AdminKey=change-me
            #Janus__EventsPassword=change-me
            # Of those, the ones on this machine (its track recorder takes only their rooms' track recordings):
            #Janus__LocalUrls__0=http://janus1.internal:8088/janus
            # Draining on stop (systemctl stop sends SIGTERM): how long running recordings may go on before they are handed over.
            #Recorder__DrainTimeout=00:10:00
            # Shipping segments while recording when the default bucket is not S3: a folder every recorder node mounts.
            #Recorder__SpoolStore=/mnt/capstan-spool
            # The default bucket on S3 when there is more than one node:
            #Storage__DefaultBucket__S3__Endpoint=https://s3.example.com
            #Storage__DefaultBucket__S3__Bucket=capstan-recordings
            #Storage__DefaultBucket__S3__AccessKey=change-me
            #Storage__DefaultBucket__S3__Secret=change-me

            """.ReplaceLineEndings("\n");
    }

    /// <summary>Writes both units and, when absent, the settings file; returns the paths written.</summary>
    public static IReadOnlyList<string> Write(InstallLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        layout.Validate();
        Directory.CreateDirectory(layout.UnitsDir);
        var written = new List<string>();
        foreach (var (name, text) in new[] { (ServeUnit, Serve(layout)), (WorkerUnit, Worker(layout)) })
        {
            var path = Path.Combine(layout.UnitsDir, name);
            File.WriteAllText(path, text);
            written.Add(path);
        }
        if (!File.Exists(layout.EnvironmentFile))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(layout.EnvironmentFile)!);
            File.WriteAllText(layout.EnvironmentFile, EnvironmentFile(layout));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(layout.EnvironmentFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            }
            written.Add(layout.EnvironmentFile);
        }
        return written;
    }
}
