using System.Net;
using Capstan.Contracts;
using Capstan.Server.Api;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Meetings;
using Capstan.Server.Recorder;
using Capstan.Server.Security;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Capstan.Server.Hosting;

/// <summary>Builds the Capstan web application: one <c>AddXxx</c> per feature, one <c>MapXxx</c> per API group.</summary>
public static class CapstanHost
{
    public static WebApplication Build(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }
        var options = builder.AddCapstanOptions();
        builder.AddCapstanServer(options);
        var app = builder.Build();
        Storage.SftpDestinationFactory.LoggerFactory = app.Services.GetRequiredService<ILoggerFactory>();
        app.UseCapstanServer();
        return app;
    }

    public static CapstanOptions AddCapstanOptions(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Configuration.GetSection(CapstanOptions.Section).Get<CapstanOptions>() ?? new CapstanOptions();
        options.DataDir = Path.GetFullPath(options.DataDir);
        options.Validate();
        builder.Services.AddSingleton(options);
        builder.Services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateOnStart();
        return options;
    }

    public static void AddCapstanServer(this WebApplicationBuilder builder, CapstanOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            k.AddServerHeader = false;
            k.Listen(IPAddress.Parse(options.ListenAddress), options.Port);
            if (builder.Configuration.GetValue<int?>("Metrics:Port") is { } metricsPort and > 0 and <= 65535)
            {
                k.Listen(IPAddress.Parse(builder.Configuration["Metrics:ListenAddress"] ?? options.ListenAddress), metricsPort);
            }
        });
        builder.AddCapstanLogging();
        builder.AddCapstanMetrics(options);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", LogLevel.None);

        var services = builder.Services;
        services.AddCapstanCore(options);
        services.AddRecorder();
        services.AddCapstanHealthChecks();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<JanusOptions>, JanusOptionsValidator>();
        services.AddOptions<JanusOptions>().BindConfiguration(JanusOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<TurnOptions>, TurnOptionsValidator>();
        services.AddOptions<TurnOptions>().BindConfiguration(TurnOptions.Section).ValidateOnStart();
        services.AddSingleton<TurnService>();
        services.AddHttpClient("janus", c => c.Timeout = TimeSpan.FromSeconds(10));
        services.AddHttpClient("janus-proxy", c => c.Timeout = TimeSpan.FromSeconds(90));
        services.AddSingleton<JanusInstances>();
        services.AddSingleton<JanusEventSink>();
        services.AddSingleton<ScreenShares>();
        services.AddSingleton<ActiveSpeakers>();
        services.AddSingleton<BroadcastHub>();
        services.AddScoped<BroadcastService>();
        services.AddScoped<RoomService>();
        services.AddHostedService<JanusSupervisor>();
        services.AddHostedService<SessionSweeper>();
        services.AddHostedService<TrackRecorder>();
        services.AddHostedService<BucketRetention>();
        services.AddSingleton<Webhooks.WebhookSigner>();
        if (builder.Configuration.GetValue("Webhooks:Deliver", true))
        {
            services.AddHostedService<Webhooks.WebhookDispatcher>();
        }

        services.AddCapstanRateLimits();
        services.Configure<JsonOptions>(o => CapstanJson.Configure(o.SerializerOptions));
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<ErrorHandler>();
        services.AddProblemDetails();
        services.AddOpenApi("v1", o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Capstan RealtimeKit-compatible API";
            doc.Info.Description = "Cloudflare RealtimeKit-compatible API (apps, meetings, participants, presets, sessions, recordings, webhooks), self-hosted. Every path is also served under /client/v4, the base URL of the official SDK.";
            doc.Info.Version = "v1";
            return Task.CompletedTask;
        }).AddOperationTransformer(OpenApiDocs.TransformAsync));
    }

    /// <summary>Data, domain and security: what the server and a stand-alone worker share.</summary>
    public static IServiceCollection AddCapstanCore(this IServiceCollection services, CapstanOptions options)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddCapstanDatabase(options);
        services.AddOutboundPolicy();
        services.AddSingleton<SecretProtector>();
        services.AddSingleton<ParticipantTokens>();
        services.AddSingleton<StorageAliases>();
        services.AddScoped<AccountService>();
        services.AddScoped<MeetingService>();
        services.AddScoped<SessionService>();
        services.AddScoped<RecordingLifecycle>();
        services.AddScoped<RecordingService>();
        services.AddScoped<WebhookService>();
        services.AddSingleton<RecorderSignals>();
        services.AddHostedService<Data.PostgresSignalBridge>();
        services.AddSingleton<RecordingCounts>();
        services.AddOptions<DefaultBucketOptions>().BindConfiguration(DefaultBucketOptions.Section).ValidateOnStart();
        services.AddSingleton<DefaultBucket>();
        services.AddOptions<Storage.StorageOptions>().BindConfiguration(Storage.StorageOptions.Section).ValidateOnStart();
        services.AddSingleton<Storage.StorageDestinations>();
        services.AddSingleton<Storage.UploadSpool>();
        return services;
    }

    /// <summary>The recorder worker (hosted in <c>serve</c>, alone in <c>worker</c>: <paramref name="standaloneWorker"/>).
    /// <c>Recorder:Compositor</c> unset is chosen here (<see cref="RecorderOptions.DefaultCompositor"/>).</summary>
    public static IServiceCollection AddRecorder(this IServiceCollection services, bool standaloneWorker = false)
    {
        services.AddOptions<RecorderOptions>().BindConfiguration(RecorderOptions.Section)
            .PostConfigure<CapstanOptions, Microsoft.Extensions.Options.IOptions<JanusOptions>>((o, capstan, janus) => o.Compositor ??= RecorderOptions.DefaultCompositor(
                standaloneWorker, o.Enabled, DatabaseSetup.DetectProvider(capstan.Database ?? string.Empty), janus.Value, () => NativeCompositorSupport.Missing(o.CompositorHost)))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Options.IValidateOptions<RecorderOptions>, RecorderOptionsValidator>());
        services.AddScoped<JobQueue>();
        // Admission by measured cost: one meter per process, shared by the composite worker and the track recorder.
        services.TryAddSingleton<IProcessReader, ProcReader>();
        services.TryAddSingleton(sp => new CostMeter(sp.GetRequiredService<IProcessReader>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<RecorderOptions>>().Value, sp.GetRequiredService<ILogger<CostMeter>>()));
        services.AddSingleton<SegmentShipping>();
        services.AddHttpClient("recorder", c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddHostedService<RecorderWorker>();
        services.AddOptions<HostOptions>().Configure<IConfiguration>(CoverTheDrain);
        return services;
    }

    /// <summary>The host's shutdown timeout (30 s by default) would cut a recorder's drain short: with the recorder on,
    /// it is raised to <see cref="RecorderOptions.DrainTimeout"/> plus <see cref="RecorderOptions.DrainMargin"/> (never
    /// lowered). Read from the configuration as written, not the validated options: a bad value is reported by the
    /// options' validation at start, not here.</summary>
    internal static void CoverTheDrain(HostOptions host, IConfiguration config)
    {
        var section = config.GetSection(RecorderOptions.Section);
        if (!bool.TryParse(section["Enabled"] ?? "true", out var enabled) || !enabled)
        {
            return;
        }
        var drain = new RecorderOptions().DrainTimeout;
        if (section["DrainTimeout"] is { } text && !TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out drain))
        {
            return;
        }
        if (drain < TimeSpan.Zero || drain > RecorderOptions.MaxDrainTimeout)
        {
            return;
        }
        var needed = drain + RecorderOptions.DrainMargin;
        if (host.ShutdownTimeout != Timeout.InfiniteTimeSpan && host.ShutdownTimeout < needed)
        {
            host.ShutdownTimeout = needed;
        }
    }

    /// <summary>A stand-alone recorder worker: no HTTP listener, the shared database, and the server it records
    /// from (<c>Recorder:ServerUrl</c>).</summary>
    /// <summary>The recorder worker alone; <paramref name="args"/> are further settings (<c>--Section:Key=value</c>), as
    /// for <c>serve</c>.</summary>
    public static IHost BuildWorker(IEnumerable<KeyValuePair<string, string?>> overrides, string[]? args = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory, Args = args });
        builder.Configuration.AddInMemoryCollection(overrides);
        var options = builder.Configuration.GetSection(CapstanOptions.Section).Get<CapstanOptions>() ?? new CapstanOptions();
        options.DataDir = Path.GetFullPath(options.DataDir);
        options.Validate();
        if (string.IsNullOrWhiteSpace(builder.Configuration["Recorder:ServerUrl"]))
        {
            throw new InvalidOperationException("capstan worker needs the server to record from: --server-url http://capstan-host:8080 (Recorder:ServerUrl)");
        }
        // The native compositor takes Janus's RTP forwarders on this machine's loopback and opens the meeting's room
        // through the server's Janus instances: it runs in `capstan serve`, beside Janus. A worker alone would fail
        // every job; it is refused at start instead.
        if (string.Equals(builder.Configuration["Recorder:Compositor"], RecorderOptions.NativeCompositor, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException("Recorder:Compositor=native runs in capstan serve, beside Janus (Janus forwards the participants' RTP to the recorder's loopback); capstan worker records with the browser compositor");
        }
        builder.Services.AddSingleton(options);
        builder.AddCapstanLogging();
        builder.AddCapstanMetrics(options, standaloneWorker: true);
        builder.Services.AddCapstanCore(options);
        builder.Services.AddRecorder(standaloneWorker: true);
        return builder.Build();
    }

    private static readonly System.Text.Json.JsonSerializerOptions WellKnownJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    public static void UseCapstanServer(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UsePathBase("/client/v4");
        app.MapCapstanMetrics();
        app.UseExceptionHandler();
        app.UseStatusCodePages(EmptyErrorBodies.WriteAsync);
        app.UseRouting();
        app.UseMiddleware<ApiAuthMiddleware>();
        app.UseCapstanRateLimits();

        app.MapCapstanHealth();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapApiReference();
        app.MapMeetingPages();
        app.MapDashboard();
        app.MapTokensApi();
        app.MapBucketDownloads();
        app.MapGet("/.well-known/webhooks.json", async (Webhooks.WebhookSigner signer, CancellationToken ct) =>
            // The documented shape, camelCase: {"success":true,"data":{"publicKey":"<PEM>"},"message":""}.
            Results.Json(new { success = true, data = new { publicKey = await signer.PublicKeyPemAsync(ct) }, message = string.Empty }, WellKnownJson)).ExcludeFromDescription();

        var account = app.MapGroup("/accounts/{account_id}/realtime/kit").WithMetadata(new RequiresAccountAttribute());
        account.MapAppsApi();
        app.MapGroup("/accounts/{account_id}").WithMetadata(new RequiresAccountAttribute()).MapSystemApi();
        app.MapGroup("/system").WithMetadata(new RequiresOperatorAttribute()).MapSystemNodesApi();
        var kitApp = account.MapGroup("/{app_id}");
        kitApp.MapMeetingsApi();
        kitApp.MapPresetsApi();
        kitApp.MapSessionsApi();
        kitApp.MapRecordingsApi();
        kitApp.MapWebhooksApi();
    }

    /// <summary>Migrates the database and applies the CAPSTAN_BOOTSTRAP_* account, app and token when the
    /// database is new.</summary>
    public static async Task InitializeAsync(this WebApplication app, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(app);
        await DatabaseSetup.MigrateAsync(app.Services, ct);
        var account = Environment.GetEnvironmentVariable("CAPSTAN_BOOTSTRAP_ACCOUNT_ID");
        var appId = Environment.GetEnvironmentVariable("CAPSTAN_BOOTSTRAP_APP_ID");
        var token = Environment.GetEnvironmentVariable("CAPSTAN_BOOTSTRAP_TOKEN");
        if (!string.IsNullOrEmpty(account) && !string.IsNullOrEmpty(appId) && !string.IsNullOrEmpty(token))
        {
            await using var scope = app.Services.CreateAsyncScope();
            var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
            var created = await accounts.BootstrapAsync(account, Ids.Parse(appId, "CAPSTAN_BOOTSTRAP_APP_ID"), token, ct);
            app.Logger.LogInformation(created ? "Bootstrap: created account {Account}, app {App} and its token" : "Bootstrap skipped: the database already has accounts ({Account}, {App})", account, appId);
        }
    }
}
