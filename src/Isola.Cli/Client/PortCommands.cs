using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.Cli.Planning;
using Isola.Scheduling.Requests;

namespace Isola.Cli.Client;

/// <summary><c>isola port create|list|show|delete</c>: /v1/ports.</summary>
internal static class PortCommands
{
    private static readonly string[] FixedIpKeys = ["subnet", "ip-address"];

    /// <summary>A list's rows and a show's fields; the fixed IPs, QoS policy and security groups by the names <paramref name="names"/> found.</summary>
    private static (Column[] List, Column[] Fields) Columns(NameLookup names)
    {
        var fixedIps = Column.Of("fixedIps", p => FixedIps(p, names));
        var qosPolicy = Column.Of("qosPolicy", p => Column.TextAt(p, "qosPolicy") is { } id ? names.Of(id) : null);
        var groups = Column.Of("securityGroups", p => Column.Property(p, "securityGroups") is { ValueKind: JsonValueKind.Array } g && g.GetArrayLength() > 0
            ? string.Join(", ", g.EnumerateArray().Select(x => names.Of(x.GetString() ?? "?")))
            : null);
        Column[] list =
        [
            Column.Of("id"), Column.Of("name"), Column.Of("network"), Column.At("vnicType", "spec", "vnicType"), Column.At("ha", "spec", "ha"),
            Column.Of("mac"), fixedIps, Column.Of("status"), Column.Of("server"),
        ];
        Column[] fields =
        [
            Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("network"), Column.Of("mac"), Column.Of("status"), Column.Of("server"),
            fixedIps, qosPolicy, groups, Column.Of("portSecurityEnabled"),
            Column.At("vnicType", "spec", "vnicType"), Column.At("ha", "spec", "ha"), Column.At("haDistinctAdapters", "spec", "haDistinctAdapters"),
            Column.At("bondMode", "spec", "bondMode"),
            Column.At("physnet", "spec", "physnet"), Column.At("vlan", "spec", "vlan"), Column.At("vlanQos", "spec", "vlanQos"),
            Column.At("spoofCheck", "spec", "spoofCheck"), Column.At("trust", "spec", "trust"),
            Column.At("maxTxRateMbps", "spec", "maxTxRateMbps"), Column.At("minTxRateMbps", "spec", "minTxRateMbps"), Column.At("mtu", "spec", "mtu"),
            Column.At("addresses", "spec", "addresses"), Column.At("gateway", "spec", "gateway"), Column.At("dnsServers", "spec", "dnsServers"),
            Column.Of("binding", Binding), Column.At("haLegs", "binding", "haLegs"),
        ];
        return (list, fields);
    }

