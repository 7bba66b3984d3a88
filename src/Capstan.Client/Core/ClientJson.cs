using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Client;

/// <summary>The JSON settings of the wire format: snake_case names, unset options left out.</summary>
public static class ClientJson
{
    /// <summary>The options every request and response goes through. Use them to serialize SDK models back to
    /// the wire shape (e.g. to store or print them).</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
