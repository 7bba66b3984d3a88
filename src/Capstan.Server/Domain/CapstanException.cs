namespace Capstan.Server.Domain;

public enum ErrorCategory
{
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    Unavailable,
    Destination,
    Internal,
}

/// <summary>The one domain error type: a stable code, a category (which decides the HTTP status) and a
/// message that names what was wrong. Mapped to the error envelope by <c>Api.ErrorHandler</c>.</summary>
public sealed class CapstanException : Exception
{
    public CapstanException(ErrorCategory category, string code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Category = category;
        Code = code;
    }

    public CapstanException()
        : this(ErrorCategory.Internal, "internal", "internal error")
    {
    }

    public CapstanException(string message)
        : this(ErrorCategory.Internal, "internal", message)
    {
    }

    public CapstanException(string message, Exception innerException)
        : this(ErrorCategory.Internal, "internal", message, innerException)
    {
    }

    public ErrorCategory Category { get; }

    public string Code { get; }

    /// <summary>When true the response carries <c>x-should-retry: false</c> (the official SDK retries 409 otherwise).</summary>
    public bool NoRetry { get; init; }

    public int HttpStatus => Category switch
    {
        ErrorCategory.Validation => 400,
        ErrorCategory.Unauthorized => 401,
        ErrorCategory.Forbidden => 403,
        ErrorCategory.NotFound => 404,
        ErrorCategory.MethodNotAllowed => 405,
        ErrorCategory.Conflict => 409,
        ErrorCategory.PayloadTooLarge => 413,
        ErrorCategory.Unavailable => 503,
        ErrorCategory.Destination => 502,
        _ => 500,
    };

    public static CapstanException Invalid(string message) => new(ErrorCategory.Validation, "invalid_request", message);

    public static CapstanException NotFound(string message) => new(ErrorCategory.NotFound, "not_found", message);

    public static CapstanException Conflict(string message) => new(ErrorCategory.Conflict, "conflict", message) { NoRetry = true };
}
