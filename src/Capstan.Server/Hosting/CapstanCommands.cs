using Capstan.Server.Data;
using Capstan.Server.Domain;

namespace Capstan.Server.Hosting;

/// <summary>The server's command line: <c>serve</c> (default) and <c>token create</c>.
/// Flags: <c>--port N</c>, <c>--data-dir DIR</c>, <c>--database "Host=..."</c>, <c>--listen ADDRESS</c>.</summary>
public static class CapstanCommands
{
    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        ["--port"] = "Capstan:Port",
        ["--data-dir"] = "Capstan:DataDir",
        ["--database"] = "Capstan:Database",
        ["--listen"] = "Capstan:ListenAddress",
        ["--public-url"] = "Capstan:PublicBaseUrl",
        ["--server-url"] = "Recorder:ServerUrl",
        ["--slots"] = "Recorder:Slots",
        // The node's name in /system, /system/nodes, metrics and logs (the machine's name by default).
        ["--node-name"] = "Metrics:Node",
    };

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        // Hidden: the child process that holds a capture pipeline ready (Media/Capture/CaptureHost.cs).
        if (args.Length > 0 && args[0] == Media.Capture.CaptureHost.Command)
        {
            return Media.Capture.CaptureHost.Run(args[1..]);
        }
        var (command, settings, rest) = Parse(args);
        switch (command)
        {
            case "serve":
                {
                    var app = CapstanHost.Build(rest, settings);
                    await app.InitializeAsync(CancellationToken.None);
                    await app.RunAsync();
                    return 0;
                }
            case "worker":
                {
                    using var worker = CapstanHost.BuildWorker(settings, rest);
                    await DatabaseSetup.MigrateAsync(worker.Services, CancellationToken.None);
                    await worker.RunAsync();
                    return 0;
                }
            case "token":
                return await TokenAsync(rest, settings);
            case "app":
                return await AppStorageAsync(rest, settings);
            case "install-units":
                return await InstallUnitsAsync(rest);
            case "help" or "--help" or "-h":
                await Console.Out.WriteLineAsync("usage: capstan serve [--port N] [--data-dir DIR] [--database CONN] | capstan worker --database CONN --server-url URL [--slots N] [--node-name N] | capstan token create --account ID");
                return 0;
            default:
                await Console.Error.WriteLineAsync($"unknown command '{command}'");
                return 2;
        }
    }

    /// <summary><c>install-units [--prefix /opt/capstan] [--user capstan] [--units-dir /etc/systemd/system]
    /// [--env-file /etc/capstan/capstan.env]</c>: writes the systemd units and (when absent) the settings file; run by
    /// <c>./capstan install</c> after it has published the build into <c>{prefix}/lib</c>.</summary>
    private static async Task<int> InstallUnitsAsync(string[] rest)
    {
        string Flag(string name, string fallback)
        {
            var i = Array.IndexOf(rest, name);
            return i >= 0 && i + 1 < rest.Length ? rest[i + 1] : fallback;
        }
        var known = new[] { "--prefix", "--user", "--units-dir", "--env-file" };
        if (rest.Where((a, i) => a.StartsWith("--", StringComparison.Ordinal) && !known.Contains(a)).FirstOrDefault() is { } unknown)
        {
            await Console.Error.WriteLineAsync($"unknown flag '{unknown}'; usage: capstan install-units [--prefix DIR] [--user NAME] [--units-dir DIR] [--env-file FILE]");
            return 2;
        }
        var d = InstallLayout.Default;
        var layout = new InstallLayout(Flag("--prefix", d.Prefix), Flag("--user", d.User), Flag("--units-dir", d.UnitsDir), Flag("--env-file", d.EnvironmentFile));
        try
        {
            foreach (var path in SystemdUnits.Write(layout))
            {
                await Console.Out.WriteLineAsync(path);
            }
            return 0;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
    }

    private static async Task<int> TokenAsync(string[] rest, List<KeyValuePair<string, string?>> settings)
    {
        var accountIndex = Array.IndexOf(rest, "--account");
        if (rest.Length == 0 || rest[0] != "create" || accountIndex < 0 || accountIndex + 1 >= rest.Length)
        {
            await Console.Error.WriteLineAsync("usage: capstan token create --account ID [--data-dir DIR] [--database CONN]");
            return 2;
        }
        var account = rest[accountIndex + 1];
        var app = CapstanHost.Build([], settings);
        await DatabaseSetup.MigrateAsync(app.Services, CancellationToken.None);
        await using var scope = app.Services.CreateAsyncScope();
        try
        {
            var token = await scope.ServiceProvider.GetRequiredService<AccountService>().CreateTokenAsync(account, null, CancellationToken.None);
            await Console.Out.WriteLineAsync(token);
            return 0;
        }
        catch (CapstanException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 1;
        }
    }

    /// <summary><c>app storage set|get|clear --app ID ...</c>: the app-level default destination (used when neither the
    /// start request nor the meeting's recording_config has a storage_config). Secrets are encrypted at rest and never
    /// printed. Flags: --type --bucket --region --path --access-key --secret --host --port --username --auth-method
    /// --password --private-key-file, or --json '{"type":...}' with a whole storage_config.</summary>
    private static async Task<int> AppStorageAsync(string[] rest, List<KeyValuePair<string, string?>> settings)
    {
        string? Flag(string name)
        {
            var i = Array.IndexOf(rest, name);
            return i >= 0 && i + 1 < rest.Length ? rest[i + 1] : null;
        }
        if (rest.Length < 2 || rest[0] != "storage" || rest[1] is not ("set" or "get" or "clear") || Flag("--app") is null)
        {
            await Console.Error.WriteLineAsync("usage: capstan app storage set|get|clear --app APP_ID [--type aws|azure|digitalocean|gcs|sftp --bucket B --region R --path P --access-key K --secret S --host H --port N --username U --auth-method KEY|PASSWORD --password P --private-key-file F | --json '{...}']");
            return 2;
        }
        var app = CapstanHost.Build([], settings);
        await DatabaseSetup.MigrateAsync(app.Services, CancellationToken.None);
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<CapstanDbContext>();
        var protector = scope.ServiceProvider.GetRequiredService<Security.SecretProtector>();
        if (!Guid.TryParse(Flag("--app"), out var appId) || await db.Apps.FindAsync(appId) is not { } row)
        {
            await Console.Error.WriteLineAsync($"no app {Flag("--app")}");
            return 1;
        }
        var stored = Mapping.ReadStoredConfig(row.DefaultRecordingConfigJson);
        switch (rest[1])
        {
            case "get":
                await Console.Out.WriteLineAsync(stored?.Storage is null ? "{}" : System.Text.Json.JsonSerializer.Serialize(stored.Storage.Public, Contracts.CapstanJson.Options));
                return 0;
            case "clear":
                row.DefaultRecordingConfigJson = stored is null ? null : Mapping.Write(new StoredRecordingConfig { Config = WithStorage(stored.Config, null), Storage = null });
                await db.SaveChangesAsync();
                return 0;
        }
        Contracts.StorageConfig config;
        if (Flag("--json") is { } json)
        {
            config = System.Text.Json.JsonSerializer.Deserialize<Contracts.StorageConfig>(json, Contracts.CapstanJson.Options) ?? new Contracts.StorageConfig();
        }
        else
        {
            config = new Contracts.StorageConfig
            {
                Type = Flag("--type"), Bucket = Flag("--bucket"), Region = Flag("--region"), Path = Flag("--path"), AccessKey = Flag("--access-key"),
                Secret = Flag("--secret"), Host = Flag("--host"), Username = Flag("--username"), AuthMethod = Flag("--auth-method"), Password = Flag("--password"),
                Port = int.TryParse(Flag("--port"), System.Globalization.CultureInfo.InvariantCulture, out var port) ? port : null,
                PrivateKey = Flag("--private-key-file") is { } keyFile ? await File.ReadAllTextAsync(keyFile) : null,
            };
        }
        var v = new Validation();
        StorageConfigs.Validate(config, "storage_config", v, scope.ServiceProvider.GetRequiredService<StorageAliases>().Types);
        if (config.Type is null)
        {
            v.Add("storage_config.type is required (--type)");
        }
        if (!v.HasErrors)
        {
            await scope.ServiceProvider.GetRequiredService<OutboundTargets>().StorageAsync(config, "storage_config", v, CancellationToken.None);
        }
        try
        {
            v.ThrowIfAny();
        }
        catch (CapstanException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 1;
        }
        var protectedStorage = StorageConfigs.Protect(config, protector);
        row.DefaultRecordingConfigJson = Mapping.Write(new StoredRecordingConfig { Config = WithStorage(stored?.Config ?? new Contracts.RecordingConfig(), protectedStorage.Public), Storage = protectedStorage });
        await db.SaveChangesAsync();
        await Console.Out.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(protectedStorage.Public, Contracts.CapstanJson.Options));
        return 0;
    }

    private static Contracts.RecordingConfig WithStorage(Contracts.RecordingConfig c, Contracts.StorageConfig? storage)
    {
        c.StorageConfig = storage;
        return c;
    }

    private static (string Command, List<KeyValuePair<string, string?>> Settings, string[] Remaining) Parse(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        var settings = new List<KeyValuePair<string, string?>>();
        var rest = new List<string>();
        var start = args.Length > 0 && !args[0].StartsWith('-') ? 1 : 0;
        for (var i = start; i < args.Length; i++)
        {
            if (Flags.TryGetValue(args[i], out var key) && i + 1 < args.Length)
            {
                settings.Add(new(key, args[++i]));
            }
            else
            {
                rest.Add(args[i]);
            }
        }
        return (command, settings, rest.ToArray());
    }
}
