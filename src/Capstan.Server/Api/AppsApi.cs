using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Capstan.Server.Api;

public static class AppsApi
{
    public static RouteGroupBuilder MapAppsApi(this RouteGroupBuilder account)
    {
        ArgumentNullException.ThrowIfNull(account);
        var g = account.MapGroup("/apps").WithTags("Apps");
        g.MapGet("", ListApps).WithName("apps.get").WithQuery(OpenApiDocs.PageNo, OpenApiDocs.PerPage, new("search", "string", "Match on the app name"), OpenApiDocs.SortOrder);
        g.MapPost("", CreateApp).WithName("apps.post").Produces<Envelope<CreateAppResponse>>(StatusCodes.Status201Created);
        return account;
    }

    private static async Task<Ok<PagedEnvelope<List<AppDto>>>> ListApps(ApiCaller caller, HttpRequest request, AccountService accounts, CancellationToken ct)
    {
        var q = new QueryReader(request.Query);
        var page = q.Page();
        var ascending = q.OneOf("sort_order", ["ASC", "DESC"]) == "ASC";
        var (items, total) = await accounts.ListAppsAsync(caller.AccountId, q.String("search"), ascending, page, ct);
        return Envelopes.Page(items.Select(a => a.ToDto()).ToList(), page.PagingFor(total, items.Count));
    }

    private static async Task<JsonHttpResult<Envelope<CreateAppResponse>>> CreateApp(ApiCaller caller, CreateAppRequest? body, AccountService accounts, CancellationToken ct)
    {
        var app = await accounts.CreateAppAsync(caller.AccountId, body?.Name, null, ct);
        return Envelopes.Created(new CreateAppResponse(app.ToDto()));
    }
}
