using System.CommandLine;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola network create|list|show|delete</c>: /v1/networks; <c>isola network qos ...</c> is in <see cref="QosCommands"/>.</summary>
internal static class NetworkCommands
{
    private static readonly Column[] ListColumns =
        [Column.Of("id"), Column.Of("name"), Column.Of("type"), Column.Of("physnet"), Column.Of("segment"), Column.Of("mtu"), Column.Of("shared")];

    private static readonly Column[] Fields =
    [
        Column.Of("id"), Column.Of("name"), Column.Of("project"),
        Column.Of("type"), Column.Of("physnet"), Column.Of("segment"), Column.Of("mtu"), Column.Of("shared"),
    ];

    public static Command Create(CliConsole console)
    {
        var group = new Command("network", "Networks (flat, vlan, vxlan, gre) through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ResourceVerbs.List(console, "networks", "network", ListColumns, filters: ListFlag.Name("network")));
        group.Subcommands.Add(ResourceVerbs.Show(console, "networks", "network", Fields));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "networks", "network"));
        group.Subcommands.Add(QosCommands.Create(console));
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The network's name" };
        var type = new Option<string>("--type") { Description = "flat, vlan, vxlan or gre", Required = true };
        var physnet = new Option<string?>("--physnet") { Description = "The physical network (flat and vlan)" };
        var segment = new Option<long?>("--segment") { Description = "VLAN id, VNI or GRE key (default: the lowest free of the server's ranges)" };
        var mtu = new Option<int?>("--mtu") { Description = "Default 1500, 1450 for vxlan, 1458 for gre" };
        var shared = new Option<bool>("--shared") { Description = "Seen by every project (admin)" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var verb = ClientCommand.Create("create", "Create a network", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { type, physnet, segment, mtu, shared, project })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["type"] = parse.GetValue(type) }
                .With("physnet", parse.GetValue(physnet))
                .With("segment", parse.GetValue(segment))
                .With("mtu", parse.GetValue(mtu))
                .With("shared", parse.GetValue(shared) ? true : null)
                .With("project", parse.GetValue(project));
            output.Show(await api.PostAsync("/v1/networks", body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }
}
