using System.Globalization;
using Capstan.Server.Domain;

namespace Capstan.Server.Api;

/// <summary>Reads query parameters with errors that name the parameter (400), instead of binding failures.</summary>
public sealed class QueryReader(IQueryCollection query)
{
    public string? String(string name, int maxLength = 256)
    {
        var values = query[name];
        if (values.Count == 0)
        {
            return null;
        }
        var v = values[^1];
        if (v is not null && v.Length > maxLength)
        {
            throw CapstanException.Invalid($"{name} must be at most {maxLength} characters");
        }
        return string.IsNullOrEmpty(v) ? null : v;
    }

    public int? Int(string name, int min, int max)
    {
        var s = String(name, 32);
        if (s is null)
        {
            return null;
        }
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
        {
            throw CapstanException.Invalid($"{name} must be an integer, got '{Ids.Trim(s)}'");
        }
        if (v < min || v > max)
        {
            throw CapstanException.Invalid($"{name} must be between {min} and {max}, got {v}");
        }
        return v;
    }

    public bool? Bool(string name)
    {
        var s = String(name, 16);
        return s switch
        {
            null => null,
            "true" or "True" or "1" => true,
            "false" or "False" or "0" => false,
            _ => throw CapstanException.Invalid($"{name} must be true or false, got '{Ids.Trim(s)}'"),
        };
    }

    public DateTime? Time(string name)
    {
        var s = String(name, 64);
        if (s is null)
        {
            return null;
        }
        if (!DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
        {
            throw CapstanException.Invalid($"{name} must be an ISO-8601 date-time, got '{Ids.Trim(s)}'");
        }
        return DateTime.SpecifyKind(t, DateTimeKind.Utc);
    }

    public string? OneOf(string name, IReadOnlyCollection<string> allowed)
    {
        var s = String(name, 64);
        if (s is not null && !allowed.Contains(s))
        {
            throw CapstanException.Invalid($"{name} must be one of {string.Join(", ", allowed.Select(a => $"'{a}'"))}, got '{Ids.Trim(s)}'");
        }
        return s;
    }

    /// <summary>Repeated keys (<c>status=A&amp;status=B</c>) and comma lists (<c>status=A,B</c>) alike.</summary>
    public IReadOnlyList<string> List(string name, IReadOnlyCollection<string> allowed)
    {
        var result = new List<string>();
        foreach (var raw in query[name])
        {
            foreach (var part in (raw ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!allowed.Contains(part))
                {
                    throw CapstanException.Invalid($"{name} must be among {string.Join(", ", allowed.Select(a => $"'{a}'"))}, got '{Ids.Trim(part)}'");
                }
                result.Add(part);
            }
        }
        return result;
    }

    public Guid? Uuid(string name)
    {
        var s = String(name, 64);
        return s is null ? null : Ids.Parse(s, name);
    }

    public PageRequest Page()
    {
        // RealtimeKit clients send page_no=0 now and then (Dyte-v2 allowed min 0): read it as the first page.
        var pageNo = Math.Max(1, Int("page_no", 0, 1_000_000) ?? 1);
        var perPage = Int("per_page", 0, PageRequest.MaxPerPage) ?? PageRequest.DefaultPerPage;
        return new PageRequest(pageNo, perPage == 0 ? PageRequest.DefaultPerPage : perPage);
    }
}
