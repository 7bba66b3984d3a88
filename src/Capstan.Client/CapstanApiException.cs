using System.Net;

namespace Capstan.Client;

/// <summary>The server answered with an error status. Carries what RealtimeKit's error envelope
/// (<c>{"success": false, "error": {"code", "message"}}</c>) said, and the body as received.</summary>
public sealed class CapstanApiException : Exception
{
    /// <summary>Creates the exception for a failed response.</summary>
    public CapstanApiException(HttpStatusCode statusCode, int? errorCode, string errorMessage, string rawBody, string? requestMethod = null, Uri? requestUri = null)
        : base($"{(int)statusCode} {errorMessage}")
    {
        StatusCode = statusCode;
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
        RawBody = rawBody;
        RequestMethod = requestMethod;
        RequestUri = requestUri;
    }

    /// <summary>The HTTP status of the response.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary><c>error.code</c> of the envelope (RealtimeKit puts the HTTP status there); null when the body
    /// was not the error envelope.</summary>
    public int? ErrorCode { get; }

    /// <summary><c>error.message</c> of the envelope, which names the offending field; else the body text or the
    /// status's reason phrase.</summary>
    public string ErrorMessage { get; }

    /// <summary>The response body exactly as received (may be empty).</summary>
    public string RawBody { get; }

    /// <summary>The method of the failed request.</summary>
    public string? RequestMethod { get; }

    /// <summary>The URL of the failed request.</summary>
    public Uri? RequestUri { get; }
}
