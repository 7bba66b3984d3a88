using System.CommandLine;

namespace Capstan.Cli.Commands;

internal static class WebhooksCommands
{
    public static Command Build(CliEnvironment env)
    {
        var webhooks = new Command("webhooks", "Webhook subscriptions");
        var list = new Command("list", "List the app's webhooks");
        list.SetHandler(env, async (c, parse, ct) =>
        {
            var items = await c.Client.RealtimeKit.Webhooks.GetWebhooksAsync(c.AppId, ct);
            c.Output.List(items, w => w.Id, ["ID", "NAME", "URL", "EVENTS", "ENABLED"],
                w => [w.Id, w.Name, w.Url, string.Join(", ", w.Events), w.Enabled ? "yes" : "no"]);
            return ExitCodes.Ok;
        });
        webhooks.Add(list);
        return webhooks;
    }
}
