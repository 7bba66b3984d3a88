using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Client.Models;

/// <summary>Base of every response model: fields this SDK version does not know are kept in
/// <see cref="AdditionalProperties"/>, so nothing the server sent is lost when a model is serialized again.</summary>
public abstract class ApiObject
{
    /// <summary>Fields of the response without a property here.</summary>
    [JsonExtensionData]
    public IDictionary<string, JsonElement>? AdditionalProperties { get; set; }
}
