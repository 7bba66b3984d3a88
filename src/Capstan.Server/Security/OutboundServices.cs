using Microsoft.Extensions.Options;

namespace Capstan.Server.Security;

public static class OutboundServices
{
    /// <summary>The HttpClient for fetches made for a caller (watermarks): every connection, redirects included,
    /// goes through <see cref="OutboundPolicy.ConnectAsync"/>.</summary>
    public const string Client = "outbound";

    /// <summary>The outbound policy (<c>Outbound:*</c>, validated at start; <c>Webhooks:AllowPrivateTargets</c>
    /// is an alias of <c>Outbound:AllowPrivateTargets</c>), its request-time checks, and the guarded clients
    /// <see cref="Client"/> and <c>webhooks</c> (no redirects: a webhook's 3xx is its answer).</summary>
    public static IServiceCollection AddOutboundPolicy(this IServiceCollection services)
    {
        services.AddOptions<OutboundOptions>().BindConfiguration(OutboundOptions.Section)
            .PostConfigure<IConfiguration>((o, c) => o.AllowPrivateTargets |= c.GetValue<bool>("Webhooks:AllowPrivateTargets"))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OutboundOptions>, OutboundOptionsValidator>();
        services.AddSingleton<OutboundPolicy>();
        services.AddScoped<Domain.OutboundTargets>();
        services.AddHttpClient(Client, c => c.Timeout = TimeSpan.FromSeconds(30))
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundPolicy>().CreateHandler(allowRedirects: true));
        services.AddHttpClient("webhooks", c => c.Timeout = TimeSpan.FromSeconds(15))
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundPolicy>().CreateHandler(allowRedirects: false));
        return services;
    }

    /// <summary>The guarded client, for code that only has the service provider (the recorder's watermark fetch).</summary>
    public static HttpClient OutboundClient(this IServiceScopeFactory scopes)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        using var scope = scopes.CreateScope();
        return scope.ServiceProvider.GetRequiredService<IHttpClientFactory>().CreateClient(Client);
    }
}
