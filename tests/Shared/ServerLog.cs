using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Capstan.Testing;

/// <summary>The lines a server hosted in the test process logs (added to its <see cref="ILoggerFactory"/>), each with
/// the recording id of its scope, as <see cref="ClusterProcess"/> keeps a node's: a failure message can then carry
/// what the worker said about the recording (its segments' frames, clock and stop), which a test's own figures
/// cannot tell.</summary>
public sealed partial class ServerLog : ILoggerProvider, ISupportExternalScope
{
    private const int MaxLines = 20_000;
    private readonly ConcurrentQueue<ClusterLogLine> _lines = new();
    private IExternalScopeProvider? _scopes;

    /// <summary>Adds a new one to <paramref name="factory"/>.</summary>
    public static ServerLog AddTo(ILoggerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var log = new ServerLog();
        factory.AddProvider(log);
        return log;
    }

    /// <summary>The lines logged in the recording's scope, in order.</summary>
    public IEnumerable<ClusterLogLine> LinesOf(string recordingId) =>
        _lines.Where(l => string.Equals(l.RecordingId, recordingId, StringComparison.OrdinalIgnoreCase));

    /// <summary>The recording's lines, one per line with their time: for a failure message.</summary>
    public string Describe(string recordingId) =>
        string.Join('\n', LinesOf(recordingId).Select(l => $"{l.At:HH:mm:ss.fff} {l.Level} {l.Message}"));

    /// <summary>How far the recording's capture clocks fell behind the wall clock, in seconds, summed over its
    /// segments: each "Segment" line gives the span from its first grab line to its last before the stop, on the
    /// capture's clock and as the lines reached the server. The browser capture runs on PulseAudio's clock, which a starved machine
    /// slows (a clean-clone CI run: 6.508 s on it for 6.926 s, 81 of 99 frames grabbed); the file then holds that
    /// much less than its span.</summary>
    public double CaptureClockLagSeconds(string recordingId) =>
        LinesOf(recordingId).Select(l => SegmentLine().Match(l.Message)).Where(m => m.Success)
            .Sum(m => Math.Max(0, double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) - double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));

    [System.Text.RegularExpressions.GeneratedRegex(@"^Segment \S+: [0-9.]+ s \(([0-9.]+) s on its clock in ([0-9.]+) s here")]
    private static partial System.Text.RegularExpressions.Regex SegmentLine();

    /// <summary>How long the recording's browser captures ran before their first grab, in seconds, summed over its
    /// segments ("PLAYING +N ms, first frame +M ms after launch" in each "Segment" line). The capture's
    /// <c>videorate</c> fills that time with copies of the first frame and its sound is kept, so the file holds it
    /// beyond the recorded time (README, Known limits: a CI run's gst-launch capture, its first grab 474 ms after
    /// PLAYING, gave a file 0.43 s longer than recorded).</summary>
    public double CaptureLeadSeconds(string recordingId) =>
        LinesOf(recordingId).Select(l => LeadLine().Match(l.Message)).Where(m => m.Success)
            .Sum(m => Math.Max(0, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) - Math.Max(0, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))) / 1000.0);

    // A warm capture host is PLAYING before it is given the segment: "PLAYING +-1 ms".
    [System.Text.RegularExpressions.GeneratedRegex(@"^Segment .*PLAYING \+(-?[0-9]+) ms, first frame \+(-?[0-9]+) ms after launch")]
    private static partial System.Text.RegularExpressions.Regex LeadLine();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private void Add(ClusterLogLine line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > MaxLines && _lines.TryDequeue(out _))
        {
        }
    }

    private string? RecordingIdOfScope()
    {
        string? id = null;
        _scopes?.ForEachScope((scope, _) =>
        {
            if (scope is IEnumerable<KeyValuePair<string, object>> pairs)
            {
                foreach (var (k, v) in pairs)
                {
                    if (k == "RecordingId")
                    {
                        id = v?.ToString();
                    }
                }
            }
        }, (object?)null);
        return id;
    }

    private sealed class Logger(ServerLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || !category.StartsWith("Capstan", StringComparison.Ordinal))
            {
                return;
            }
            ArgumentNullException.ThrowIfNull(formatter);
            var message = formatter(state, exception);
            owner.Add(new ClusterLogLine(DateTime.UtcNow, logLevel.ToString(), category, message, owner.RecordingIdOfScope(), message));
        }
    }
}
