using System.Net.Http.Headers;
using Capstan.Server.Data;
using Capstan.Server.Domain;
using Capstan.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;

namespace Capstan.Server.Tests.Infrastructure;

/// <summary>A real Capstan server on a loopback port with its own data folder and its own database
/// (a SQLite file, or a new database in the PostgreSQL cluster of <c>CAPSTAN_TEST_PG</c>), and one account,
/// app and token created through the domain layer.</summary>
public abstract class ServerFixture(DatabaseProvider provider) : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "capstan-tests", Guid.NewGuid().ToString("N"));
    private string? _pgDatabase;

    public DatabaseProvider Provider { get; } = provider;

    public WebApplication App { get; private set; } = null!;

    public Uri BaseUrl { get; private set; } = null!;

    public TestAccount Account { get; private set; } = null!;

    public IServiceProvider Services => App.Services;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_dataDir);
        var settings = new Dictionary<string, string?>
        {
            ["Capstan:DataDir"] = _dataDir,
            ["Capstan:Port"] = "0",
            ["Capstan:ListenAddress"] = "127.0.0.1",
            ["Capstan:PublicBaseUrl"] = "http://capstan.test",
            ["Logging:LogLevel:Default"] = "Warning",
            // The API suites need no media; the media suite runs Janus in a network namespace.
            ["Janus:Enabled"] = "false",
            ["Recorder:Enabled"] = "false",
            // Recordings started here say "browser" unless a fixture says native (CompositorChoiceTests covers the default).
            ["Recorder:Compositor"] = "browser",
        };
        if (Provider == DatabaseProvider.Postgres)
        {
            settings["Capstan:Database"] = await CreatePostgresDatabaseAsync();
        }
        foreach (var (k, v) in ExtraSettings())
        {
            settings[k] = v;
        }
        _settings = settings;
        await StartAppAsync();
        Account = await CreateAccountAsync();
    }

    private Dictionary<string, string?> _settings = [];

    private async Task StartAppAsync()
    {
        App = CapstanHost.Build([], _settings);
        await App.InitializeAsync(CancellationToken.None);
        await App.StartAsync();
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <summary>Stops the server and starts a new one on the same data folder and database, as a restart does
    /// (it listens on a new port: <see cref="BaseUrl"/> changes).</summary>
    public async Task RestartAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await StartAppAsync();
    }

    protected virtual IEnumerable<KeyValuePair<string, string?>> ExtraSettings() => [];

    /// <summary>A new account with its own app and API token.</summary>
    public async Task<TestAccount> CreateAccountAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var id = await accounts.CreateAccountAsync(null, CancellationToken.None);
        var token = await accounts.CreateTokenAsync(id, null, CancellationToken.None);
        var app = await accounts.CreateAppAsync(id, "test app", null, CancellationToken.None);
        return new TestAccount(id, app.Id, token, this);
    }

    public HttpClient Client(string? token = null)
    {
        var c = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return c;
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        if (_pgDatabase is not null)
        {
            await using var conn = new NpgsqlConnection(PgConnectionString());
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_pgDatabase}\" WITH (FORCE)", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // A SQLite file still mapped by a pooled connection; the temp folder is cleaned by the OS.
        }
        GC.SuppressFinalize(this);
    }

    private async Task<string> CreatePostgresDatabaseAsync()
    {
        _pgDatabase = "capstan_test_" + Guid.NewGuid().ToString("N")[..12];
        await using var conn = new NpgsqlConnection(PgConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{_pgDatabase}\"", conn);
        await cmd.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(PgConnectionString()) { Database = _pgDatabase, MaxPoolSize = 100 }.ConnectionString;
    }

    private static string PgConnectionString() =>
        Environment.GetEnvironmentVariable("CAPSTAN_TEST_PG") is { Length: > 0 } conn
            ? conn
            : throw new InvalidOperationException("CAPSTAN_TEST_PG is not set: run the suite with ./capstan test, which starts PostgreSQL and sets it");
}

public sealed class SqliteServer() : ServerFixture(DatabaseProvider.Sqlite);

public sealed class PostgresServer() : ServerFixture(DatabaseProvider.Postgres);

/// <summary>Webhook delivery to a receiver on loopback (allowed here: Outbound:AllowedNetworks 127.0.0.0/8) with quick polling and retries.</summary>
public abstract class WebhookServer(DatabaseProvider provider) : ServerFixture(provider)
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings() =>
    [
        new("Outbound:AllowedNetworks:0", "127.0.0.0/8"),
        new("Webhooks:PollInterval", "00:00:00.100"),
        new("Webhooks:FirstRetryDelay", "00:00:00.200"),
    ];
}

public sealed class WebhookSqliteServer() : WebhookServer(DatabaseProvider.Sqlite);

public sealed class WebhookPostgresServer() : WebhookServer(DatabaseProvider.Postgres);

public sealed record TestAccount(string AccountId, Guid AppId, string Token, ServerFixture Server)
{
    public string AppPath => $"/client/v4/accounts/{AccountId}/realtime/kit/{AppId:D}";

    public HttpClient Client() => Server.Client(Token);
}
