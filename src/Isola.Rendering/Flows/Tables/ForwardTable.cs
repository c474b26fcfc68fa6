namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Table 50, per network: a local MAC goes to that port's ingress tables; a remote MAC (l2population)
/// out of its host's tunnel with the network's key. From outside (<c>reg5=0</c>) broadcast and
/// multicast reach only the local ports and anything else is dropped (no hairpin between tunnels);
/// from a VM, broadcast and multicast go to the local ports and the uplink, unknown unicast to the
/// uplink only. Flooded frames reach each member through its ingress tables (rules, meter), one
/// resubmit per member: conntrack forks the packet there, and the original goes on to the next member
/// and the uplink.
/// </summary>
internal static class ForwardTable
{
    public static void Render(FlowSet flows, FlowContext context)
    {
        foreach (var (_, zone, members, uplink) in context.Networks)
        {
            foreach (var tunnel in uplink.Peers)
            {
                foreach (var remote in tunnel.Peer.Ports.OrderBy(r => r.Mac, StringComparer.Ordinal))
                    flows.Add(FlowTables.Forward, 90, $"reg6={zone},dl_dst={FlowText.Mac(remote.Mac)}",
                        $"set_field:{FlowText.Hex(uplink.TunnelKey!.Value)}->tun_id,output:{tunnel.Ofport}");
            }
            foreach (var m in members)
                flows.Add(FlowTables.Forward, 100, $"reg6={zone},dl_dst={FlowText.Mac(m.Port.Mac)}",
                    $"set_field:{m.Ofport}->reg7,goto_table:{FlowTables.IngressConntrack}");
            var memberOutputs = string.Join(",", members.Select(m => $"set_field:{m.Ofport}->reg7,resubmit(,{FlowTables.IngressConntrack})"));
            var output = uplink.Output;
            flows.Add(FlowTables.Forward, 96, $"reg5=0,reg6={zone},{FlowText.BroadcastOrMulticast}", memberOutputs);
            flows.Add(FlowTables.Forward, 95, $"reg5=0,reg6={zone}", "drop");
            flows.Add(FlowTables.Forward, 80, $"reg6={zone},{FlowText.BroadcastOrMulticast}", output is null ? memberOutputs : $"{memberOutputs},{output}");
            flows.Add(FlowTables.Forward, 70, $"reg6={zone}", output ?? "drop");
        }
    }
}
