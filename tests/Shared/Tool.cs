using System.Diagnostics;

namespace Capstan.Testing;

/// <summary>Runs a command-line tool (ffmpeg, ffprobe, ...) to its end, at most two minutes: its standard output
/// (or its standard error, where the tool reports there), or an exception naming the tool with what it said when it
/// fails. The one runner of the test suites' probes.</summary>
public static class Tool
{
    public static async Task<string> RunAsync(string tool, IReadOnlyList<string> args, bool stderr = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync(ct);
        var error = p.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed: {await error}");
        }
        return stderr ? await error : await output;
    }
}
