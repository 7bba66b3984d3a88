using System.CommandLine;
using System.Net;
using Capstan.Cli.Commands;
using Capstan.Client;

namespace Capstan.Cli;

/// <summary>The command tree (<c>capstan rtk ...</c>) and the one place where failures become exit codes.</summary>
public static class CliApp
{
    /// <summary>Runs the CLI with <paramref name="args"/> and returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CliEnvironment env, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(env);
        var root = Build(env);
        var parsed = root.Parse(args);
        var config = new InvocationConfiguration { Output = env.Out, Error = env.Error, EnableDefaultExceptionHandler = false };
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await env.Error.WriteLineAsync("error: " + e.Message);
            }
            await env.Error.WriteLineAsync("Run with --help for usage.");
            return ExitCodes.Usage;
        }
        return await parsed.InvokeAsync(config, cancellationToken);
    }

    private static RootCommand Build(CliEnvironment env)
    {
        var root = new RootCommand("Capstan command line");
        var rtk = new Command("rtk", "The RealtimeKit API of a Capstan server (meetings, participants, recordings, webhooks)");
        GlobalOptions.AddTo(rtk);
        rtk.Add(MeetingsCommands.Build(env));
        rtk.Add(ParticipantsCommands.Build(env));
        rtk.Add(RecordingsCommands.Build(env));
        rtk.Add(WebhooksCommands.Build(env));
        root.Add(rtk);
        return root;
    }

    /// <summary>Sets <paramref name="body"/> as the command's action, with configuration, client and output
    /// prepared, and every failure turned into a message on standard error and an exit code.</summary>
    internal static void SetHandler(this Command command, CliEnvironment env, Func<CliContext, ParseResult, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parse, ct) =>
        {
            CliContext? context = null;
            try
            {
                context = CliContext.Create(parse, env);
                return await body(context, parse, ct);
            }
            catch (CliUsageException e)
            {
                await env.Error.WriteLineAsync("error: " + e.Message);
                return ExitCodes.Usage;
            }
            catch (CapstanApiException e)
            {
                await env.Error.WriteLineAsync($"error: {e.ErrorMessage} (HTTP {(int)e.StatusCode})");
                return ExitCodeOf(e.StatusCode);
            }
            catch (HttpRequestException e)
            {
                await env.Error.WriteLineAsync($"error: cannot reach the server: {e.Message}");
                return ExitCodes.Server;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await env.Error.WriteLineAsync("interrupted");
                return ExitCodes.Interrupted;
            }
            catch (TaskCanceledException e)
            {
                await env.Error.WriteLineAsync($"error: the server did not answer in time ({e.Message})");
                return ExitCodes.Server;
            }
            finally
            {
                context?.Dispose();
            }
        });
    }

    internal static int ExitCodeOf(HttpStatusCode status) => (int)status switch
    {
        401 or 403 => ExitCodes.Auth,
        404 => ExitCodes.NotFound,
        400 or 405 or 409 or 413 or 415 or 422 => ExitCodes.Refused,
        _ => ExitCodes.Server,
    };
}

/// <summary>A command line that cannot run: missing configuration, a bad value.</summary>
public sealed class CliUsageException(string message) : Exception(message);
