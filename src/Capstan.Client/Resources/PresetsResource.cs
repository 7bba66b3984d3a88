using Capstan.Client.Models;

namespace Capstan.Client.Resources;

/// <summary><c>.../{app_id}/presets</c>: the built-in presets (custom presets are not supported by Capstan).</summary>
public sealed class PresetsResource
{
    private readonly ApiTransport _t;

    internal PresetsResource(ApiTransport transport) => _t = transport;

    /// <summary>One page of presets (<c>presets.get</c>).</summary>
    public Task<Page<Preset>> GetAsync(string appId, PresetListOptions? options = null, CancellationToken cancellationToken = default) =>
        PageAsync(appId, options ?? new(), null, cancellationToken);

    /// <summary>Every preset, page after page.</summary>
    public IAsyncEnumerable<Preset> GetAutoPagingAsync(string appId, PresetListOptions? options = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new();
        return AutoPager.AllAsync((n, ct) => PageAsync(appId, o, n, ct), o.PageNo ?? 1, cancellationToken);
    }

    /// <summary>A preset with its configuration (<c>presets.getPresetByID</c>).</summary>
    public Task<PresetDetails> GetPresetByIdAsync(string appId, string presetId, CancellationToken cancellationToken = default) =>
        _t.DataAsync<PresetDetails>(HttpMethod.Get, _t.KitPath(appId, "presets", presetId), null, null, cancellationToken);

    private Task<Page<Preset>> PageAsync(string appId, PresetListOptions o, int? pageNo, CancellationToken ct) =>
        _t.PageAsync<Preset>(_t.KitPath(appId, "presets"), o.ToQuery(pageNo), pageNo ?? o.PageNo ?? 1, o.PerPage ?? 0, null, ct);
}
