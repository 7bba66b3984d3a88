using System.CommandLine;
using Capstan.Client.Models;
using Spectre.Console;

namespace Capstan.Cli.Commands;

/// <summary><c>recordings wait ID</c>: live status and elapsed time until the recording is UPLOADED (exit 0),
/// ERRORED (exit 7) or <c>--timeout</c> passes (exit 8).</summary>
internal static class WaitCommand
{
    public static Command Build(CliEnvironment env)
    {
        var wait = new Command("wait", "Show a recording's status live until it is UPLOADED (exit 0) or ERRORED (exit 7), or --until a status");
        var id = new Argument<string>("RECORDING_ID") { Description = "The recording" };
        var timeout = Durations.Option("--timeout", "Give up after this long (exit 8), e.g. 30s, 10m (default: no limit)");
        var interval = Durations.Option("--interval", "Time between polls (default 1s)", TimeSpan.FromSeconds(1));
        var until = new Option<string?>("--until") { Description = "Stop waiting at this status instead (e.g. RECORDING: the recorder has started)" };
        until.AcceptOnlyFromAmong(RecordingStatus.Recording, RecordingStatus.Paused, RecordingStatus.Uploading, RecordingStatus.Uploaded);
        wait.Add(id);
        wait.Add(until);
        wait.Add(timeout);
        wait.Add(interval);
        wait.SetHandler(env, async (c, parse, ct) =>
        {
            var (code, final) = await RunAsync(c, parse.GetValue(id)!, parse.GetValue(timeout), parse.GetValue(interval) ?? TimeSpan.FromSeconds(1), ct, parse.GetValue(until));
            if (final is not null && code is ExitCodes.Ok or ExitCodes.RecordingErrored)
            {
                RecordingView.Show(c.Output, final);
            }
            return code;
        });
        return wait;
    }

    /// <summary>Waits; returns the exit code and the last state seen.</summary>
    public static async Task<(int Code, Recording? Last)> RunAsync(CliContext c, string recordingId, TimeSpan? timeout, TimeSpan interval, CancellationToken ct, string? until = null)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (timeout is { } t)
        {
            limit.CancelAfter(t);
        }
        Recording? last = null;
        var printed = (string?)null;
        void Report(Recording r, Action<string> show)
        {
            last = r;
            var line = Line(r);
            if (c.Output.StatusIsTerminal)
            {
                show(line);
            }
            else if (r.Status != printed)
            {
                // Not a terminal: one plain line per status change (a log, not a redraw).
                c.Output.Status.WriteLine(line);
                printed = r.Status;
            }
        }
        try
        {
            var recordings = c.Client.RealtimeKit.Recordings;
            async Task PollAsync(Action<string> show)
            {
                while (true)
                {
                    var r = await recordings.GetOneRecordingAsync(c.AppId, recordingId, limit.Token);
                    Report(r, show);
                    if (!r.IsInProgress || r.Status == until)
                    {
                        return;
                    }
                    await Task.Delay(interval, limit.Token);
                }
            }
            if (c.Output.StatusIsTerminal)
            {
                await c.Output.Status.Status().Spinner(Spinner.Known.Dots).StartAsync("waiting for " + recordingId, ctx => PollAsync(s => ctx.Status(Markup.Escape(s))));
            }
            else
            {
                await PollAsync(_ => { });
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            await c.Env.Error.WriteLineAsync($"timed out after {Output.Duration(timeout!.Value)}: the recording is still {last?.Status ?? "unknown"}");
            return (ExitCodes.Timeout, last);
        }
        if (last!.Status == RecordingStatus.Errored)
        {
            await c.Env.Error.WriteLineAsync($"the recording ended ERRORED: {last.ErrorMessage ?? last.StopReason?.Reason ?? "no reason given"}");
            return (ExitCodes.RecordingErrored, last);
        }
        return (ExitCodes.Ok, last);
    }

    private static string Line(Recording r)
    {
        var since = r.StartedTime ?? r.InvokedTime;
        var until = r.StoppedTime ?? DateTimeOffset.UtcNow;
        var elapsed = until > since ? until - since : TimeSpan.Zero;
        var extra = r.Status switch
        {
            RecordingStatus.Uploaded => $", {Output.Bytes(r.FileSize)}",
            RecordingStatus.Errored when r.ErrorMessage is not null => $": {r.ErrorMessage}",
            _ => string.Empty,
        };
        return $"{r.Status,-9} elapsed {Output.Duration(elapsed)}{extra}";
    }
}
