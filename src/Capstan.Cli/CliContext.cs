using System.CommandLine;
using Capstan.Client;

namespace Capstan.Cli;

/// <summary>The resolved configuration of one invocation: client, app id and output.</summary>
internal sealed class CliContext : IDisposable
{
    private readonly Lazy<CapstanClient> _client;
    private readonly string? _appId;

    private CliContext(Func<CapstanClient> client, string? appId, Output output)
    {
        _client = new Lazy<CapstanClient>(client);
        _appId = appId;
        Output = output;
    }

    public Output Output { get; }

    public CliEnvironment Env => Output.Env;

    public CapstanClient Client => _client.Value;

    /// <summary>The app id, required by every command but none here yet.</summary>
    public string AppId => _appId ?? throw new CliUsageException("no app id: pass --app-id or set CAPSTAN_APP_ID");

    public static CliContext Create(ParseResult parse, CliEnvironment env)
    {
        string? Value(Option<string?> option, string variable) =>
            parse.GetValue(option) is { Length: > 0 } v ? v : env.GetVariable(variable) is { Length: > 0 } e ? e : null;

        var url = Value(GlobalOptions.Url, "CAPSTAN_URL");
        var token = Value(GlobalOptions.Token, "CAPSTAN_TOKEN");
        var account = Value(GlobalOptions.Account, "CAPSTAN_ACCOUNT_ID");
        var app = Value(GlobalOptions.App, "CAPSTAN_APP_ID");
        var output = new Output(env, parse.GetValue(GlobalOptions.Format));
        return new CliContext(() =>
        {
            if (url is null)
            {
                throw new CliUsageException("no server URL: pass --url or set CAPSTAN_URL (e.g. http://127.0.0.1:8080)");
            }
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new CliUsageException($"the server URL must be an absolute http(s) URL, got '{url}'");
            }
            var options = new CapstanClientOptions
            {
                BaseUrl = uri,
                ApiToken = token ?? throw new CliUsageException("no API token: pass --token or set CAPSTAN_TOKEN"),
                AccountId = account ?? throw new CliUsageException("no account id: pass --account-id or set CAPSTAN_ACCOUNT_ID"),
            };
            return new CapstanClient(options, env.HttpClient);
        }, app, output);
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }
}
