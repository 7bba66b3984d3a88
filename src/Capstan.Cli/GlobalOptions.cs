using System.CommandLine;

namespace Capstan.Cli;

/// <summary>Options every <c>rtk</c> command takes; each falls back to an environment variable.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Url = new("--url") { Description = "Server URL, e.g. http://127.0.0.1:8080 [env: CAPSTAN_URL]", Recursive = true };
    public static readonly Option<string?> Token = new("--token") { Description = "API token [env: CAPSTAN_TOKEN]", Recursive = true };
    public static readonly Option<string?> Account = new("--account-id", "--account") { Description = "Account id [env: CAPSTAN_ACCOUNT_ID]", Recursive = true };
    public static readonly Option<string?> App = new("--app-id", "--app") { Description = "App id [env: CAPSTAN_APP_ID]", Recursive = true };

    public static readonly Option<OutputFormat> Format = new("--output", "-o")
    {
        Description = "table (default), json (the API's data) or id (ids only, one per line)",
        Recursive = true,
        HelpName = "table|json|id",
        DefaultValueFactory = _ => OutputFormat.Table,
    };

    public static void AddTo(Command command)
    {
        command.Add(Url);
        command.Add(Token);
        command.Add(Account);
        command.Add(App);
        command.Add(Format);
    }
}
