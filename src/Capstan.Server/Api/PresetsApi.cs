using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

/// <summary>The built-in presets. Custom presets are not supported: creating, changing or deleting one
/// answers 405 in the error envelope (the routes do not exist).</summary>
public static class PresetsApi
{
    public static RouteGroupBuilder MapPresetsApi(this RouteGroupBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var g = app.MapGroup("/presets").WithTags("Presets");
        g.MapGet("", List).WithName("presets.get").WithQuery(OpenApiDocs.PageNo, OpenApiDocs.PerPage, new("search", "string", "Match on the preset name"));
        g.MapGet("/{preset_id}", Get).WithName("presets.getPresetByID");
        return app;
    }

    private static Ok<PagedEnvelope<List<PresetDto>>> List(ApiCaller caller, HttpRequest request)
    {
        var q = new QueryReader(request.Query);
        var page = q.Page();
        var search = q.String("search");
        var all = Presets.Names.Where(n => search is null || n.Contains(search, StringComparison.OrdinalIgnoreCase)).ToList();
        var items = all.Skip(page.Skip).Take(page.PerPage).Select(n => new PresetDto(Ids.Format(Presets.IdOf(caller.AppId, n)), n, Presets.CreatedAt, Presets.CreatedAt)).ToList();
        return Envelopes.Page(items, page.PagingFor(all.Count, items.Count));
    }

    private static Ok<Envelope<PresetDetailsDto>> Get(ApiCaller caller, string preset_id)
    {
        var id = Ids.Parse(preset_id, "preset_id");
        var name = Presets.NameOf(caller.AppId, id) ?? throw CapstanException.NotFound($"No preset found with id {id}");
        return Envelopes.Ok(new PresetDetailsDto
        {
            Id = Ids.Format(id), Name = name, CreatedAt = Presets.CreatedAt, UpdatedAt = Presets.CreatedAt,
            Config = Presets.Config(name), Permissions = Presets.Permissions(name), Ui = Presets.Ui(),
        });
    }
}
