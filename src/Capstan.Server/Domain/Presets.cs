using System.Security.Cryptography;
using System.Text;

namespace Capstan.Server.Domain;

/// <summary>The three presets every app has. They are built in (not stored); each has a stable UUID per app,
/// derived from the app id and the preset name (a name-based UUID, version 5 layout).</summary>
public static class Presets
{
    public const string Host = "group_call_host";
    public const string Participant = "group_call_participant";
    public const string Recorder = "recorder_preset_v2";

    public static readonly IReadOnlyList<string> Names = [Host, Participant, Recorder];

    /// <summary>Built-in presets are dated at the Unix epoch: they exist as long as the app does.</summary>
    public static readonly DateTime CreatedAt = DateTime.UnixEpoch;

    public static bool Exists(string name) => Names.Contains(name);

    public static bool IsRecorder(string name) => name == Recorder;

    /// <summary><c>permissions.media.screenshare.can_produce</c> is <c>ALLOWED</c>: hosts and participants may share a
    /// screen, the recorder may not.</summary>
    public static bool CanShareScreen(string name) => Exists(name) && name != Recorder;

    /// <summary><c>config.max_screenshare_count</c>: how many screens may be shared in a meeting at once, as this
    /// preset sees it (a participant of this preset is refused a share while that many are shared).</summary>
    public static int MaxScreenshareCount(string name) => CanShareScreen(name) ? 1 : 0;

    public static Guid IdOf(Guid appId, string name)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"{appId:D}/preset/{name}"));
        var guid = bytes.AsSpan(0, 16).ToArray();
        guid[6] = (byte)((guid[6] & 0x0F) | 0x50);
        guid[8] = (byte)((guid[8] & 0x3F) | 0x80);
        return new Guid(guid, bigEndian: true);
    }

    public static string? NameOf(Guid appId, Guid presetId) => Names.FirstOrDefault(n => IdOf(appId, n) == presetId);

    public static object Config(string name) => new
    {
        view_type = "GROUP_CALL",
        max_screenshare_count = MaxScreenshareCount(name),
        max_video_streams = new { desktop = 9, mobile = 6 },
        media = new
        {
            video = new { quality = "vga", frame_rate = 30 },
            screenshare = new { quality = "hd", frame_rate = 5 },
            audio = new { enable_high_bitrate = false, enable_stereo = false },
        },
    };

    public static object Permissions(string name)
    {
        var canProduce = name == Recorder ? "NOT_ALLOWED" : "ALLOWED";
        return new
        {
            can_record = name == Host,
            recorder_type = name == Recorder ? "RECORDER" : "NONE",
            is_recorder = name == Recorder,
            hidden_participant = name == Recorder,
            can_livestream = name == Host,
            kick_participant = name == Host,
            waiting_room_type = "SKIP",
            media = new
            {
                video = new { can_produce = canProduce },
                audio = new { can_produce = canProduce },
                screenshare = new { can_produce = CanShareScreen(name) ? "ALLOWED" : "NOT_ALLOWED" },
            },
            chat = new { @public = new { can_send = name != Recorder, text = true, files = true } },
        };
    }

    public static object Ui() => new { design_tokens = new { theme = "dark", colors = new { brand = new { @default = "#2160fd" } } } };
}
