using System.CommandLine;
using Capstan.Client.Models;

namespace Capstan.Cli.Commands;

internal static class ParticipantsCommands
{
    public static Command Build(CliEnvironment env)
    {
        var participants = new Command("participants", "Participants of a meeting");
        var add = new Command("add", "Add a participant and print its token (open <url>/meeting?authToken=<token> to join)");
        var meeting = new Argument<string>("MEETING_ID") { Description = "The meeting" };
        var customId = new Option<string>("--custom-id") { Description = "Your own id for the participant", Required = true };
        var preset = new Option<string>("--preset")
        {
            Description = "group_call_host (default), group_call_participant or recorder_preset_v2",
            DefaultValueFactory = _ => "group_call_host",
        };
        var name = new Option<string?>("--name") { Description = "Display name" };
        var picture = new Option<string?>("--picture") { Description = "Picture URL" };
        add.Add(meeting);
        add.Add(customId);
        add.Add(preset);
        add.Add(name);
        add.Add(picture);
        add.SetHandler(env, async (c, parse, ct) =>
        {
            var p = await c.Client.RealtimeKit.Meetings.AddParticipantAsync(c.AppId, parse.GetValue(meeting)!, new AddParticipantOptions
            {
                CustomParticipantId = parse.GetValue(customId)!,
                PresetName = parse.GetValue(preset)!,
                Name = parse.GetValue(name),
                Picture = parse.GetValue(picture),
            }, ct);
            c.Output.Item(p, p.Id,
            [
                ("id", p.Id), ("custom id", p.CustomParticipantId), ("preset", p.PresetName), ("name", p.Name),
                ("token", p.Token), ("join", $"{c.Client.Options.BaseUrl.GetLeftPart(UriPartial.Authority)}/meeting?authToken={p.Token}"),
            ]);
            return ExitCodes.Ok;
        });
        participants.Add(add);
        return participants;
    }
}
