using System.Net;
using System.Net.Sockets;

namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Table 10: a VM sends only from its MAC, and IP and ARP only from its fixed addresses (and its IPv6
/// link-local address); a port without addresses is held to its MAC only. ARP goes on to the ARP
/// responder, IP to egress conntrack, anything else is dropped. A port with port security off passes
/// unchecked.
/// </summary>
internal static class PortSecurityTable
{
    public static void Render(FlowSet flows, FlowContext context)
    {
        flows.Add(FlowTables.PortSecurity, 0, "", "drop");
        var toArp = $"goto_table:{FlowTables.ArpResponder}";
        var toConntrack = $"goto_table:{FlowTables.EgressConntrack}";
        foreach (var (port, ofport, _, _) in context.Local)
        {
            if (!port.PortSecurity)
            {
                flows.Add(FlowTables.PortSecurity, 100, $"reg5={ofport},arp", toArp);
                flows.Add(FlowTables.PortSecurity, 90, $"reg5={ofport}", toConntrack);
                continue;
            }
            var mac = FlowText.Mac(port.Mac);
            foreach (var ip in port.Ips.Order(StringComparer.Ordinal))
            {
                if (IPAddress.Parse(ip).AddressFamily == AddressFamily.InterNetwork)
                {
                    flows.Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},arp,arp_sha={mac},arp_spa={ip}", toArp);
                    flows.Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},ip,nw_src={ip}", toConntrack);
                }
                else
                {
                    flows.Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},ipv6,ipv6_src={ip}", toConntrack);
                }
            }
            // IPv6 link-local (EUI-64 of the MAC).
            flows.Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},ipv6,ipv6_src={FlowPipeline.LinkLocal(mac)}", toConntrack);
            NeighbourDiscovery(flows, port, ofport, mac);
            if (port.Ips.Count == 0)
            {
                flows.Add(FlowTables.PortSecurity, 90, $"reg5={ofport},dl_src={mac},arp,arp_sha={mac}", toArp);
                flows.Add(FlowTables.PortSecurity, 90, $"reg5={ofport},dl_src={mac},ip", toConntrack);
                flows.Add(FlowTables.PortSecurity, 90, $"reg5={ofport},dl_src={mac},ipv6", toConntrack);
            }
        }
    }

    /// <summary>
    /// IPv6 neighbour discovery from a port with port security: no router advertisements or redirects;
    /// a neighbour advertisement only for its own addresses with its own MAC (or none) as target
    /// link-layer address; a solicitation only from its addresses (or :: for duplicate detection) with
    /// its own MAC (or none) as source link-layer address. Other ND from it is dropped. A port without
    /// addresses is held to its MAC only.
    /// </summary>
    private static void NeighbourDiscovery(FlowSet flows, OverlayPort port, int ofport, string mac)
    {
        var next = $"goto_table:{FlowTables.EgressConntrack}";
        flows.Add(FlowTables.PortSecurity, 120, $"reg5={ofport},icmp6,icmpv6_type=134", "drop");
        flows.Add(FlowTables.PortSecurity, 120, $"reg5={ofport},icmp6,icmpv6_type=137", "drop");
        List<string?> own = [.. port.Ips.Where(ip => IPAddress.Parse(ip).AddressFamily == AddressFamily.InterNetworkV6).Order(StringComparer.Ordinal), FlowPipeline.LinkLocal(mac)];
        var checkAddresses = port.Ips.Count > 0;
        string[] linkLayer = [mac, "00:00:00:00:00:00"];
        foreach (var address in checkAddresses ? own : new List<string?> { null })
        {
            var target = address is null ? "" : $",ipv6_src={address},nd_target={address}";
            foreach (var tll in linkLayer)
                flows.Add(FlowTables.PortSecurity, 115, $"reg5={ofport},dl_src={mac},icmp6,icmpv6_type=136,icmpv6_code=0{target},nd_tll={tll}", next);
        }
        foreach (var source in checkAddresses ? [.. own, "::"] : new List<string?> { null })
        {
            var from = source is null ? "" : $",ipv6_src={source}";
            foreach (var sll in linkLayer)
                flows.Add(FlowTables.PortSecurity, 115, $"reg5={ofport},dl_src={mac},icmp6,icmpv6_type=135,icmpv6_code=0{from},nd_sll={sll}", next);
        }
        flows.Add(FlowTables.PortSecurity, 110, $"reg5={ofport},icmp6,icmpv6_type=135", "drop");
        flows.Add(FlowTables.PortSecurity, 110, $"reg5={ofport},icmp6,icmpv6_type=136", "drop");
    }
}
