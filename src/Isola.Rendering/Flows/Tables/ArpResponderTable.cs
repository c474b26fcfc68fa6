using System.Net;
using System.Net.Sockets;

namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Table 20: an ARP request for an IPv4 address known on the network (a local port's or a peer's) is
/// answered here and sent back out of the asking port; an owner asking for its own address
/// (gratuitous ARP, duplicate detection) passes on; everything else goes to forwarding.
/// </summary>
internal static class ArpResponderTable
{
    public static void Render(FlowSet flows, FlowContext context)
    {
        foreach (var (network, zone, members, _) in context.Networks)
        {
            var known = members.SelectMany(m => m.Port.Ips.Select(ip => (Ip: ip, m.Port.Mac, Owner: (int?)m.Ofport)))
                .Concat(network.Peers.SelectMany(p => p.Ports).SelectMany(r => r.Ips.Select(ip => (Ip: ip, r.Mac, Owner: (int?)null))))
                .Where(k => IPAddress.Parse(k.Ip).AddressFamily == AddressFamily.InterNetwork)
                .DistinctBy(k => k.Ip, StringComparer.Ordinal)
                .OrderBy(k => k.Ip, StringComparer.Ordinal);
            foreach (var (ip, mac, owner) in known)
            {
                if (owner is { } o)
                    flows.Add(FlowTables.ArpResponder, 110, $"reg5={o},arp,arp_tpa={ip}", $"goto_table:{FlowTables.Forward}");
                flows.Add(FlowTables.ArpResponder, 100, $"reg6={zone},arp,arp_op=1,arp_tpa={ip}", Reply(mac, ip));
            }
        }
        flows.Add(FlowTables.ArpResponder, 0, "", $"goto_table:{FlowTables.Forward}");
    }

    /// <summary>The request turned into its reply in place (the asker's addresses become the target's, ours the sender's), out of the port it came in by.</summary>
    private static string Reply(string mac, string ip)
    {
        var macHex = "0x" + mac.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
        var ipHex = "0x" + Convert.ToHexStringLower(IPAddress.Parse(ip).GetAddressBytes());
        return "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]," +
               $"set_field:{FlowText.Mac(mac)}->eth_src," +
               "load:0x2->NXM_OF_ARP_OP[]," +
               "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]," +
               "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]," +
               $"load:{macHex}->NXM_NX_ARP_SHA[]," +
               $"load:{ipHex}->NXM_OF_ARP_SPA[]," +
               "IN_PORT";
    }
}
