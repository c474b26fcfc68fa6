namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Table 40: IPv4 and IPv6 packets from a port with a DSCP mark get it (<c>set_field:N->ip_dscp</c>:
/// the six DSCP bits, the two ECN bits kept), whatever the VM set; everything else passes unchanged. It
/// sits after the egress security groups (30/31, or straight from 10 and 30 for a port without port
/// security) and before forwarding, so the mark is on the packet on every way out of the port: to a
/// local port, into a tunnel, onto a VLAN. ARP (20 → 50) is not IP and never comes here.
/// </summary>
internal static class MarkingTable
{
    public static void Render(FlowSet flows, FlowContext context)
    {
        var next = $"goto_table:{FlowTables.Forward}";
        flows.Add(FlowTables.Marking, 0, "", next);
        foreach (var (port, ofport, _, _) in context.Local)
        {
            if (port.DscpMark is not { } mark)
                continue;
            if (mark is < 0 or > 63)
                throw new ArgumentException($"port {port.Id}: DSCP mark {mark} is not 0-63", nameof(context));
            foreach (var l3 in new[] { "ip", "ipv6" })
                flows.Add(FlowTables.Marking, 100, $"reg5={ofport},{l3}", $"set_field:{mark}->ip_dscp,{next}");
        }
    }
}
