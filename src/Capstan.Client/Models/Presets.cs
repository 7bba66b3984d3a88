using System.Text.Json;

namespace Capstan.Client.Models;

/// <summary>A preset (list item).</summary>
public sealed class Preset : ApiObject
{
    /// <summary>Preset id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>Name, e.g. <c>group_call_host</c>.</summary>
    public string? Name { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A preset with its configuration, permissions and UI settings.</summary>
public sealed class PresetDetails : ApiObject
{
    /// <summary>Preset id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>Name.</summary>
    public string? Name { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary><c>config</c> (view type, media settings), as sent.</summary>
    public JsonElement Config { get; init; }

    /// <summary><c>permissions</c> (e.g. <c>can_record</c>, <c>hidden_participant</c>), as sent.</summary>
    public JsonElement Permissions { get; init; }

    /// <summary><c>ui</c>, as sent.</summary>
    public JsonElement Ui { get; init; }
}

/// <summary>Options of <c>Presets.GetAsync</c>.</summary>
public sealed class PresetListOptions : ListOptions
{
    /// <summary>Match on the name.</summary>
    public string? Search { get; set; }

    internal override Query AddFilters(Query query) => query.Add("search", Search);
}
