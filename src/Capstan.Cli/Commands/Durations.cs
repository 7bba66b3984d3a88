using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Capstan.Cli.Commands;

/// <summary>Durations on the command line: <c>500ms</c>, <c>30s</c>, <c>10m</c>, <c>2h</c>, or <c>hh:mm:ss</c>.</summary>
internal static class Durations
{
    public static Option<TimeSpan?> Option(string name, string description, TimeSpan? defaultValue = null)
    {
        var o = new Option<TimeSpan?>(name)
        {
            Description = description,
            CustomParser = Parse,
        };
        if (defaultValue is { } d)
        {
            o.DefaultValueFactory = _ => d;
        }
        return o;
    }

    private static TimeSpan? Parse(ArgumentResult result)
    {
        var s = result.Tokens.Count > 0 ? result.Tokens[0].Value.Trim() : string.Empty;
        (string Suffix, double Ms)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, ms) in units)
        {
            if (s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0)
            {
                return TimeSpan.FromMilliseconds(v * ms);
            }
        }
        if (TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero)
        {
            return t;
        }
        result.AddError($"{result.Argument.Name}: '{s}' is not a duration (e.g. 500ms, 30s, 10m, 1h)");
        return null;
    }
}
