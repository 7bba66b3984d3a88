using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Contracts;

/// <summary>The JSON settings of the RealtimeKit wire format: snake_case names, nulls written, ISO dates.</summary>
public static class CapstanJson
{
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Applies the wire settings to an existing options object (used for ASP.NET Core's HTTP JSON options).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.PropertyNameCaseInsensitive = false;
        options.NumberHandling = JsonNumberHandling.Strict;
        // Optional fields are left out when unset (SDK 7.3.0 types them "optional, not nullable"); the fields the
        // contract types as nullable carry [JsonIgnore(Condition = Never)] and are written as null.
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        options.AllowTrailingCommas = false;
        options.ReadCommentHandling = JsonCommentHandling.Disallow;
        options.MaxDepth = 32;
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        options.Converters.Add(new MillisecondDateTimeConverter());
        return options;
    }
}

/// <summary>Writes timestamps as ISO-8601 UTC with milliseconds (<c>2025-08-24T14:15:22.117Z</c>), as RealtimeKit
/// does, so a value reads the same from every database (PostgreSQL keeps microseconds, SQLite ticks).</summary>
public sealed class MillisecondDateTimeConverter : JsonConverter<DateTime>
{
    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTime().ToUniversalTime();

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var utc = value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value;
        writer.WriteStringValue(utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }
}
