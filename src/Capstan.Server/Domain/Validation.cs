using System.Text.RegularExpressions;

namespace Capstan.Server.Domain;

/// <summary>Collects field errors and throws one 400 whose message lists each offending field.</summary>
public sealed partial class Validation
{
    private readonly List<string> _errors = [];

    public bool HasErrors => _errors.Count > 0;

    public void Add(string message) => _errors.Add(message);

    public void Required(object? value, string field)
    {
        if (value is null || (value is string s && string.IsNullOrWhiteSpace(s)))
        {
            _errors.Add($"{field} is required");
        }
    }

    public void Range(long? value, long min, long max, string field)
    {
        if (value is { } v && (v < min || v > max))
        {
            _errors.Add($"{field} must be between {min} and {max}, got {v}");
        }
    }

    public void OneOf(string? value, IReadOnlyCollection<string> allowed, string field)
    {
        if (value is not null && !allowed.Contains(value))
        {
            _errors.Add($"{field} must be one of {string.Join(", ", allowed.Select(a => $"'{a}'"))}, got '{Ids.Trim(value)}'");
        }
    }

    public void MaxLength(string? value, int max, string field)
    {
        if (value is not null && value.Length > max)
        {
            _errors.Add($"{field} must be at most {max} characters");
        }
    }

    /// <summary>An absolute URL with one of the given schemes.</summary>
    public void Url(string? value, string field, params string[] schemes)
    {
        if (value is null)
        {
            return;
        }
        if (value.Length > 2048 || !Uri.TryCreate(value, UriKind.Absolute, out var uri) || !schemes.Contains(uri.Scheme, StringComparer.OrdinalIgnoreCase))
        {
            _errors.Add($"{field} must be an absolute {string.Join(" or ", schemes)} URL, got '{Ids.Trim(value)}'");
        }
    }

    public void FileNamePrefix(string? value, string field)
    {
        if (value is not null && !PrefixPattern().IsMatch(value))
        {
            _errors.Add($"{field} must match ^[A-Za-z0-9_]{{1,64}}$, got '{Ids.Trim(value)}'");
        }
    }

    public void ThrowIfAny()
    {
        if (_errors.Count > 0)
        {
            throw CapstanException.Invalid(string.Join("; ", _errors));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixPattern();
}
