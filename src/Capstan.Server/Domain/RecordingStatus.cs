namespace Capstan.Server.Domain;

/// <summary>Recording states and the allowed transitions, in one place:
/// INVOKED -> RECORDING &lt;-> PAUSED -> UPLOADING -> UPLOADED; anything before UPLOADED may go to ERRORED.</summary>
public static class RecordingStatus
{
    public const string Invoked = "INVOKED";
    public const string Recording = "RECORDING";
    public const string Paused = "PAUSED";
    public const string Uploading = "UPLOADING";
    public const string Uploaded = "UPLOADED";
    public const string Errored = "ERRORED";

    public static readonly IReadOnlyList<string> All = [Invoked, Recording, Uploading, Uploaded, Errored, Paused];

    public static readonly IReadOnlyList<string> ActiveStates = [Invoked, Recording, Paused];

    /// <summary>decisions.md: active means INVOKED, RECORDING or PAUSED; UPLOADING is not active.</summary>
    public static bool IsActive(string status) => status is Invoked or Recording or Paused;

    public static bool CanTransition(string from, string to) => (from, to) switch
    {
        (Invoked, Recording) => true,
        (Recording, Paused) => true,
        (Paused, Recording) => true,
        (Recording or Paused, Uploading) => true,
        (Uploading, Uploaded) => true,
        (Invoked or Recording or Paused or Uploading, Errored) => true,
        _ => false,
    };

    /// <summary>Throws the 400 of decisions.md when <paramref name="to"/> is not reachable from <paramref name="from"/>.</summary>
    public static void EnsureTransition(string from, string to, string action)
    {
        if (!CanTransition(from, to))
        {
            throw CapstanException.Invalid($"cannot {action} a recording whose status is {from}");
        }
    }
}

public static class RecordingActions
{
    public const string Stop = "stop";
    public const string Pause = "pause";
    public const string Resume = "resume";

    public static readonly IReadOnlyList<string> All = [Stop, Pause, Resume];
}

public static class StopReasons
{
    public const string ApiCall = "API_CALL";
    public const string InternalError = "INTERNAL_ERROR";
    public const string AllPeersLeft = "ALL_PEERS_LEFT";
}

public static class JobStates
{
    public const string Queued = "QUEUED";
    public const string Claimed = "CLAIMED";
    public const string Done = "DONE";
    public const string Cancelled = "CANCELLED";

    public const string DesiredRecord = "RECORD";
    public const string DesiredPause = "PAUSE";
    public const string DesiredStop = "STOP";
}

public static class RecordingTypes
{
    public const string Composite = "COMPOSITE";
    public const string Track = "TRACK";
}
