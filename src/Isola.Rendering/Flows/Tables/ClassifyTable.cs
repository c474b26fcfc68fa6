namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// Table 0: where a frame comes from. An untagged frame from a VM's tap gets its port (<c>reg5</c>)
/// and network (<c>reg6</c>), through the port's egress meter, and goes to port security; a frame
/// from a peer's tunnel with the key of a network it shares, or from a patch port with the network's
/// VLAN (or untagged, for a flat network), gets its network and goes to forwarding. Anything else is
/// dropped — a frame a VM tagged itself too: on a flat network its tag would reach someone's VLAN.
/// </summary>
internal static class ClassifyTable
{
    public static void Render(FlowSet flows, FlowContext context)
    {
        flows.Add(FlowTables.Classify, 0, "", "drop");
        foreach (var (port, ofport, _, zone) in context.Local)
        {
            var meter = "";
            if (port.Egress is not null)
            {
                meter = $"meter:{FlowPipeline.EgressMeter(ofport)},";
                flows.Add(new Meter(FlowPipeline.EgressMeter(ofport), port.Egress.Kbps, port.Egress.BurstKb));
            }
            flows.Add(FlowTables.Classify, 100, $"in_port={ofport},vlan_tci=0x0000/0x1fff",
                $"{meter}set_field:{ofport}->reg5,set_field:{zone}->reg6,goto_table:{FlowTables.PortSecurity}");
        }
        foreach (var network in context.Networks)
        {
            var uplink = network.Uplink;
            var toForward = $"set_field:{network.Zone}->reg6,goto_table:{FlowTables.Forward}";
            foreach (var tunnel in uplink.Peers)
                flows.Add(FlowTables.Classify, 100, $"in_port={tunnel.Ofport},tun_id={FlowText.Hex(uplink.TunnelKey!.Value)}", toForward);
            if (uplink.Patch is { } patch)
            {
                if (uplink.Vlan is { } vlan)
                    flows.Add(FlowTables.Classify, 100, $"in_port={patch},dl_vlan={vlan}", "pop_vlan," + toForward);
                else
                    flows.Add(FlowTables.Classify, 100, $"in_port={patch},vlan_tci=0x0000/0x1fff", toForward);
            }
        }
    }
}
