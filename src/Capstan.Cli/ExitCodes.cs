namespace Capstan.Cli;

/// <summary>What the process's exit code says (documented in README.md, "CLI").</summary>
public static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>A bug: an unexpected exception.</summary>
    public const int Internal = 1;

    /// <summary>Bad command line, or URL/token/account/app not given.</summary>
    public const int Usage = 2;

    /// <summary>401/403: the token is missing, wrong or of another account.</summary>
    public const int Auth = 3;

    /// <summary>404: no such meeting, recording, ...</summary>
    public const int NotFound = 4;

    /// <summary>400/409/413/422: the server refused the request (validation, state, conflict).</summary>
    public const int Refused = 5;

    /// <summary>5xx, an unreachable server, or a download that did not match its checksum.</summary>
    public const int Server = 6;

    /// <summary>The recording ended ERRORED (wait, download).</summary>
    public const int RecordingErrored = 7;

    /// <summary><c>--timeout</c> passed before the recording finished.</summary>
    public const int Timeout = 8;

    /// <summary>Interrupted (Ctrl+C, SIGTERM).</summary>
    public const int Interrupted = 130;
}
