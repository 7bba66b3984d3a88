namespace Capstan.Cli;

/// <summary>What the CLI reads from and writes to: the process's console and environment, or (in tests)
/// writers and a dictionary.</summary>
public sealed class CliEnvironment
{
    /// <summary>Standard output.</summary>
    public required TextWriter Out { get; init; }

    /// <summary>Standard error.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Reads an environment variable.</summary>
    public required Func<string, string?> GetVariable { get; init; }

    /// <summary>Standard output is a terminal: live status and progress bars redraw in place, with colour.</summary>
    public bool OutIsTerminal { get; init; }

    /// <summary>Standard error is a terminal.</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>The folder relative paths are resolved against.</summary>
    public string WorkingDirectory { get; init; } = Environment.CurrentDirectory;

    /// <summary>An HTTP client to use instead of a new one (tests count requests with it).</summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>The real console and environment.</summary>
    public static CliEnvironment FromProcess() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        GetVariable = Environment.GetEnvironmentVariable,
        OutIsTerminal = !Console.IsOutputRedirected,
        ErrorIsTerminal = !Console.IsErrorRedirected,
    };
}
