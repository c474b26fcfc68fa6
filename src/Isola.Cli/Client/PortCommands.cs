using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola port create|list|show|delete</c>: /v1/ports.</summary>
internal static class PortCommands
{
    private static readonly Column[] ListColumns =
    [
        Column.Of("id"), Column.Of("name"), Column.Of("network"), Column.At("vnicType", "spec", "vnicType"), Column.At("ha", "spec", "ha"),
        Column.Of("mac"), Column.Of("status"), Column.Of("server"),
    ];

    private static readonly Column[] Fields =
    [
        Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("network"), Column.Of("mac"), Column.Of("status"), Column.Of("server"),
        Column.At("vnicType", "spec", "vnicType"), Column.At("ha", "spec", "ha"), Column.At("bondMode", "spec", "bondMode"),
        Column.At("physnet", "spec", "physnet"), Column.At("vlan", "spec", "vlan"), Column.At("vlanQos", "spec", "vlanQos"),
        Column.At("spoofCheck", "spec", "spoofCheck"), Column.At("trust", "spec", "trust"),
        Column.At("maxTxRateMbps", "spec", "maxTxRateMbps"), Column.At("minTxRateMbps", "spec", "minTxRateMbps"), Column.At("mtu", "spec", "mtu"),
        Column.At("addresses", "spec", "addresses"), Column.At("gateway", "spec", "gateway"), Column.Of("binding", Binding),
    ];

    public static Command Create(CliConsole console)
    {
        var group = new Command("port", "Ports (SR-IOV and virtio) through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ResourceVerbs.List(console, "ports", "port", ListColumns));
        group.Subcommands.Add(ResourceVerbs.Show(console, "ports", "port", Fields));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "ports", "port"));
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The port's name" };
        var network = new Option<string>("--network") { Description = "The network's name or id", Required = true };
        var vnic = new Option<string?>("--vnic-type") { Description = "normal (default), direct, direct-physical, macvtap or vdpa" };
        var ha = new Option<bool>("--ha") { Description = "Two VFs on different PFs, bonded in the guest (direct only)" };
        var mac = new Option<string?>("--mac") { Description = "A unicast MAC (default: a generated fa:16:3e:...)" };
        var qos = new Option<int?>("--vlan-qos") { Description = "802.1p priority 0-7" };
        var spoof = new Option<string?>("--spoof-check") { Description = "on (default) or off" };
        spoof.AcceptOnlyFromAmong("on", "off");
        var trust = new Option<bool>("--trust") { Description = "Trusted VF (promiscuous, MAC changes in the guest)" };
        var maxRate = new Option<int?>("--max-tx-rate") { Description = "VF transmit ceiling, Mbit/s" };
        var minRate = new Option<int?>("--min-tx-rate") { Description = "VF guaranteed transmit rate, Mbit/s" };
        var bond = new Option<string?>("--bond-mode") { Description = "HA bond mode: active-backup (default), balance-rr or balance-xor" };
        var addresses = new Option<string[]>("--address") { Description = "An address in CIDR form for the guest's network config (repeatable)" };
        var gateway = new Option<string?>("--gateway") { Description = "The guest's default gateway on this port" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var verb = ClientCommand.Create("create", "Create a port", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { network, vnic, ha, mac, qos, spoof, trust, maxRate, minRate, bond, addresses, gateway, project })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["network"] = parse.GetValue(network) }
                .With("vnicType", parse.GetValue(vnic))
                .With("ha", parse.GetValue(ha) ? true : null)
                .With("mac", parse.GetValue(mac))
                .With("vlanQos", parse.GetValue(qos))
                .With("spoofCheck", parse.GetValue(spoof) is { } s ? s == "on" : null)
                .With("trust", parse.GetValue(trust) ? true : null)
                .With("maxTxRateMbps", parse.GetValue(maxRate))
                .With("minTxRateMbps", parse.GetValue(minRate))
                .With("bondMode", parse.GetValue(bond))
                .With("addresses", parse.GetValue(addresses) is { Length: > 0 } a ? new JsonArray(a.Select(x => (JsonNode?)x).ToArray()) : null)
                .With("gateway", parse.GetValue(gateway))
                .With("project", parse.GetValue(project));
            output.Show(await api.PostAsync("/v1/ports", body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary>"h1: p2p1/vf0 0000:08:10.0, p2p2/vf0 0000:08:10.1" once bound.</summary>
    private static string? Binding(JsonElement port)
    {
        var binding = Column.Property(port, "binding");
        if (binding.ValueKind != JsonValueKind.Object)
            return null;
        var vfs = Column.Property(binding, "vfs");
        var devices = vfs.ValueKind == JsonValueKind.Array
            ? vfs.EnumerateArray().Select(v => $"{Column.TextAt(v, "pfNetDev") ?? Column.TextAt(v, "pf")}/vf{Column.TextAt(v, "vfIndex")} {Column.TextAt(v, "vf")}").ToList()
            : [];
        if (Column.TextAt(binding, "pf") is { } pf)
            devices.Add($"PF {pf}");
        return $"{Column.TextAt(binding, "host")}: {(devices.Count == 0 ? "-" : string.Join(", ", devices))}";
    }
}
