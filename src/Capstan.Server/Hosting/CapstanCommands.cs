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
    };

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
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
                    using var worker = CapstanHost.BuildWorker(settings);
                    await DatabaseSetup.MigrateAsync(worker.Services, CancellationToken.None);
                    await worker.RunAsync();
                    return 0;
                }
            case "token":
                return await TokenAsync(rest, settings);
            case "help" or "--help" or "-h":
                await Console.Out.WriteLineAsync("usage: capstan serve [--port N] [--data-dir DIR] [--database CONN] | capstan worker --database CONN --server-url URL [--slots N] | capstan token create --account ID");
                return 0;
            default:
                await Console.Error.WriteLineAsync($"unknown command '{command}'");
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
