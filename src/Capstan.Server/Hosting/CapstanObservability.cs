using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Capstan.Contracts;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Capstan.Server.Hosting;

/// <summary>Metrics settings, section <c>Metrics</c>. The Prometheus text is served at <c>/metrics</c>:
/// <list type="bullet">
/// <item>on the main port when <see cref="Token"/> is set, to requests with <c>Authorization: Bearer &lt;token&gt;</c>
/// (401 in the error envelope otherwise);</item>
/// <item>or, when <see cref="Port"/> is set, only on that port (bound to <see cref="ListenAddress"/>), for a network
/// the operator keeps to the scraper; if a token is set as well it is required there too.</item>
/// </list>
/// With neither, <c>/metrics</c> answers 404 naming the two settings (metrics are never public by default).</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>Bearer token a scraper must send.</summary>
    public string? Token { get; set; }

    /// <summary>A separate port for <c>/metrics</c> alone (a stand-alone worker needs it: it has no other listener).</summary>
    public int? Port { get; set; }

    /// <summary>Address of <see cref="Port"/>. Default: <c>Capstan:ListenAddress</c> (the worker: 127.0.0.1).</summary>
    public string? ListenAddress { get; set; }

    /// <summary>The <c>node</c> label of this process's recorder gauges. Default: the machine name.</summary>
    public string? Node { get; set; }

    public string EffectiveNode => string.IsNullOrWhiteSpace(Node) ? Environment.MachineName : Node;

    public bool Enabled => !string.IsNullOrEmpty(Token) || Port is not null;
}