    public static Command Create(CliConsole console)
    {
        var names = new NameLookup();
        var (list, fields) = Columns(names);
        ResourceVerbs.Resolver resolve = (api, answer, ct) => ResolveAsync(names, api, answer, ct);
        var group = new Command("port", "Ports (SR-IOV and virtio) through the API");
        group.Subcommands.Add(CreateVerb(console, fields, resolve));
        group.Subcommands.Add(ResourceVerbs.List(console, "ports", "port", list, resolve,
        [
            .. ListFlag.Name("port"), new("--network", "network", "Only ports on this network (name or id)"),
            new("--device", "device", "Only ports bound to this server (name or id)"), new("--status", "status", "Only ports in this status (DOWN, BOUND, ACTIVE, ERROR)"),
        ]));
        group.Subcommands.Add(ResourceVerbs.Show(console, "ports", "port", fields, resolve: resolve));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "ports", "port"));
        return group;
    }

    /// <summary>Reads the names of the subnets, QoS policies and security groups the ports (one or a list) name; only the collections they use.</summary>
    private static async Task ResolveAsync(NameLookup names, ApiClient api, JsonElement answer, CancellationToken ct)
    {
        var ports = answer.ValueKind == JsonValueKind.Array ? answer.EnumerateArray().ToList() : [answer];
        static bool Has(JsonElement port, string field) => Column.Property(port, field) switch
        {
            { ValueKind: JsonValueKind.String } => true,
            { ValueKind: JsonValueKind.Array } ids => ids.GetArrayLength() > 0,
            _ => false,
        };
        if (ports.Any(p => Has(p, "fixedIps")))
            await names.LoadAsync(api, "subnets", ct);
        if (ports.Any(p => Has(p, "qosPolicy")))
            await names.LoadAsync(api, "qos-policies", ct);
        if (ports.Any(p => Has(p, "securityGroups")))
            await names.LoadAsync(api, "security-groups", ct);
    }

    /// <summary>"10.0.0.2 (sub1), fd00::2 (sub6)".</summary>
    private static string? FixedIps(JsonElement port, NameLookup names) =>
        Column.Property(port, "fixedIps") is { ValueKind: JsonValueKind.Array } ips && ips.GetArrayLength() > 0
            ? string.Join(", ", ips.EnumerateArray().Select(ip =>
                $"{Column.TextAt(ip, "ipAddress")} ({(Column.TextAt(ip, "subnet") is { } subnet ? names.Of(subnet) : "?")})"))
            : null;

    /// <summary>The --vnic-type words, from the vnic kinds' table (the API parses them: <see cref="VnicKind.Parse"/>).</summary>
    private static readonly string VnicTypeHelp =
        $"{VnicKind.Names(VnicKind.All.Where(k => k.AcceptedAtApi))} (default: normal); the API refuses {VnicKind.Names(VnicKind.All.Where(k => !k.AcceptedAtApi))} today";

    private static Command CreateVerb(CliConsole console, Column[] fields, ResourceVerbs.Resolver resolve)
    {
        var name = new Argument<string>("name") { Description = "The port's name" };
        var network = new Option<string>("--network") { Description = "The network's name or id", Required = true };
        var vnic = new Option<string?>("--vnic-type") { Description = VnicTypeHelp };
        var ha = new Option<bool>("--ha") { Description = "Two VFs on different PFs, bonded in the guest (direct only)" };
        var irqVcpus = new Option<string?>("--irq-vcpus") { Description = "Guest vCPUs that handle the port's queues, in order (queue q on the (q mod n)-th), e.g. 2,3; default: the server's vCPUs on the device's NUMA cell" };
        var queues = new Option<int?>("--queues") { Description = "virtio queue pairs of a normal or macvtap port (default: the vCPU count, at most 8)" };
        var distinct = new Option<bool>("--ha-distinct-adapters") { Description = "The two VFs on two different adapters, never two ports of one card (fail rather than fall back)" };
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
        var fixedIps = new Option<string[]>("--fixed-ip") { Description = "subnet=SUBNET,ip-address=IP, either key optional (repeatable; default: one address per IP version)" };
        KeyValues.Validate(fixedIps, FixedIpKeys, []);
        var noFixedIp = new Option<bool>("--no-fixed-ip") { Description = "No address at all" };
        var qosPolicy = new Option<string?>("--qos-policy") { Description = "A QoS policy (name or id); on a VF its egress rules become the VF rates" };
        var groups = new Option<string[]>("--security-group") { Description = "A security group (name or id; repeatable; normal ports only; default: the project's default group)" };
        var noGroups = new Option<bool>("--no-security-group") { Description = "No security group" };
        var noPortSecurity = new Option<bool>("--disable-port-security") { Description = "Port security off: no security groups, and the VF's spoof check off unless --spoof-check says" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var verb = ClientCommand.Create("create", "Create a port", console, fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[]
                 { network, vnic, ha, distinct, irqVcpus, queues, mac, qos, spoof, trust, maxRate, minRate, bond, addresses, gateway, fixedIps, noFixedIp, qosPolicy, groups, noGroups, noPortSecurity, project })
            verb.Command.Options.Add(option);
        verb.Command.Validators.Add(result =>
        {
            if (result.GetValue(noFixedIp) && result.GetValue(fixedIps) is { Length: > 0 })
                result.AddError("--fixed-ip and --no-fixed-ip: give one of them");
            if (result.GetValue(noGroups) && result.GetValue(groups) is { Length: > 0 })
                result.AddError("--security-group and --no-security-group: give one of them");
        });
        verb.SetAction(async (parse, api, output, ct) =>
        {
            // Sent as given: the API judges the word against its own table (a newer server may take a kind this CLI does not know).
            var vnicType = parse.GetValue(vnic);
            JsonArray? ips = parse.GetValue(noFixedIp) ? [] : null;
            if (parse.GetValue(fixedIps) is { Length: > 0 } given)
            {
                ips = new JsonArray(given.Select(text =>
                {
                    var values = KeyValues.Parse(fixedIps.Name, text, FixedIpKeys).Values!;
                    return (JsonNode?)new JsonObject().With("subnet", values.GetValueOrDefault("subnet")).With("ipAddress", values.GetValueOrDefault("ip-address"));
                }).ToArray());
            }
            JsonArray? securityGroups = parse.GetValue(noGroups) ? [] : null;
            if (parse.GetValue(groups) is { Length: > 0 } named)
                securityGroups = new JsonArray(named.Select(g => (JsonNode?)g).ToArray());
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["network"] = parse.GetValue(network) }
                .With("vnicType", vnicType)
                .With("ha", parse.GetValue(ha) ? true : null)
                .With("haDistinctAdapters", parse.GetValue(distinct) ? true : null)
                .With("irqVcpus", parse.GetValue(irqVcpus) is { } list ? new JsonArray(list.Split(',', StringSplitOptions.TrimEntries).Select(v => (JsonNode?)(int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) ? JsonValue.Create(n) : JsonValue.Create(v))).ToArray()) : null)
                .With("queues", parse.GetValue(queues))
                .With("mac", parse.GetValue(mac))
                .With("vlanQos", parse.GetValue(qos))
                .With("spoofCheck", parse.GetValue(spoof) is { } s ? s == "on" : null)
                .With("trust", parse.GetValue(trust) ? true : null)
                .With("maxTxRateMbps", parse.GetValue(maxRate))
                .With("minTxRateMbps", parse.GetValue(minRate))
                .With("bondMode", parse.GetValue(bond))
                .With("addresses", parse.GetValue(addresses) is { Length: > 0 } a ? new JsonArray(a.Select(x => (JsonNode?)x).ToArray()) : null)
                .With("gateway", parse.GetValue(gateway))
                .With("fixedIps", ips)
                .With("qosPolicy", parse.GetValue(qosPolicy))
                .With("securityGroups", securityGroups)
                .With("portSecurityEnabled", parse.GetValue(noPortSecurity) ? false : null)
                .With("project", parse.GetValue(project));
            var answer = await api.PostAsync("/v1/ports", body, ct);
            await ResourceVerbs.ResolveAsync(resolve, output, api, answer, ct);
            output.Show(answer);
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
