namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Tables 31 (egress rules) and 61 (ingress rules): invalid connections dropped, established and
/// related ones passed on, and a new connection that a security group rule of the port allows is
/// committed to conntrack and passed on; the rest is dropped. A rule whose remote is several
/// addresses (a remote group) is one conjunctive match shared by every port with that rule
/// (<see cref="SharedRule"/>): O(ports + addresses) flows, not their product.
/// </summary>
internal static class RuleTable
{
    public static void Render(FlowSet flows, FlowContext context, FlowDirection direction)
    {
        var table = direction.Rules;
        var next = $"goto_table:{direction.Next}";
        var commit = $"ct(commit,zone=NXM_NX_REG6[0..15]),{next}";
        flows.Add(table, 0, "", "drop");
        flows.Add(table, 200, "ct_state=+inv+trk", "drop");
        flows.Add(table, 190, "ct_state=-new+est-inv+trk", next);
        flows.Add(table, 190, "ct_state=-new+rel-inv+trk", next);
        foreach (var l in context.Local.Where(l => l.Port.PortSecurity))
        {
            foreach (var rule in l.Rules.Where(r => direction.Holds(r) && r.Remotes is not { Count: > 1 }))
            {
                foreach (var match in Matches(rule))
                    flows.Add(table, 100, $"{direction.Register}={l.Ofport},ct_state=+new-est-inv+trk,{match}", commit);
            }
        }
        Conjunctions(flows, context.SharedRules.Where(s => direction.Holds(s.Rule)), direction, commit);
    }

    /// <summary>Rules with the same key are one rule: a remote group's rules are keyed by the group, not its (long) member list.</summary>
    public static string Key(SecurityRule r) =>
        $"{r.Direction}|{r.Version}|{r.Protocol}|{r.PortMin}|{r.PortMax}|" +
        (r.RemoteGroup is not null ? "group:" + r.RemoteGroup : r.Remotes is null ? "*" : string.Join(",", r.Remotes.Order(StringComparer.Ordinal)));

    /// <summary>
    /// Shared rules as conjunctive matches (priority 90): clause 1 is the port and the protocol/ports,
    /// clause 2 the remote address; a flow that serves several rules carries one conjunction action for each.
    /// </summary>
    private static void Conjunctions(FlowSet flows, IEnumerable<SharedRule> shared, FlowDirection direction, string commit)
    {
        var table = direction.Rules;
        var clauses = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        void Clause(string match, string action)
        {
            if (!clauses.TryGetValue(match, out var actions))
                clauses[match] = actions = [];
            actions.Add(action);
        }
        foreach (var (id, rule, ports) in shared)
        {
            var (l3, remoteField, l4) = Parts(rule);
            foreach (var port in ports.Distinct().Order())
                foreach (var ports4 in l4)
                    Clause($"{direction.Register}={port},ct_state=+new-est-inv+trk,{l3}{ports4}", $"conjunction({id},1/2)");
            foreach (var remote in rule.Remotes!.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                Clause($"ct_state=+new-est-inv+trk,{l3},{remoteField}={remote}", $"conjunction({id},2/2)");
            flows.Add(table, 90, $"conj_id={id},{(rule.Version == 6 ? "ipv6" : "ip")}", commit);
        }
        foreach (var (match, actions) in clauses)
            flows.Add(table, 90, match, string.Join(",", actions));
    }

    /// <summary>A rule's protocol match, the field its remote end is in, and its port (or ICMP type/code) matches.</summary>
    private static (string L3, string RemoteField, IReadOnlyList<string> L4) Parts(SecurityRule rule)
    {
        var v6 = rule.Version == 6;
        var l3 = rule.Protocol switch
        {
            "tcp" => v6 ? "tcp6" : "tcp",
            "udp" => v6 ? "udp6" : "udp",
            "icmp" or "icmpv6" => v6 ? "icmp6" : "icmp",
            null => v6 ? "ipv6" : "ip",
            var number => $"{(v6 ? "ipv6" : "ip")},nw_proto={number}",
        };
        var remoteField = rule.Direction == "egress" ? (v6 ? "ipv6_dst" : "nw_dst") : (v6 ? "ipv6_src" : "nw_src");
        List<string> l4 = [""];
        if (rule.Protocol is "tcp" or "udp" && rule.PortMin is { } min && rule.PortMax is { } max && !(min <= 1 && max == 65535))
            l4 = PortRangeMasks.Matches("tp_dst", min, max).Select(m => "," + m).ToList();
        else if (rule.Protocol is "icmp" or "icmpv6" && rule.PortMin is { } type)
            l4 = [$",{(v6 ? "icmpv6" : "icmp")}_type={type}{(rule.PortMax is { } code ? $",{(v6 ? "icmpv6" : "icmp")}_code={code}" : "")}"];
        return (l3, remoteField, l4);
    }

    /// <summary>The matches of a rule with at most one remote address: one per remote (or none for "any") and port range part.</summary>
    private static IEnumerable<string> Matches(SecurityRule rule)
    {
        if (rule.Remotes is { Count: 0 })
            yield break;
        var (l3, remoteField, l4) = Parts(rule);
        var remotes = rule.Remotes is null ? [""] : rule.Remotes.Order(StringComparer.Ordinal).Select(r => $",{remoteField}={r}").ToList();
        foreach (var remote in remotes)
            foreach (var ports in l4)
                yield return l3 + remote + ports;
    }
}
