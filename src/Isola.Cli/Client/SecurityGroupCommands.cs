using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary>
/// <c>isola security group create|list|show|delete</c> and <c>isola security group rule create|list|show|delete</c>:
/// /v1/security-groups and /v1/security-group-rules. They filter normal (virtio) ports only.
/// </summary>
internal static class SecurityGroupCommands
{
    private static readonly Column[] GroupColumns = [Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("description")];

    private static readonly Column[] RuleColumns =
    [
        Column.Of("id"), Column.Of("securityGroup"), Column.Of("direction"), Column.Of("ethertype"), Column.Of("protocol"), Column.Of("portRange", PortRange),
        Column.Of("remoteIpPrefix"), Column.Of("remoteGroup"),
    ];

    public static Command Create(CliConsole console)
    {
        var security = new Command("security", "Security groups and their rules (they filter normal ports; SR-IOV ports bypass them)");
        security.Subcommands.Add(Groups(console));
        return security;
    }

    private static Command Groups(CliConsole console)
    {
        var group = new Command("group", "Security groups: a project gets a 'default' group on first use");
        var name = new Argument<string>("name") { Description = "The group's name" };
        var description = new Option<string?>("--description") { Description = "What it is for (at most 255 characters)" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var create = ClientCommand.Create("create", "Create a security group (no rules: it lets nothing in and nothing out)", console, GroupColumns);
        create.Command.Arguments.Add(name);
        create.Command.Options.Add(description);
        create.Command.Options.Add(project);
        create.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name) }.With("description", parse.GetValue(description)).With("project", parse.GetValue(project));
            output.Show(await api.PostAsync("/v1/security-groups", body, ct));
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(create.Command);
        group.Subcommands.Add(ResourceVerbs.List(console, "security-groups", "security group", GroupColumns, filters: ListFlag.Name("security group")));
        group.Subcommands.Add(ShowVerb(console));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "security-groups", "security group"));
        group.Subcommands.Add(Rules(console));
        return group;
    }

    /// <summary><c>security group show</c>: the group, then its rules as a table, remote groups by name.</summary>
    private static Command ShowVerb(CliConsole console)
    {
        var names = new NameLookup();
        Column[] ruleRows =
        [
            Column.Of("id"), Column.Of("direction"), Column.Of("ethertype"), Column.Of("protocol"), Column.Of("portRange", PortRange),
            Column.Of("remoteIpPrefix"), Column.Of("remoteGroup", r => Column.TextAt(r, "remoteGroup") is { } id ? names.Of(id) : null),
        ];
        return ResourceVerbs.Show(console, "security-groups", "security group", GroupColumns,
            (c, g) =>
            {
                if (Column.Property(g, "rules") is { ValueKind: JsonValueKind.Array } rules && rules.GetArrayLength() > 0)
                    ResultWriter.SubTable(c, "Rules", ruleRows, rules.EnumerateArray());
                else
                    c.Out.WriteLine("No rules: the group lets nothing through.");
            },
            async (api, g, ct) =>
            {
                if (Column.Property(g, "rules") is { ValueKind: JsonValueKind.Array } rules && rules.EnumerateArray().Any(r => Column.TextAt(r, "remoteGroup") is not null))
                    await names.LoadAsync(api, "security-groups", ct);
            });
    }

    private static Command Rules(CliConsole console)
    {
        var rules = new Command("rule", "Security group rules");
        rules.Subcommands.Add(CreateRule(console));

        var group = new Argument<string?>("group") { Description = "Only this group's rules (name or id)", Arity = ArgumentArity.ZeroOrOne };
        var list = ClientCommand.Create("list", "List security group rules", console, RuleColumns);
        list.Command.Arguments.Add(group);
        var paging = new ListPaging(list.Command);
        list.SetAction(async (parse, api, output, ct) =>
        {
            if (parse.GetValue(group) is not { } g)
            {
                output.List(await paging.ReadAsync(parse, api, console, "/v1/security-group-rules", ct));
                return ExitCodes.Ok;
            }
            // One group's rules: the group's own answer holds them all (and an unknown group is a 404, not an empty list).
            using var shown = JsonDocument.Parse(await api.GetAsync(ApiClient.PathOf("security-groups", g), ct));
            output.List(Column.Property(shown.RootElement, "rules") is { ValueKind: JsonValueKind.Array } r ? r.GetRawText() : "[]");
            return ExitCodes.Ok;
        });
        rules.Subcommands.Add(list.Command);
        rules.Subcommands.Add(ResourceVerbs.Show(console, "security-group-rules", "security group rule", RuleColumns));
        rules.Subcommands.Add(ResourceVerbs.Delete(console, "security-group-rules", "security group rule"));
        return rules;
    }

    private static Command CreateRule(CliConsole console)
    {
        var group = new Argument<string>("group") { Description = "The security group's name or id" };
        var protocol = new Option<string?>("--protocol") { Description = "tcp, udp, icmp, icmpv6, a protocol number 0-255, or any (the default)" };
        var dstPort = new Option<string?>("--dst-port") { Description = "A port or range PORT[:PORT] (tcp and udp)" };
        dstPort.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } text && PortRange(text) is null)
                result.AddError($"--dst-port: '{text}' is not PORT or PORT:PORT");
        });
        var icmpType = new Option<int?>("--icmp-type") { Description = "icmp and icmpv6: the type" };
        var icmpCode = new Option<int?>("--icmp-code") { Description = "icmp and icmpv6: the code (needs --icmp-type)" };
        var ingress = new Option<bool>("--ingress") { Description = "Traffic to the port (the default)" };
        var egress = new Option<bool>("--egress") { Description = "Traffic from the port" };
        var ethertype = new Option<string?>("--ethertype") { Description = "IPv4 or IPv6 (default: that of --remote-ip, else IPv4)" };
        ethertype.AcceptOnlyFromAmong("IPv4", "IPv6");
        var remoteIp = new Option<string?>("--remote-ip") { Description = "Only this prefix (CIDR) at the other end" };
        var remoteGroup = new Option<string?>("--remote-group") { Description = "Only the ports of this group (name or id) at the other end" };
        var verb = ClientCommand.Create("create", "Add a rule to a security group", console, RuleColumns);
        verb.Command.Arguments.Add(group);
        foreach (var option in new Option[] { protocol, dstPort, icmpType, icmpCode, ingress, egress, ethertype, remoteIp, remoteGroup })
            verb.Command.Options.Add(option);
        verb.Command.Validators.Add(result =>
        {
            if (result.GetValue(ingress) && result.GetValue(egress))
                result.AddError("--ingress and --egress: give one of them");
            if (result.GetValue(dstPort) is not null && (result.GetValue(icmpType) is not null || result.GetValue(icmpCode) is not null))
                result.AddError("--dst-port is for tcp and udp, --icmp-type and --icmp-code for icmp: give one kind");
        });
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var (min, max) = parse.GetValue(dstPort) is { } ports ? PortRange(ports)!.Value : (parse.GetValue(icmpType), parse.GetValue(icmpCode));
            var remote = parse.GetValue(remoteIp);
            var body = new JsonObject
            {
                ["securityGroup"] = parse.GetValue(group),
                ["direction"] = parse.GetValue(egress) ? "egress" : "ingress",
                ["ethertype"] = parse.GetValue(ethertype) ?? (remote?.Contains(':', StringComparison.Ordinal) == true ? "IPv6" : "IPv4"),
            }
                .With("protocol", parse.GetValue(protocol) is { } p && !string.Equals(p, "any", StringComparison.OrdinalIgnoreCase) ? p : null)
                .With("portRangeMin", min)
                .With("portRangeMax", max)
                .With("remoteIpPrefix", remote)
                .With("remoteGroup", parse.GetValue(remoteGroup));
            output.Show(await api.PostAsync("/v1/security-group-rules", body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary>"22" or "22:23" as (min, max); null when it is neither.</summary>
    private static (int? Min, int? Max)? PortRange(string text)
    {
        var parts = text.Split(':');
        if (parts.Length > 2 || parts.Any(p => !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            return null;
        var min = int.Parse(parts[0], CultureInfo.InvariantCulture);
        return (min, parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : min);
    }

    /// <summary>"22:23" (or the ICMP "type:code"); null when the rule has no range.</summary>
    private static string? PortRange(JsonElement rule) => (Column.TextAt(rule, "portRangeMin"), Column.TextAt(rule, "portRangeMax")) switch
    {
        (null, null) => null,
        (var min, null) => min,
        (var min, var max) => $"{min ?? "-"}:{max}",
    };
}
