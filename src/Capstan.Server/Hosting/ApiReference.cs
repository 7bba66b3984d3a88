namespace Capstan.Server.Hosting;

/// <summary>The readable API reference at <c>/docs</c>: a self-contained page (no CDN) that renders
/// <c>/openapi/v1.json</c>.</summary>
internal static class ApiReference
{
    public static void MapApiReference(this WebApplication app)
    {
        var page = Path.Combine(AppContext.BaseDirectory, "wwwroot", "docs.html");
        app.MapGet("/docs", () => Results.File(page, "text/html; charset=utf-8")).ExcludeFromDescription();
    }
}
