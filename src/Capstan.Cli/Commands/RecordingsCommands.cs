using System.CommandLine;
using Capstan.Client.Models;

namespace Capstan.Cli.Commands;

internal static class RecordingsCommands
{
    public static Command Build(CliEnvironment env)
    {
        var recordings = new Command("recordings", "Start, control, watch and download recordings");
        recordings.Add(List(env));
        recordings.Add(Start(env));
        recordings.Add(Get(env));
        recordings.Add(Action(env, "pause", RecordingAction.Pause, "Pause a RECORDING recording"));
        recordings.Add(Action(env, "resume", RecordingAction.Resume, "Resume a PAUSED recording"));
        recordings.Add(Action(env, "stop", RecordingAction.Stop, "Stop a recording (it goes UPLOADING, then UPLOADED)"));
        recordings.Add(WaitCommand.Build(env));
        recordings.Add(DownloadCommand.Build(env));
        return recordings;
    }

    private static Command List(CliEnvironment env)
    {
        var list = new Command("list", "List recordings, newest first");
        var meeting = new Option<string?>("--meeting") { Description = "Only this meeting's recordings" };
        var status = new Option<string[]>("--status")
        {
            Description = "Only these statuses (repeat, or comma-separate): INVOKED, RECORDING, PAUSED, UPLOADING, UPLOADED, ERRORED",
            AllowMultipleArgumentsPerToken = false,
        };
        var search = new Option<string?>("--search") { Description = "Match on meeting id, title or file name" };
        var flags = new ListFlags();
        list.Add(meeting);
        list.Add(status);
        list.Add(search);
        flags.AddTo(list);
        list.SetHandler(env, async (c, parse, ct) =>
        {
            var statuses = (parse.GetValue(status) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Select(s => s.ToUpperInvariant()).ToList();
            var o = new RecordingListOptions { MeetingId = parse.GetValue(meeting), Search = parse.GetValue(search), Status = statuses.Count > 0 ? statuses : null };
            flags.Apply(parse, o);
            var r = c.Client.RealtimeKit.Recordings;
            var (items, footer) = await flags.ReadAsync(parse, () => r.GetRecordingsAsync(c.AppId, o, ct), () => r.GetRecordingsAutoPagingAsync(c.AppId, o, ct), ct);
            c.Output.List(items, i => i.Id, RecordingView.Columns, RecordingView.Row, footer);
            return ExitCodes.Ok;
        });
        return list;
    }

    private static Command Start(CliEnvironment env)
    {
        var start = new Command("start", "Start recording a meeting (answers at once, status INVOKED)");
        var meeting = new Argument<string>("MEETING_ID") { Description = "The meeting" };
        var codec = new Option<string?>("--codec") { Description = "H264 (MP4, default), VP8 or VP9 (WebM)" };
        codec.AcceptOnlyFromAmong("H264", "VP8", "VP9");
        var width = new Option<int?>("--width") { Description = "Width in pixels (default 1280)" };
        var height = new Option<int?>("--height") { Description = "Height in pixels (default 720)" };
        var maxSeconds = new Option<int?>("--max-seconds") { Description = "Stop after this many seconds (60..86400)" };
        var prefix = new Option<string?>("--file-name-prefix") { Description = "Prefix of the file name ([A-Za-z0-9_])" };
        var audio = new Option<string?>("--audio-file") { Description = "Also write a separate audio file: AAC or MP3" };
        audio.AcceptOnlyFromAmong("AAC", "MP3");
        var multiple = new Option<bool>("--allow-multiple") { Description = "Allow another recording of the meeting at the same time" };
        start.Add(meeting);
        start.Add(codec);
        start.Add(width);
        start.Add(height);
        start.Add(maxSeconds);
        start.Add(prefix);
        start.Add(audio);
        start.Add(multiple);
        start.SetHandler(env, async (c, parse, ct) =>
        {
            var video = parse.GetValue(codec) is null && parse.GetValue(width) is null && parse.GetValue(height) is null
                ? null
                : new VideoConfig { Codec = parse.GetValue(codec), Width = parse.GetValue(width), Height = parse.GetValue(height) };
            var r = await c.Client.RealtimeKit.Recordings.StartRecordingsAsync(c.AppId, new StartRecordingOptions
            {
                MeetingId = parse.GetValue(meeting)!,
                VideoConfig = video,
                MaxSeconds = parse.GetValue(maxSeconds),
                FileNamePrefix = parse.GetValue(prefix),
                AudioConfig = parse.GetValue(audio) is { } a ? new AudioConfig { Codec = a } : null,
                AllowMultipleRecordings = parse.GetValue(multiple) ? true : null,
            }, ct);
            RecordingView.Show(c.Output, r);
            c.Output.Note($"follow it with: capstan rtk recordings wait {r.Id}");
            return ExitCodes.Ok;
        });
        return start;
    }

    private static Command Get(CliEnvironment env)
    {
        var get = new Command("get", "Show a recording");
        var id = new Argument<string>("RECORDING_ID") { Description = "The recording" };
        get.Add(id);
        get.SetHandler(env, async (c, parse, ct) =>
        {
            RecordingView.Show(c.Output, await c.Client.RealtimeKit.Recordings.GetOneRecordingAsync(c.AppId, parse.GetValue(id)!, ct));
            return ExitCodes.Ok;
        });
        return get;
    }

    private static Command Action(CliEnvironment env, string name, string action, string description)
    {
        var command = new Command(name, description);
        var id = new Argument<string>("RECORDING_ID") { Description = "The recording" };
        command.Add(id);
        command.SetHandler(env, async (c, parse, ct) =>
        {
            var r = await c.Client.RealtimeKit.Recordings.PauseResumeStopRecordingAsync(c.AppId, parse.GetValue(id)!, new RecordingActionOptions { Action = action }, ct);
            RecordingView.Show(c.Output, r);
            return ExitCodes.Ok;
        });
        return command;
    }
}
