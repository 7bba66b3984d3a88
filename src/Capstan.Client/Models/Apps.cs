namespace Capstan.Client.Models;

/// <summary>A RealtimeKit app: the container of meetings, recordings and webhooks.</summary>
public sealed class App : ApiObject
{
    /// <summary>App id (UUID).</summary>
    public required string Id { get; init; }

    /// <summary>Name.</summary>
    public string? Name { get; init; }

    /// <summary>Creation time.</summary>
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Options of <c>Apps.PostAsync</c>.</summary>
public sealed class CreateAppOptions
{
    /// <summary>Name of the new app (required).</summary>
    public required string Name { get; set; }
}

/// <summary>Options of <c>Apps.GetAsync</c>.</summary>
public sealed class AppListOptions : ListOptions
{
    /// <summary>Match on the app name.</summary>
    public string? Search { get; set; }

    /// <summary><c>ASC</c> or <c>DESC</c> by creation time.</summary>
    public string? SortOrder { get; set; }

    internal override Query AddFilters(Query query) => query.Add("search", Search).Add("sort_order", SortOrder);
}
