using System.Diagnostics;
using Capstan.Cli;

namespace Capstan.Client.Tests.Infrastructure;

/// <summary>Runs the CLI in-process with captured output (not a terminal), or as a real process.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";
    }

    public static async Task<Result> RunInAsync(string workingDirectory, IReadOnlyDictionary<string, string> variables, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var env = new CliEnvironment
        {
            Out = stdout,
            Error = stderr,
            GetVariable = name => variables.TryGetValue(name, out var v) ? v : null,
            WorkingDirectory = workingDirectory,
        };
        var code = await CliApp.RunAsync(args, env, TestContext.Current.CancellationToken);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    public static Task<Result> RunAsync(IReadOnlyDictionary<string, string> variables, params string[] args) =>
        RunInAsync(Path.GetTempPath(), variables, args);

    /// <summary><c>Capstan.Cli.dll</c> beside the tests (copied by the project reference).</summary>
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "Capstan.Cli.dll");

    /// <summary>Runs <paramref name="fileName"/> as a process with the given environment, capturing its output.</summary>
    public static async Task<Result> ProcessAsync(string fileName, IEnumerable<string> args, IReadOnlyDictionary<string, string> variables, string workingDirectory)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var key in new[] { "CAPSTAN_URL", "CAPSTAN_TOKEN", "CAPSTAN_ACCOUNT_ID", "CAPSTAN_APP_ID" })
        {
            psi.Environment.Remove(key);
        }
        foreach (var (k, v) in variables)
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await p.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        return new Result(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>The repository root (where Capstan.slnx is).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "Capstan.slnx")))
                {
                    return d.FullName;
                }
            }
            throw new InvalidOperationException("Capstan.slnx not found above " + AppContext.BaseDirectory);
        }
    }
}
