using System.CommandLine;
using Capstan.Client.Models;

namespace Capstan.Cli.Commands;

internal static class MeetingsCommands
{
    public static Command Build(CliEnvironment env)
    {
        var meetings = new Command("meetings", "Create and list meetings");

        var create = new Command("create", "Create a meeting");
        var title = new Option<string?>("--title") { Description = "Title" };
        var recordOnStart = new Option<bool>("--record-on-start") { Description = "Start recording when the first participant joins" };
        create.Add(title);
        create.Add(recordOnStart);
        create.SetHandler(env, async (c, parse, ct) =>
        {
            var m = await c.Client.RealtimeKit.Meetings.CreateAsync(c.AppId, new CreateMeetingOptions
            {
                Title = parse.GetValue(title),
                RecordOnStart = parse.GetValue(recordOnStart) ? true : null,
            }, ct);
            Show(c.Output, m);
            return ExitCodes.Ok;
        });

        var list = new Command("list", "List meetings, newest first");
        var search = new Option<string?>("--search") { Description = "Match on id or title" };
        var status = new Option<string?>("--status") { Description = "ACTIVE or INACTIVE" };
        status.AcceptOnlyFromAmong(MeetingStatus.Active, MeetingStatus.Inactive);
        var flags = new ListFlags();
        list.Add(search);
        list.Add(status);
        flags.AddTo(list);
        list.SetHandler(env, async (c, parse, ct) =>
        {
            var o = new MeetingListOptions { Search = parse.GetValue(search), Status = parse.GetValue(status) };
            flags.Apply(parse, o);
            var m = c.Client.RealtimeKit.Meetings;
            var (items, footer) = await flags.ReadAsync(parse, () => m.GetAsync(c.AppId, o, ct), () => m.GetAutoPagingAsync(c.AppId, o, ct), ct);
            c.Output.List(items, i => i.Id, ["ID", "TITLE", "STATUS", "CREATED"],
                i => [i.Id, i.Title, i.Status, Output.Time(i.CreatedAt)], footer);
            return ExitCodes.Ok;
        });

        meetings.Add(create);
        meetings.Add(list);
        return meetings;
    }

    private static void Show(Output o, Meeting m) => o.Item(m, m.Id,
    [
        ("id", m.Id), ("title", m.Title), ("status", m.Status), ("record on start", m.RecordOnStart ? "yes" : "no"),
        ("keep alive", $"{m.SessionKeepAliveTimeInSecs} s"), ("created", Output.Time(m.CreatedAt)),
    ]);
}
