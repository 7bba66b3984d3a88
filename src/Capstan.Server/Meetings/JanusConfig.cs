using System.Globalization;
using System.Text;

namespace Capstan.Server.Meetings;

/// <summary>Settings of one generated Janus configuration.</summary>
public sealed record JanusConfigSpec(
    string ConfigFolder,
    string LibFolder,
    int HttpPort,
    int AdminPort,
    string AdminSecret,
    string VideoRoomAdminKey,
    string EventsUrl,
    string EventsPassword,
    string? Interface,
    string? PublicIp,
    string RtpPortRange,
    string? TurnRestApi = null,
    string? TurnRestApiKey = null);

/// <summary>Writes the configuration of a private Janus: transports on loopback only (HTTP API and admin API),
/// no WebSockets, only the VideoRoom plugin, no demo rooms, room creation locked by an admin key, a random admin
/// secret, the HTTP event handler posting VideoRoom events to the server, and protected folders that do not
/// include the data folder; with TURN (<c>Turn:Urls</c>, <c>Turn:Janus</c>) Janus asks the server's TURN REST API
/// for a time-limited credential of each connection (<c>turn_rest_api</c>) and gathers relay candidates through it.
/// Pure: the files are returned as text.</summary>
public static class JanusConfig
{
    private static readonly string[] DisabledPlugins =
    [
        "libjanus_streaming.so", "libjanus_sip.so", "libjanus_nosip.so", "libjanus_lua.so", "libjanus_duktape.so", "libjanus_voicemail.so",
        "libjanus_recordplay.so", "libjanus_audiobridge.so", "libjanus_echotest.so", "libjanus_videocall.so", "libjanus_textroom.so",
    ];

    private static readonly string[] DisabledTransports = ["libjanus_mqtt.so", "libjanus_rabbitmq.so", "libjanus_nanomsg.so", "libjanus_pfunix.so", "libjanus_websockets.so"];

    private static readonly string[] DisabledEventHandlers = ["libjanus_gelfevh.so", "libjanus_mqttevh.so", "libjanus_nanomsgevh.so", "libjanus_rabbitmqevh.so", "libjanus_wsevh.so"];

    public static IReadOnlyDictionary<string, string> Files(JanusConfigSpec s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var nat = new StringBuilder();
        nat.AppendLine("\tnice_debug = false");
        nat.AppendLine("\tice_ignore_list = \"vmnet\"");
        if (!string.IsNullOrWhiteSpace(s.Interface))
        {
            nat.AppendLine(CultureInfo.InvariantCulture, $"\tice_enforce_list = {Quote(s.Interface)}");
        }
        if (!string.IsNullOrWhiteSpace(s.PublicIp))
        {
            nat.AppendLine(CultureInfo.InvariantCulture, $"\tnat_1_1_mapping = {Quote(s.PublicIp)}");
        }
        if (!string.IsNullOrWhiteSpace(s.TurnRestApi))
        {
            // Janus 1.1's TURN REST API client: GET ?service=turn&username=<opaque id>&key=<key> per connection.
            nat.AppendLine(CultureInfo.InvariantCulture, $"\tturn_rest_api = {Quote(s.TurnRestApi)}");
            nat.AppendLine(CultureInfo.InvariantCulture, $"\tturn_rest_api_key = {Quote(s.TurnRestApiKey ?? string.Empty)}");
            nat.AppendLine("\tturn_rest_api_method = \"GET\"");
            nat.AppendLine("\tturn_rest_api_timeout = 2");
        }
        var janus = $$"""
            general: {
            	configs_folder = {{Quote(s.ConfigFolder)}}
            	plugins_folder = {{Quote(s.LibFolder + "/plugins")}}
            	transports_folder = {{Quote(s.LibFolder + "/transports")}}
            	events_folder = {{Quote(s.LibFolder + "/events")}}
            	loggers_folder = {{Quote(s.LibFolder + "/loggers")}}
            	debug_level = 4
            	admin_secret = {{Quote(s.AdminSecret)}}
            	session_timeout = 60
            	protected_folders = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr"]
            }
            certificates: {
            }
            media: {
            	rtp_port_range = {{Quote(s.RtpPortRange)}}
            }
            nat: {
            {{nat.ToString().TrimEnd()}}
            }
            plugins: {
            	disable = {{Quote(string.Join(',', DisabledPlugins))}}
            }
            transports: {
            	disable = {{Quote(string.Join(',', DisabledTransports))}}
            }
            loggers: {
            	disable = "libjanus_jsonlog.so"
            }
            events: {
            	broadcast = true
            	stats_period = 0
            	disable = {{Quote(string.Join(',', DisabledEventHandlers))}}
            }
            """;
        var http = $$"""
            general: {
            	json = "compact"
            	base_path = "/janus"
            	http = true
            	port = {{s.HttpPort.ToString(CultureInfo.InvariantCulture)}}
            	ip = "127.0.0.1"
            	https = false
            }
            admin: {
            	admin_base_path = "/admin"
            	admin_http = true
            	admin_port = {{s.AdminPort.ToString(CultureInfo.InvariantCulture)}}
            	admin_ip = "127.0.0.1"
            	admin_https = false
            }
            cors: {
            }
            """;
        var videoroom = $$"""
            general: {
            	admin_key = {{Quote(s.VideoRoomAdminKey)}}
            	lock_rtp_forward = true
            }
            """;
        var events = $$"""
            general: {
            	enabled = true
            	events = "plugins"
            	grouping = true
            	json = "compact"
            	backend = {{Quote(s.EventsUrl)}}
            	backend_user = "janus"
            	backend_pwd = {{Quote(s.EventsPassword)}}
            	max_retransmissions = 10
            	retransmissions_backoff = 100
            }
            """;
        return new Dictionary<string, string>
        {
            ["janus.jcfg"] = janus + "\n",
            ["janus.transport.http.jcfg"] = http + "\n",
            ["janus.plugin.videoroom.jcfg"] = videoroom + "\n",
            ["janus.eventhandler.sampleevh.jcfg"] = events + "\n",
        };
    }

    /// <summary>The folder of Janus's plugins, transports and event handlers (multiarch path on Debian).</summary>
    public static string FindLibFolder()
    {
        foreach (var dir in Directory.Exists("/usr/lib") ? Directory.GetDirectories("/usr/lib") : [])
        {
            var candidate = Path.Combine(dir, "janus");
            if (Directory.Exists(Path.Combine(candidate, "plugins")))
            {
                return candidate;
            }
        }
        return Directory.Exists("/usr/lib/janus/plugins") ? "/usr/lib/janus" : "/usr/lib/x86_64-linux-gnu/janus";
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
