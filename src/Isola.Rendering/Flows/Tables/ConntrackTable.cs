namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Tables 30 (egress conntrack) and 60 (ingress conntrack), per port: for a port with port security,
/// neighbour discovery (ICMPv6 133-136) passes on without conntrack and IPv4/IPv6 go through
/// conntrack in the network's zone to the rules table; everything else of the port (ARP) passes on.
/// </summary>
internal static class ConntrackTable
{
    private static readonly string[] NeighbourDiscovery = ["133", "134", "135", "136"];

    public static void Render(FlowSet flows, FlowContext context, FlowDirection direction)
    {
        flows.Add(direction.Conntrack, 0, "", "drop");
        var next = $"goto_table:{direction.Next}";
        foreach (var l in context.Local)
        {
            var port = $"{direction.Register}={l.Ofport}";
            if (l.Port.PortSecurity)
            {
                foreach (var type in NeighbourDiscovery)
                    flows.Add(direction.Conntrack, 150, $"{port},icmp6,icmpv6_type={type}", next);
                foreach (var l3 in new[] { "ip", "ipv6" })
                    flows.Add(direction.Conntrack, 100, $"{port},{l3}", $"ct(table={direction.Rules},zone=NXM_NX_REG6[0..15])");
            }
            flows.Add(direction.Conntrack, 50, port, next);
        }
    }
}
