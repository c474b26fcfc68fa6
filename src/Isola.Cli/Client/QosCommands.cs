using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Cli.Client;

/// <summary>
/// <c>isola network qos policy create|list|show|delete</c> and <c>isola network qos rule create|list|delete</c>:
/// /v1/qos-policies and their rules, in the openstack client's words.
/// </summary>
internal static class QosCommands
{
    private static readonly Column[] PolicyColumns =
        [Column.Of("id"), Column.Of("name"), Column.Of("project"), Column.Of("shared"), Column.Of("description"), Column.Of("rules", Rules)];

    private static readonly Column[] RuleColumns =
        [Column.Of("id"), Column.Of("type"), Column.Of("direction"), Column.Of("maxKbps"), Column.Of("maxBurstKbps"), Column.Of("minKbps"), Column.Of("dscpMark")];

    public static Command Create(CliConsole console)
    {
        var qos = new Command("qos", "QoS policies and their rules (bandwidth-limit, minimum-bandwidth, dscp-marking)");
        qos.Subcommands.Add(Policies(console));
        qos.Subcommands.Add(RuleCommands(console));
        return qos;
    }

    private static Command Policies(CliConsole console)
    {
        var group = new Command("policy", "QoS policies: a port names one; on a VF its egress rules become the VF's rates");
        var name = new Argument<string>("name") { Description = "The policy's name" };
        var share = new Option<bool>("--share") { Description = "Seen and used by every project (admin)" };
        var description = new Option<string?>("--description") { Description = "What it is for (at most 255 characters)" };
        var project = new Option<string?>("--project") { Description = "The project it is for (admin tokens must say)" };
        var create = ClientCommand.Create("create", "Create a QoS policy (no rules yet: add them with 'network qos rule create')", console, PolicyColumns);
        create.Command.Arguments.Add(name);
        foreach (var option in new Option[] { share, description, project })
            create.Command.Options.Add(option);
        create.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["name"] = parse.GetValue(name) }
                .With("shared", parse.GetValue(share) ? true : null)
                .With("description", parse.GetValue(description))
                .With("project", parse.GetValue(project));
            output.Show(await api.PostAsync("/v1/qos-policies", body, ct));
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(create.Command);
        group.Subcommands.Add(ResourceVerbs.List(console, "qos-policies", "QoS policy", PolicyColumns, filters: ListFlag.Name("QoS policy")));
        group.Subcommands.Add(ResourceVerbs.Show(console, "qos-policies", "QoS policy", PolicyColumns, RulesTable));
        group.Subcommands.Add(ResourceVerbs.Delete(console, "qos-policies", "QoS policy"));
        return group;
    }

    private static Command RuleCommands(CliConsole console)
    {
        var group = new Command("rule", "A QoS policy's rules");
        group.Subcommands.Add(CreateRule(console));

        var listPolicy = new Argument<string>("policy") { Description = "The QoS policy's name or id" };
        var list = ClientCommand.Create("list", "List a QoS policy's rules", console, RuleColumns);
        list.Command.Arguments.Add(listPolicy);
        list.SetAction(async (parse, api, output, ct) =>
        {
            using var policy = JsonDocument.Parse(await api.GetAsync(ApiClient.PathOf("qos-policies", parse.GetValue(listPolicy)!), ct));
            output.List(Column.Property(policy.RootElement, "rules") is { ValueKind: JsonValueKind.Array } rules ? rules.GetRawText() : "[]");
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(list.Command);

        var deletePolicy = new Argument<string>("policy") { Description = "The QoS policy's name or id" };
        var rule = new Argument<string>("rule") { Description = "The rule's id" };
        var delete = ClientCommand.Create("delete", "Delete a QoS policy's rule (refused while ports use the policy)", console, []);
        delete.Command.Arguments.Add(deletePolicy);
        delete.Command.Arguments.Add(rule);
        delete.SetAction(async (parse, api, _, ct) =>
        {
            await api.DeleteAsync($"{ApiClient.PathOf("qos-policies", parse.GetValue(deletePolicy)!)}/rules/{Uri.EscapeDataString(parse.GetValue(rule)!)}", ct);
            return ExitCodes.Ok;
        });
        group.Subcommands.Add(delete.Command);
        return group;
    }

    private static Command CreateRule(CliConsole console)
    {
        var policy = new Argument<string>("policy") { Description = "The QoS policy's name or id" };
        var type = new Option<string>("--type") { Description = "bandwidth-limit, minimum-bandwidth or dscp-marking", Required = true };
        type.AcceptOnlyFromAmong("bandwidth-limit", "minimum-bandwidth", "dscp-marking");
        var maxKbps = new Option<long?>("--max-kbps") { Description = "bandwidth-limit: the ceiling, kbps" };
        var maxBurst = new Option<long?>("--max-burst-kbits") { Description = "bandwidth-limit: the burst, kbits (a VF has no burst knob)" };
        var minKbps = new Option<long?>("--min-kbps") { Description = "minimum-bandwidth: the guaranteed rate, kbps" };
        var egress = new Option<bool>("--egress") { Description = "What the VM sends (the default)" };
        var ingress = new Option<bool>("--ingress") { Description = "What the VM receives (not on a VF)" };
        var dscp = new Option<int?>("--dscp-mark") { Description = "dscp-marking: 0, 8, 10, ..., 40, 46, 48 or 56 (not on a VF)" };
        var verb = ClientCommand.Create("create", "Add a rule to a QoS policy (refused while ports use it)", console, RuleColumns);
        verb.Command.Arguments.Add(policy);
        foreach (var option in new Option[] { type, maxKbps, maxBurst, minKbps, egress, ingress, dscp })
            verb.Command.Options.Add(option);
        verb.Command.Validators.Add(result =>
        {
            if (result.GetValue(egress) && result.GetValue(ingress))
                result.AddError("--egress and --ingress: give one of them");
        });
        verb.SetAction(async (parse, api, output, ct) =>
        {
            var body = new JsonObject { ["type"] = parse.GetValue(type) }
                .With("maxKbps", parse.GetValue(maxKbps))
                .With("maxBurstKbps", parse.GetValue(maxBurst))
                .With("minKbps", parse.GetValue(minKbps))
                .With("direction", parse.GetValue(ingress) ? "ingress" : parse.GetValue(egress) ? "egress" : null)
                .With("dscpMark", parse.GetValue(dscp));
            output.Show(await api.PostAsync($"{ApiClient.PathOf("qos-policies", parse.GetValue(policy)!)}/rules", body, ct));
            return ExitCodes.Ok;
        });
        return verb.Command;
    }

    /// <summary>A rule in a few words: "bandwidth-limit egress 100000 kbps (burst 0 kbits)".</summary>
    private static string Rule(JsonElement r)
    {
        var type = Column.TextAt(r, "type");
        return type switch
        {
            "bandwidth-limit" => $"{type} {Column.TextAt(r, "direction")} {Column.TextAt(r, "maxKbps")} kbps" +
                                 (Column.TextAt(r, "maxBurstKbps") is { } burst and not "0" ? $" (burst {burst} kbits)" : ""),
            "minimum-bandwidth" => $"{type} {Column.TextAt(r, "direction")} {Column.TextAt(r, "minKbps")} kbps",
            "dscp-marking" => $"{type} {Column.TextAt(r, "dscpMark")}",
            _ => type ?? "?",
        };
    }

    private static string? Rules(JsonElement policy) =>
        Column.Property(policy, "rules") is { ValueKind: JsonValueKind.Array } rules && rules.GetArrayLength() > 0
            ? string.Join("; ", rules.EnumerateArray().Select(Rule))
            : null;

    /// <summary>The table under <c>network qos policy show</c>: each rule with its id (what <c>rule delete</c> takes).</summary>
    private static void RulesTable(CliConsole console, JsonElement policy)
    {
        if (Column.Property(policy, "rules") is { ValueKind: JsonValueKind.Array } rules && rules.GetArrayLength() > 0)
            ResultWriter.SubTable(console, "Rules", RuleColumns, rules.EnumerateArray());
    }
}
