using System.Text.Json;
using System.Text.RegularExpressions;
using Capstan.Contracts;
using Capstan.Server.Domain;
using Microsoft.AspNetCore.Diagnostics;

namespace Capstan.Server.Api;

/// <summary>Maps every exception to the RealtimeKit error envelope. Domain errors keep their category;
/// request-reading errors (bad JSON, wrong types, oversized bodies) become 400/413 naming the field; anything
/// else is a 500 whose details stay in the log.</summary>
public sealed partial class ErrorHandler(ILogger<ErrorHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        var (status, message, noRetry) = Describe(exception);
        if (status >= 500)
        {
            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }
        if (httpContext.Response.HasStarted)
        {
            return false;
        }
        httpContext.Response.StatusCode = status;
        if (noRetry || httpContext.Request.Method != HttpMethods.Get)
        {
            // A 409 is final; a failed POST is not safely repeatable. The official SDK retries 409 and 5xx otherwise.
            httpContext.Response.Headers["x-should-retry"] = "false";
        }
        await httpContext.Response.WriteAsJsonAsync(new ErrorEnvelope(false, new ErrorBody(status, message)), CapstanJson.Options, cancellationToken);
        return true;
    }

    internal static (int Status, string Message, bool NoRetry) Describe(Exception exception) => exception switch
    {
        CapstanException ce => (ce.HttpStatus, ce.Message, ce.NoRetry),
        BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413PayloadTooLarge =>
            (413, "request body too large: the limit is 1 MiB", true),
        BadHttpRequestException { InnerException: JsonException json } => (400, DescribeJson(json), true),
        BadHttpRequestException bad => (bad.StatusCode is >= 400 and < 500 ? bad.StatusCode : 400, CleanBindingMessage(bad.Message), true),
        JsonException json => (400, DescribeJson(json), true),
        _ => (500, "internal error", true),
    };

    internal static string DescribeJson(JsonException json)
    {
        var path = json.Path is { Length: > 1 } p ? p.TrimStart('$').TrimStart('.') : null;
        var match = TargetType().Match(json.Message);
        if (path is not null && match.Success)
        {
            return $"{path} has the wrong type: expected {FriendlyType(match.Groups[1].Value)}";
        }
        if (path is not null)
        {
            return $"invalid JSON at {path}";
        }
        if (match.Success)
        {
            return "request body has the wrong type: expected a JSON object";
        }
        return "request body is not valid JSON" + (json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine})" : string.Empty);
    }

    private static string FriendlyType(string clrType)
    {
        var t = clrType.TrimEnd('.').Replace("System.Nullable`1[", string.Empty, StringComparison.Ordinal).TrimEnd(']');
        return t switch
        {
            "System.Int32" or "System.Int64" => "an integer",
            "System.Double" or "System.Decimal" => "a number",
            "System.Boolean" => "a boolean",
            "System.String" => "a string",
            "System.DateTime" => "an ISO-8601 date-time string",
            _ when t.Contains("IList", StringComparison.Ordinal) || t.Contains("List", StringComparison.Ordinal) => "an array",
            _ when t.Contains("Dictionary", StringComparison.Ordinal) => "an object",
            _ => "an object",
        };
    }

    private static string CleanBindingMessage(string message)
    {
        var m = BindFailure().Match(message);
        if (m.Success)
        {
            return $"{m.Groups[1].Value} has an invalid value '{m.Groups[2].Value}'";
        }
        if (message.Contains("no body was provided", StringComparison.Ordinal))
        {
            return "request body is required";
        }
        if (message.Contains("Content-Type", StringComparison.OrdinalIgnoreCase) || message.Contains("content type", StringComparison.OrdinalIgnoreCase)
            || message.Contains("media type", StringComparison.OrdinalIgnoreCase))
        {
            return "request body must be JSON (Content-Type: application/json)";
        }
        return message;
    }

    [GeneratedRegex(@"converted to ([\w\.`\[\]]+)")]
    private static partial Regex TargetType();

    [GeneratedRegex(@"Failed to bind parameter ""\S+ (\w+)"" from ""(.*)""")]
    private static partial Regex BindFailure();

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
