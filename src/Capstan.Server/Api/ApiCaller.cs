using Capstan.Server.Domain;

namespace Capstan.Server.Api;

/// <summary>Who is calling: the account of the API token and, on app routes, the app (already checked to
/// belong to that account). Set by <see cref="ApiAuthMiddleware"/>; bound into handlers as a parameter.</summary>
public sealed record ApiCaller(string AccountId, Guid AppId)
{
    internal const string ItemKey = "capstan.caller";

    public static ValueTask<ApiCaller?> BindAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var caller = context.Items[ItemKey] as ApiCaller
            ?? throw new CapstanException(ErrorCategory.Unauthorized, "unauthorized", "authentication required");
        return ValueTask.FromResult<ApiCaller?>(caller);
    }
}

/// <summary>Endpoint metadata: the route needs an API token of the account in its path.</summary>
public sealed class RequiresAccountAttribute : Attribute;

/// <summary>Endpoint metadata: the route is the operator's (deployment-wide, no account): it needs
/// <c>Capstan:OperatorToken</c> (<see cref="Security.OperatorToken"/>).</summary>
public sealed class RequiresOperatorAttribute : Attribute;
