using Capstan.Contracts;
using Microsoft.AspNetCore.Diagnostics;

namespace Capstan.Server.Hosting;

/// <summary>Gives bodiless error responses (unknown route, wrong method) the RealtimeKit error envelope.</summary>
internal static class EmptyErrorBodies
{
    public static Task WriteAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var status = http.Response.StatusCode;
        var request = http.Request;
        var what = $"{request.Method} {request.PathBase}{request.Path}";
        var message = status switch
        {
            404 => $"no such route: {what}",
            405 => $"method not allowed: {what}",
            413 => "request body too large: the limit is 1 MiB",
            415 => "request body must be JSON (Content-Type: application/json)",
            _ => $"request failed with status {status}",
        };
        return http.Response.WriteAsJsonAsync(new ErrorEnvelope(false, new ErrorBody(status, message)), CapstanJson.Options, http.RequestAborted);
    }
}
