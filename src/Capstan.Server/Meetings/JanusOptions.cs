namespace Capstan.Server.Meetings;

/// <summary>Janus settings, section <c>Janus</c>.</summary>
public sealed class JanusOptions
{
    public const string Section = "Janus";

    /// <summary>False runs the server without media (no Janus is started; joining a meeting answers 503).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>External Janus HTTP API URLs (for example <c>http://10.0.0.5:8088/janus</c>). When set, no local
    /// Janus is started and rooms are spread over these instances. Each must send its VideoRoom events to
    /// <c>/internal/janus-events</c> with <see cref="EventsPassword"/> and use <see cref="AdminKey"/>.</summary>
    public List<string> Urls { get; set; } = [];

    /// <summary>The VideoRoom admin key of external instances (the local one gets a random key).</summary>
    public string? AdminKey { get; set; }

    /// <summary>Basic-auth password external instances use for the event handler (user <c>janus</c>).</summary>
    public string? EventsPassword { get; set; }

    /// <summary>The network interface Janus gathers ICE candidates on (<c>ice_enforce_list</c>). Empty: every
    /// non-loopback interface. Janus never uses loopback for ICE.</summary>
    public string? Interface { get; set; }

    /// <summary>Public IP for <c>nat_1_1_mapping</c> when Janus is behind NAT.</summary>
    public string? PublicIp { get; set; }

    public string Binary { get; set; } = "/usr/bin/janus";

    /// <summary>Port of the local Janus HTTP API on 127.0.0.1; 0 picks a free one.</summary>
    public int HttpPort { get; set; }

    public string RtpPortRange { get; set; } = "20000-40000";

    /// <summary>Where Janus writes per-track recordings; default <c>{DataDir}/janus/recordings</c>.</summary>
    public string? RecordingsDir { get; set; }

    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
