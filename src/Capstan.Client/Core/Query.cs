using System.Globalization;
using System.Text;

namespace Capstan.Client;

/// <summary>Builds a query string the way the official SDK does: omitted values are not sent, booleans as
/// <c>true</c>/<c>false</c>, lists as repeated keys, dates as ISO-8601 UTC.</summary>
internal sealed class Query
{
    private readonly StringBuilder _sb = new();

    public Query Add(string name, string? value)
    {
        if (value is null)
        {
            return this;
        }
        _sb.Append(_sb.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        return this;
    }

    public Query Add(string name, int? value) => Add(name, value?.ToString(CultureInfo.InvariantCulture));

    public Query Add(string name, bool? value) => Add(name, value is null ? null : value.Value ? "true" : "false");

    public Query Add(string name, DateTimeOffset? value) =>
        Add(name, value?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));

    public Query Add(string name, IEnumerable<string>? values)
    {
        foreach (var v in values ?? [])
        {
            Add(name, v);
        }
        return this;
    }

    public override string ToString() => _sb.ToString();
}
