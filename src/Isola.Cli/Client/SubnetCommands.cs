using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary><c>isola subnet create|list|show|delete</c>: /v1/subnets, the prefixes ports take their addresses from.</summary>
internal static class SubnetCommands
{
    private static readonly string[] PoolKeys = ["start", "end"];

    private static readonly Column[] ListColumns =
        [Column.Of("id"), Column.Of("name"), Column.Of("network"), Column.Of("cidr"), Column.Of("gatewayIp")];

    private static readonly Column[] Fields =
    [
        Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("network"), Column.Of("ipVersion"), Column.Of("cidr"),
        Column.Of("gatewayIp"), Column.Of("allocationPools", Pools), Column.Of("dnsNameservers"), Column.Of("enableDhcp"),
    ];

    public static Command Create(CliConsole console)
    {
        var group = new Command("subnet", "Subnets: a network's IPv4 and IPv6 prefixes, gateway and allocation pools, through the API");
        group.Subcommands.Add(CreateVerb(console));
        group.Subcommands.Add(ListVerb(console));
        group.Subcommands.Add(ResourceVerbs.Show(console, "subnets", "subnet", Fields));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "subnets", "subnet"));
        return group;
    }

    private static Command CreateVerb(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The subnet's name" };
        var network = new Option<string>("--network") { Description = "The network's name or id", Required = true };
        var range = new Option<string>("--subnet-range") { Description = "The prefix, e.g. 10.0.0.0/24 or fd00::/64 (host bits zero)", Required = true };
        var gateway = new Option<string?>("--gateway") { Description = "The gateway address, or none (default: the first host address)" };
        var pools = new Option<string[]>("--allocation-pool") { Description = "start=IP,end=IP: addresses ports get (repeatable; default: every host address but the gateway)" };
        KeyValues.Validate(pools, PoolKeys, PoolKeys);
        var dns = new Option<string[]>("--dns-nameserver") { Description = "A DNS server for the guests (repeatable, at most 5)" };
        var noDhcp = new Option<bool>("--no-dhcp") { Description = "DHCP off (the guest's network config still carries the address)" };
        var project = new Option<string?>("--project") { Description = "The network's project (a subnet is in its network's project)" };
        var verb = ClientCommand.Create("create", "Create a subnet", console, Fields);
        verb.Command.Arguments.Add(name);
        foreach (var option in new Option[] { network, range, gateway, pools, dns, noDhcp, project })
            verb.Command.Options.Add(option);
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name), ["network"] = parse.GetValue(network), ["cidr"] = parse.GetValue(range) };
            // Absent: the server's default gateway; "none": JSON null, a subnet without one.
            if (parse.GetValue(gateway) is { } g)
                body["gatewayIp"] = string.Equals(g, "none", StringComparison.OrdinalIgnoreCase) ? null : g;
            if (parse.GetValue(pools) is { Length: > 0 } given)
            {
                body["allocationPools"] = new JsonArray(given.Select(p =>
                {
                    var values = KeyValues.Parse(pools.Name, p, PoolKeys).Values!;
                    return (JsonNode?)new JsonObject { ["start"] = values["start"], ["end"] = values["end"] };
                }).ToArray());
            }
            body.With("dnsNameservers", parse.GetValue(dns) is { Length: > 0 } d ? new JsonArray(d.Select(x => (JsonNode?)x).ToArray()) : null)
                .With("enableDhcp", parse.GetValue(noDhcp) ? false : null)
                .With("project", parse.GetValue(project));
            output.Show(await api.PostAsync("/v1/subnets", body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary><c>subnet list [--network N] [--name N] [--limit N] [--marker M]</c>: the network is looked up first (an unknown one is a 404, not an empty list).</summary>
    private static Command ListVerb(CliConsole console)
    {
        var network = new Option<string?>("--network") { Description = "Only this network's subnets (name or id)" };
        var verb = ClientCommand.Create("list", "List subnets", console, ListColumns);
        verb.Command.Options.Add(network);
        var paging = new ListPaging(verb.Command, ListFlag.Name("subnet"));
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var path = "/v1/subnets";
            if (parse.GetValue(network) is { } n)
            {
                using var found = JsonDocument.Parse(await api.GetAsync(ApiClient.PathOf("networks", n), ct));
                path += "?network=" + Uri.EscapeDataString(Column.TextAt(found.RootElement, "id") ?? n);
            }
            output.List(await paging.ReadAsync(parse, api, console, path, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary>"10.0.0.2-10.0.0.254, 10.0.1.10-10.0.1.20".</summary>
    private static string? Pools(JsonElement subnet) =>
        Column.Property(subnet, "allocationPools") is { ValueKind: JsonValueKind.Array } pools && pools.GetArrayLength() > 0
            ? string.Join(", ", pools.EnumerateArray().Select(p => $"{Column.TextAt(p, "start")}-{Column.TextAt(p, "end")}"))
            : null;
}
