using System.Globalization;
using System.Threading.RateLimiting;
using Capstan.Contracts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Capstan.Server.Api;

/// <summary>One budget: <see cref="PermitLimit"/> requests per fixed <see cref="Window"/>.</summary>
public sealed class RateLimitBudget
{
    public int PermitLimit { get; set; }

    public TimeSpan Window { get; set; }
}

/// <summary>Rate limits, section <c>RateLimits</c>. Per account (the API token's), after authentication, so
/// unauthenticated requests cannot spend an account's budget. Recording routes (every path with
/// <c>/recordings</c>) have RealtimeKit's documented 1,000 requests per 50 s; every other account route shares a
/// second budget, by default 3,000 per 50 s (the contract names none; three times the recordings budget so that a
/// dashboard and scripts polling meetings stay well clear of it). Unauthenticated routes (pages, downloads,
/// <c>/healthz</c>, the well-known key) are not limited here.</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    public bool Enabled { get; set; } = true;

    public RateLimitBudget Recordings { get; set; } = new() { PermitLimit = 1000, Window = TimeSpan.FromSeconds(50) };

    public RateLimitBudget Api { get; set; } = new() { PermitLimit = 3000, Window = TimeSpan.FromSeconds(50) };
}

public sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        foreach (var (key, b) in new[] { ("Recordings", options.Recordings), ("Api", options.Api) })
        {
            if (b.PermitLimit < 1)
            {
                errors.Add($"RateLimits:{key}:PermitLimit must be at least 1, got {b.PermitLimit}");
            }
            if (b.Window <= TimeSpan.Zero)
            {
                errors.Add($"RateLimits:{key}:Window must be positive, got {b.Window}");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>ASP.NET Core's rate limiter with a fixed window per account and budget. A request past the budget gets
/// 429, <c>retry-after</c> (whole seconds until the window reopens) and the error envelope. The limiter's windows
/// run on the system clock (System.Threading.RateLimiting takes no TimeProvider).</summary>
public static class RateLimits
{
    public static IServiceCollection AddCapstanRateLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((o, limits) =>
        {
            var l = limits.Value;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (!l.Enabled || context.Items[ApiCaller.ItemKey] is not ApiCaller caller)
                {
                    return RateLimitPartition.GetNoLimiter(string.Empty);
                }
                var recordings = IsRecordingRoute(context);
                var budget = recordings ? l.Recordings : l.Api;
                return RateLimitPartition.GetFixedWindowLimiter((recordings ? "recordings:" : "api:") + caller.AccountId, _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = budget.PermitLimit,
                    Window = budget.Window,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.OnRejected = (rejected, ct) => RejectAsync(rejected, l, ct);
        });
        return services;
    }

    /// <summary>After <see cref="ApiAuthMiddleware"/>: the account is known.</summary>
    public static IApplicationBuilder UseCapstanRateLimits(this IApplicationBuilder app) => app.UseRateLimiter();

    private static bool IsRecordingRoute(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } pattern } && pattern.Contains("/recordings", StringComparison.Ordinal);

    private static async ValueTask RejectAsync(OnRejectedContext rejected, RateLimitOptions limits, CancellationToken ct)
    {
        var http = rejected.HttpContext;
        var budget = IsRecordingRoute(http) ? limits.Recordings : limits.Api;
        var kind = IsRecordingRoute(http) ? "recording routes" : "API routes";
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after)
            ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds))
            : Math.Max(1, (int)Math.Ceiling(budget.Window.TotalSeconds));
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var message = $"rate limit reached: {budget.PermitLimit} requests per {budget.Window.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s for the {kind} of this account; retry after {seconds} s";
        await http.Response.WriteAsJsonAsync(new ErrorEnvelope(false, new ErrorBody(429, message)), CapstanJson.Options, ct);
    }
}