/// <summary>Refuses bad <see cref="MetricsOptions"/> at start.</summary>
public sealed class MetricsOptionsValidator(CapstanOptions capstan) : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Port is { } port && (port is < 1 or > 65535 || (port == capstan.Port && capstan.Port != 0)))
        {
            errors.Add($"Metrics:Port must be 1..65535 and differ from Capstan:Port ({capstan.Port}), got {port}");
        }
        if (options.Token is { } token && (token.Length < 16 || token.Any(char.IsWhiteSpace)))
        {
            errors.Add("Metrics:Token must be at least 16 characters without spaces");
        }
        if (options.ListenAddress is { } address && !IPAddress.TryParse(address, out _))
        {
            errors.Add($"Metrics:ListenAddress must be an IP address, got '{address}'");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The <c>Capstan</c> <see cref="ActivitySource"/> and the tracing, metrics and log-format setup shared by
/// <c>serve</c> and <c>worker</c>.</summary>
public static class CapstanTelemetry
{
    public const string SourceName = "Capstan";

    /// <summary>Spans: <c>recording.session</c> (a worker runs a recording; children: <c>recorder.claim</c>,
    /// <c>recording.capture</c>, <c>recording.postprocess</c>, one <c>upload</c> per file), <c>webhook.delivery</c>
    /// per attempt, beside ASP.NET Core's span of each API call.</summary>
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The <c>upload</c> span of one file to one destination.</summary>
    public static Activity? StartUpload(string? destinationType, string key, long bytes)
    {
        var span = Source.StartActivity("upload");
        span?.SetTag("capstan.destination_type", destinationType);
        span?.SetTag("capstan.object_key", key);
        span?.SetTag("capstan.bytes", bytes);
        return span;
    }

    /// <summary>Traces are exported over OTLP only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (as an environment
    /// variable or setting); the exporter reads the other standard <c>OTEL_*</c> variables itself
    /// (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>: <c>grpc</c>, the default, or <c>http/protobuf</c>).</summary>
    public static bool TracingEnabled(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration?["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    /// <summary><c>Logging:Format</c>: <c>text</c> (default, the framework's simple console) or <c>json</c> (the
    /// framework's JSON console formatter: one object per line, UTC timestamps, scopes included, so a recording's lines
    /// carry <c>RecordingId</c>, <c>MeetingId</c> and <c>JobId</c>).</summary>
    public static void AddCapstanLogging(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var format = builder.Configuration["Logging:Format"] ?? "text";
        switch (format.ToLowerInvariant())
        {
            case "text":
                builder.Logging.AddSimpleConsole(o => o.IncludeScopes = true);
                break;
            case "json":
                builder.Logging.ClearProviders();
                builder.Logging.AddJsonConsole(o =>
                {
                    o.IncludeScopes = true;
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
                });
                builder.Services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = ConsoleFormatterNames.Json);
                break;
            default:
                throw new InvalidOperationException($"Logging:Format must be 'text' or 'json', got '{format}'");
        }
    }

    /// <summary>Metrics (Capstan's meter, ASP.NET Core's HTTP server metrics, the .NET runtime, Npgsql) for the
    /// Prometheus exporter, and traces when OTLP is configured. <paramref name="standaloneWorker"/>: the worker has no
    /// Kestrel, so its <c>Metrics:Port</c> is served by the exporter's own HTTP listener.</summary>
    public static void AddCapstanMetrics(this IHostApplicationBuilder builder, CapstanOptions capstan, bool standaloneWorker = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(capstan);
        var services = builder.Services;
        services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>();
        services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section).ValidateOnStart();
        services.AddSingleton<CapstanMetrics>();
        var metrics = builder.Configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>() ?? new MetricsOptions();
        var node = metrics.EffectiveNode;

        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("capstan", serviceInstanceId: $"{node}:{Environment.ProcessId}"))
            .WithMetrics(m =>
            {
                m.AddMeter(CapstanMetrics.MeterName).AddRuntimeInstrumentation().AddNpgsqlInstrumentation();
                if (standaloneWorker)
                {
                    if (metrics.Port is { } port)
                    {
                        m.AddPrometheusHttpListener(o =>
                        {
                            o.Host = metrics.ListenAddress ?? "127.0.0.1";
                            o.Port = port;
                            o.ScrapeEndpointPath = "/metrics";
                            o.ScrapeResponseCacheDurationMilliseconds = 0;
                        });
                    }
                }
                else
                {
                    m.AddAspNetCoreInstrumentation();
                    // No response cache: a scrape shows the values of that moment.
                    m.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
                }
            });
        // Make sure the provider (and so the worker's listener) starts with the host even when nothing resolves it.
        services.AddHostedService<MeterProviderStarter>();
        if (TracingEnabled(builder.Configuration))
        {
            otel.WithTracing(t =>
            {
                t.AddSource(SourceName).AddHttpClientInstrumentation().AddNpgsql();
                if (!standaloneWorker)
                {
                    t.AddAspNetCoreInstrumentation(o => o.Filter = ctx => ctx.Request.Path != "/metrics" && ctx.Request.Path != "/readyz" && ctx.Request.Path != "/healthz");
                }
                t.AddOtlpExporter();
            });
        }
    }

    /// <summary>Serves <c>/metrics</c> per <see cref="MetricsOptions"/>: before routing, so no other middleware
    /// (API auth, status-code pages) sees a scrape.</summary>
    public static void MapCapstanMetrics(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var o = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        var expected = o.Token is { Length: > 0 } token ? SHA256.HashData(Encoding.UTF8.GetBytes(token)) : null;
        var port = o.Port;
        if (port is { } metricsPort)
        {
            // The metrics port serves /metrics and nothing else.
            app.UseWhen(ctx => ctx.Connection.LocalPort == metricsPort && ctx.Request.Path != "/metrics",
                b => b.Run(ctx => WriteErrorAsync(ctx, 404, $"this port serves only /metrics (Metrics:Port {metricsPort})")));
        }
        else if (!o.Enabled)
        {
            app.UseWhen(ctx => ctx.Request.Path == "/metrics",
                b => b.Run(ctx => WriteErrorAsync(ctx, 404, "metrics are off: set Metrics:Token (a bearer token for /metrics on this port) or Metrics:Port (a port for /metrics alone)")));
            return;
        }
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: ctx => ctx.Request.Path == "/metrics" && (port is null || ctx.Connection.LocalPort == port),
            path: null,
            configureBranchedPipeline: b => b.Use(async (ctx, next) =>
            {
                if (expected is not null && !TokenMatches(ctx.Request, expected))
                {
                    ctx.Response.Headers.WWWAuthenticate = "Bearer";
                    await WriteErrorAsync(ctx, 401, "missing or wrong metrics token: send 'Authorization: Bearer <Metrics:Token>'");
                    return;
                }
                await next(ctx);
            }),
            optionsName: null);
    }

    private static bool TokenMatches(HttpRequest request, byte[] expected)
    {
        var auth = request.Headers.Authorization.ToString();
        if (!auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(auth["Bearer ".Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }

    internal static Task WriteErrorAsync(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new ErrorEnvelope(false, new ErrorBody(status, message)), CapstanJson.Options, ctx.RequestAborted);
    }

    /// <summary>Resolves the <see cref="MeterProvider"/> at start (OpenTelemetry builds it lazily otherwise).</summary>
    private sealed class MeterProviderStarter(MeterProvider provider, CapstanMetrics metrics) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(provider);
            GC.KeepAlive(metrics);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
