namespace Capstan.Server.Domain;

public static class Ids
{
    /// <summary>Parses a UUID given by a client, or throws a 400 that names the field.</summary>
    public static Guid Parse(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw CapstanException.Invalid($"{field} is required");
        }
        if (!Guid.TryParseExact(value, "D", out var id))
        {
            throw CapstanException.Invalid($"{field} must be a UUID, got '{Trim(value)}'");
        }
        return id;
    }

    public static string Format(Guid id) => id.ToString("D");

    /// <summary>Shortens client input before it is echoed in an error message.</summary>
    public static string Trim(string value) => value.Length <= 64 ? value : value[..64] + "...";
}
