using Capstan.Server.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Capstan.Server.Data;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

public static class DatabaseSetup
{
    /// <summary>A PostgreSQL connection string is recognised by its <c>Host=</c> key; anything else is SQLite.</summary>
    public static DatabaseProvider DetectProvider(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        return connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase)
            || connectionString.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || connectionString.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            ? DatabaseProvider.Postgres
            : DatabaseProvider.Sqlite;
    }

    public static string SqliteConnectionString(string dataDir) =>
        $"Data Source={Path.Combine(dataDir, "capstan.db")};Pooling=True;Default Timeout=30";

    public static IServiceCollection AddCapstanDatabase(this IServiceCollection services, CapstanOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connection = options.Database ?? SqliteConnectionString(options.DataDir);
        if (DetectProvider(connection) == DatabaseProvider.Postgres)
        {
            connection = TunePostgres(connection);
            services.AddDbContextPool<PostgresCapstanDbContext>(o => ConfigurePostgres(o, connection));
            services.AddScoped<CapstanDbContext>(sp => sp.GetRequiredService<PostgresCapstanDbContext>());
        }
        else
        {
            Directory.CreateDirectory(options.DataDir);
            services.AddDbContextPool<SqliteCapstanDbContext>(o => ConfigureSqlite(o, connection));
            services.AddScoped<CapstanDbContext>(sp => sp.GetRequiredService<SqliteCapstanDbContext>());
        }
        services.AddSingleton(new DatabaseInfo(DetectProvider(connection), connection));
        return services;
    }

    /// <summary>Prepared statements and no session reset on pooled connections, unless the connection string
    /// says otherwise (measured: about half the PostgreSQL CPU per API query).</summary>
    internal static string TunePostgres(string connection)
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(connection);
        if (!connection.Contains("Max Auto Prepare", StringComparison.OrdinalIgnoreCase))
        {
            b.MaxAutoPrepare = 64;
            b.AutoPrepareMinUsages = 2;
        }
        if (!connection.Contains("No Reset On Close", StringComparison.OrdinalIgnoreCase))
        {
            b.NoResetOnClose = true;
        }
        return b.ConnectionString;
    }

    internal static void ConfigureSqlite(DbContextOptionsBuilder o, string connection) =>
        o.UseSqlite(connection);

    internal static void ConfigurePostgres(DbContextOptionsBuilder o, string connection) =>
        o.UseNpgsql(connection, s => s.EnableRetryOnFailure(0));

    /// <summary>Applies the provider's migrations.</summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        await db.Database.MigrateAsync(cancellationToken);
        if (db is SqliteCapstanDbContext)
        {
            // WAL is persistent in the database file: readers never block the writer. Write transactions
            // are BEGIN IMMEDIATE (Microsoft.Data.Sqlite's default) and wait on "Default Timeout".
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
    }
}

/// <summary>The database in use: its provider and connection string (secrets included: never logged).</summary>
public sealed record DatabaseInfo(DatabaseProvider Provider, string Connection)
{
    public override string ToString() => Provider.ToString();
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteCapstanDbContext>
{
    public SqliteCapstanDbContext CreateDbContext(string[] args)
    {
        var b = new DbContextOptionsBuilder<SqliteCapstanDbContext>();
        DatabaseSetup.ConfigureSqlite(b, "Data Source=design.db");
        return new SqliteCapstanDbContext(b.Options);
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresCapstanDbContext>
{
    public PostgresCapstanDbContext CreateDbContext(string[] args)
    {
        var b = new DbContextOptionsBuilder<PostgresCapstanDbContext>();
        DatabaseSetup.ConfigurePostgres(b, "Host=localhost;Database=design");
        return new PostgresCapstanDbContext(b.Options);
    }
}
