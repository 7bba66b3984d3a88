using Capstan.Server.Domain;

namespace Capstan.Server.Hosting;

/// <summary>The dashboard at <c>/dashboard</c>: a static page (HTML, CSS, JavaScript from <c>wwwroot</c>, no CDN, no
/// build step) that signs in with an API token and uses the public API. A strict Content-Security-Policy keeps
/// scripts, styles and API calls on this origin; recordings may play from another origin (an S3 default bucket).</summary>
internal static class Dashboard
{
    private const string Policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
        "media-src 'self' http: https:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    public static void MapDashboard(this WebApplication app)
    {
        var web = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        app.MapGet("/dashboard", (HttpContext context) => Serve(context, Path.Combine(web, "dashboard.html"), "text/html; charset=utf-8"))
            .ExcludeFromDescription();
        app.MapGet("/dashboard/{file:regex(^[a-z-]+\\.(js|css)$)}", (HttpContext context, string file) =>
            Serve(context, Path.Combine(web, "dashboard", file), file.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8"))
            .ExcludeFromDescription();
    }

    private static IResult Serve(HttpContext context, string path, string contentType)
    {
        if (!File.Exists(path))
        {
            throw CapstanException.NotFound($"no such file: {Path.GetFileName(path)}");
        }
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = Policy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidate every load (ETag / Last-Modified), so an upgraded server never runs an old script.
        headers.CacheControl = "no-cache";
        return Results.File(path, contentType);
    }
}
