using Microsoft.Extensions.Options;

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

    /// <summary>Of <see cref="Urls"/>, the instances beside this node: those whose recordings folder
    /// (<see cref="RecordingsDir"/>) this node reads, because Janus writes a room's track files to its own disk. This
    /// node's track recorder claims only track recordings whose meeting's room is on one of them. Empty: all of
    /// <see cref="Urls"/> (one Janus, or instances writing to one shared folder). The supervised Janus is always
    /// this node's own.</summary>
    public List<string> LocalUrls { get; set; } = [];

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

/// <summary>Refuses a <see cref="JanusOptions.LocalUrls"/> entry that is not one of <see cref="JanusOptions.Urls"/>
/// (compared without a trailing slash), so a typo cannot leave every track recording queued.</summary>
public sealed class JanusOptionsValidator : IValidateOptions<JanusOptions>
{
    public ValidateOptionsResult Validate(string? name, JanusOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var urls = options.Urls.Select(JanusPlacement.Key).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < options.LocalUrls.Count; i++)
        {
            if (!urls.Contains(JanusPlacement.Key(options.LocalUrls[i])))
            {
                errors.Add($"Janus:LocalUrls:{i} must be one of Janus:Urls, got '{options.LocalUrls[i]}'");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The Janus instances this node's track recorder records beside: <see cref="JanusOptions.LocalUrls"/>
    /// when set, else every instance this node uses now (its supervised Janus while it is up, or all of
    /// <see cref="JanusOptions.Urls"/>).</summary>
    public static IReadOnlyCollection<string> BesideUrls(JanusOptions options, IReadOnlyList<JanusInstance> instances)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(instances);
        return options.Urls.Count > 0 && options.LocalUrls.Count > 0
            ? [.. options.LocalUrls]
            : [.. instances.Select(i => i.Client.BaseUrl.ToString())];
    }
}
