using System.CommandLine;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola server create|list|show|delete</c>: /v1/servers. (<c>isola serve</c> runs the API itself.)</summary>
internal static class ServerCommands
{
    private static readonly Column[] ListColumns = [Column.Of("id"), Column.Of("name"), Column.Of("status"), Column.Of("host"), ServerView.Vfs];

    private static readonly Column[] Fields =
        [Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("status"), Column.Of("host"), .. ServerView.PlacementColumns];

    public static Command Create(CliConsole console)
    {
        var group = new Command("server", "Servers (VMs): placed, claimed and their ports bound, through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ResourceVerbs.List(console, "servers", "server", ListColumns));
        group.Subcommands.Add(ResourceVerbs.Show(console, "servers", "server", Fields, ServerView.Details));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "servers", "server"));
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The server's name" };
        var flavor = new Option<string>("--flavor") { Description = "The flavor's name or id", Required = true };
        var ports = new Option<string[]>("--port") { Description = "A port's name or id (repeatable, in guest NIC order)" };
        var zone = new Option<string?>("--availability-zone") { Description = "Only hosts of this zone" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var verb = ClientCommand.Create("create", "Create a server: place it on a host and bind its ports", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { flavor, ports, zone, project })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["flavor"] = parse.GetValue(flavor),
                ["ports"] = new JsonArray((parse.GetValue(ports) ?? []).Select(p => (JsonNode?)p).ToArray()),
            }.With("availabilityZone", parse.GetValue(zone)).With("project", parse.GetValue(project));
            var created = output.Show(await api.PostAsync("/v1/servers", body, ct));
            if (output.IsTable)
                ServerView.Details(console, created);
            return ExitCodes.Ok;
        });
        return verb.Command;
    }
}
