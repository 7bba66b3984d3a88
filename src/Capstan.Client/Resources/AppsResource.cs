using Capstan.Client.Models;

namespace Capstan.Client.Resources;

/// <summary><c>/accounts/{account_id}/realtime/kit/apps</c>.</summary>
public sealed class AppsResource
{
    private readonly ApiTransport _t;

    internal AppsResource(ApiTransport transport) => _t = transport;

    /// <summary>One page of the account's apps (<c>apps.get</c>).</summary>
    public Task<Page<App>> GetAsync(AppListOptions? options = null, CancellationToken cancellationToken = default) =>
        PageAsync(options ?? new(), null, cancellationToken);

    /// <summary>Every app, page after page.</summary>
    public IAsyncEnumerable<App> GetAutoPagingAsync(AppListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => PageAsync(o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>Creates an app (<c>apps.post</c>).</summary>
    public async Task<App> PostAsync(CreateAppOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return (await _t.DataAsync<Created>(HttpMethod.Post, _t.KitPath("apps"), options, null, cancellationToken).ConfigureAwait(false)).App;
    }

    private Task<Page<App>> PageAsync(AppListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<App>(_t.KitPath("apps"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0, null, ct);

    private sealed record Created(App App);
}
