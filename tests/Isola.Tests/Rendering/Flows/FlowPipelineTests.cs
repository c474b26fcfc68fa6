using Isola.Rendering.Flows;

namespace Isola.Tests.Rendering.Flows;

public class FlowPipelineTests
{
    private static OvsPlan Render(HostNetworkState state) => FlowPipeline.Render(state, FlowScenarios.Layout, FlowScenarios.Ofports(state));

    private static IReadOnlyList<string> IntegrationFlows(OvsPlan plan) => plan.Bridges.Single(b => b.Bridge == "br-int").Flows;

    [Fact]
    public void Tunnels_go_to_exactly_the_peers_sharing_a_network_with_a_local_port()
    {
        var all = FlowPipeline.Ports(FlowScenarios.State(), FlowScenarios.Layout);
        Assert.Equal(["gre-0a000003", "vxlan-0a000002"], all.Tunnels.Select(t => t.Name));
        Assert.All(all.Tunnels, t => Assert.Equal(FlowScenarios.LocalIp, t.LocalIp));
        Assert.Equal("int-br-physnet2", Assert.Single(all.Patches).IntegrationPort);

        // Only tenant A's VMs here: no GRE tunnel to h3, no patch to the VLAN network.
        var onlyA = FlowPipeline.Ports(FlowScenarios.State(FlowScenarios.A1), FlowScenarios.Layout);
        Assert.Equal("vxlan-0a000002", Assert.Single(onlyA.Tunnels).Name);
        Assert.Empty(onlyA.Patches);
    }

    [Fact]
    public void Rendering_is_deterministic_and_ignores_input_order()
    {
        var state = FlowScenarios.State();
        var shuffled = state with { Ports = state.Ports.Reverse().ToList(), Networks = state.Networks.Reverse().ToList() };
        var a = Render(state);
        var b = Render(shuffled);
        Assert.Equal(IntegrationFlows(a), IntegrationFlows(b));
        Assert.Equal(a.Cookie, b.Cookie);
    }

    [Fact]
    public void Every_flow_carries_the_cookie_and_the_cookie_moves_with_the_flow_set()
    {
        var full = Render(FlowScenarios.State());
        Assert.Equal(FlowPipeline.CookieMarker, full.Cookie & 0xffff_0000_0000_0000UL);
        Assert.All(full.Bridges.SelectMany(b => b.Flows), f => Assert.StartsWith($"cookie=0x{full.Cookie:x},table=", f));
        var fewer = Render(FlowScenarios.State(FlowScenarios.A1, FlowScenarios.B1));
        Assert.NotEqual(full.Cookie, fewer.Cookie);
    }

    [Fact]
    public void A_port_whose_tap_is_not_on_the_bridge_waits_and_has_no_flow()
    {
        var state = FlowScenarios.State();
        var ofports = FlowScenarios.Ofports(state);
        var tapA2 = ofports["tapa2"];
        ofports.Remove("tapa2");
        var plan = FlowPipeline.Render(state, FlowScenarios.Layout, ofports);
        Assert.Equal(["tapa2"], plan.Waiting);
        Assert.DoesNotContain("tapa2", plan.Rendered);
        Assert.DoesNotContain(IntegrationFlows(plan), f => f.Contains($"in_port={tapA2},", StringComparison.Ordinal) || f.Contains($"reg5={tapA2},", StringComparison.Ordinal)
            || f.Contains("fa:16:3e:00:00:a2", StringComparison.Ordinal));
    }

    [Fact]
    public void Remote_macs_are_unicast_on_their_tunnel_with_the_network_key()
    {
        var state = FlowScenarios.State();
        var ofports = FlowScenarios.Ofports(state);
        var flows = IntegrationFlows(Render(state));
        Assert.Contains(flows, f => f.EndsWith($"table=50,priority=90,reg6={Zone(FlowScenarios.NetA)},dl_dst=fa:16:3e:00:02:a3 actions=set_field:0x3e9->tun_id,output:{ofports["vxlan-0a000002"]}", StringComparison.Ordinal));
        Assert.Contains(flows, f => f.EndsWith($"table=0,priority=100,in_port={ofports["gre-0a000003"]},tun_id=0x3ea actions=set_field:{Zone(FlowScenarios.NetB)}->reg6,goto_table:50", StringComparison.Ordinal));
        // The VLAN network leaves tagged on the patch port and arrives untagged.
        Assert.Contains(flows, f => f.Contains($"push_vlan:0x8100,set_field:4196->vlan_vid,output:{ofports["int-br-physnet2"]}", StringComparison.Ordinal));
        Assert.Contains(flows, f => f.Contains($"in_port={ofports["int-br-physnet2"]},dl_vlan=100 actions=pop_vlan", StringComparison.Ordinal));
    }

    [Fact]
    public void Rules_become_conntrack_matches_with_port_ranges_as_masks_and_empty_groups_match_nothing()
    {
        var rules = new SecurityRule[]
        {
            new("ingress", 4, "tcp", 8000, 8099, ["10.1.0.0/24"]),
            new("ingress", 4, "udp", 53, 53, []),
            new("egress", 6, "icmpv6", 128, 0),
        };
        var port = FlowScenarios.A1 with { Rules = rules };
        var state = FlowScenarios.State(port);
        var ofport = FlowScenarios.Ofports(state)["tapa1"];
        var rulesTable = IntegrationFlows(Render(state)).Select(f => f[(f.IndexOf(",table=", StringComparison.Ordinal) + 1)..])
            .Where(f => f.StartsWith("table=31,priority=100,", StringComparison.Ordinal) || f.StartsWith("table=61,priority=100,", StringComparison.Ordinal)).ToList();
        Assert.Equal(
        [
            $"table=31,priority=100,reg5={ofport},ct_state=+new-est-inv+trk,icmp6,icmpv6_type=128,icmpv6_code=0 actions=ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:40",
            // 8000-8099 = 8000-8063, 8064-8095, 8096-8099.
            $"table=61,priority=100,reg7={ofport},ct_state=+new-est-inv+trk,tcp,nw_src=10.1.0.0/24,tp_dst=0x1f40/0xffc0 actions=ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:70",
            $"table=61,priority=100,reg7={ofport},ct_state=+new-est-inv+trk,tcp,nw_src=10.1.0.0/24,tp_dst=0x1f80/0xffe0 actions=ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:70",
            $"table=61,priority=100,reg7={ofport},ct_state=+new-est-inv+trk,tcp,nw_src=10.1.0.0/24,tp_dst=0x1fa0/0xfffc actions=ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:70",
        ], rulesTable.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_remote_groups_rule_is_one_conjunction_for_all_its_ports_linear_in_ports_and_members()
    {
        static int Flows(int ports)
        {
            var members = Enumerable.Range(1, ports).Select(i => $"10.1.{i / 250}.{i % 250 + 1}").ToList();
            var rule = new SecurityRule("ingress", 4, null, RemoteGroup: "default");
            var state = new HostNetworkState(FlowScenarios.LocalIp, [new OverlayNetwork(FlowScenarios.NetA, SegmentType.Vxlan, 1001, null, [])],
                members.Select((ip, i) => new OverlayPort($"p{i}", $"vm{i}", $"tap{i:d5}", FlowScenarios.NetA, $"fa:16:3e:00:{i / 256:x2}:{i % 256:x2}", [ip], [rule])).ToList(),
                new Dictionary<string, IReadOnlyList<string>> { ["default"] = [.. members.Select(m => m + "/32"), "fd00::1/128"] });
            var ofports = state.Ports.Select((p, i) => (p.Device, i + 1)).ToDictionary(x => x.Device, x => x.Item2);
            return FlowPipeline.Render(state, FlowScenarios.Layout, ofports).Bridges[0].Flows.Count;
        }
        var (f50, f100, f200) = (Flows(50), Flows(100), Flows(200));
        // Linear: doubling the ports (each also a member) adds about as much as the step before did.
        Assert.InRange(f200 - f100, (f100 - f50) * 19 / 10, (f100 - f50) * 21 / 10);
        Assert.True(f200 < 200 * 40, $"{f200} flows for 200 ports");
        var flows = IntegrationFlows(Render(FlowScenarios.State()));
        var conj = flows.Where(f => f.Contains("conjunction(", StringComparison.Ordinal)).ToList();
        // Both ports' clause-1 flows and the two members' clause-2 flows, one conjunction id.
        Assert.Equal(4, conj.Count);
        Assert.Single(flows, f => f.Contains("conj_id=", StringComparison.Ordinal));
    }

    [Fact]
    public void Rate_limits_become_meters_on_the_way_in_and_out_of_the_port()
    {
        var state = FlowScenarios.State();
        var ofport = FlowScenarios.Ofports(state)["tapb1"];
        var plan = Render(state);
        Assert.Equal([new Meter(ofport * 2, 10_000, 1_000), new Meter(ofport * 2 + 1, 20_000, 2_000)], plan.Meters);
        var flows = IntegrationFlows(plan);
        Assert.Contains(flows, f => f.Contains($"table=0,priority=100,in_port={ofport},vlan_tci=0x0000/0x1fff actions=meter:{ofport * 2},", StringComparison.Ordinal));
        Assert.Contains(flows, f => f.EndsWith($"table=70,priority=100,reg7={ofport} actions=meter:{ofport * 2 + 1},output:{ofport}", StringComparison.Ordinal));
    }

    [Fact]
    public void A_dscp_mark_is_set_on_what_the_vm_sends_past_its_egress_rules_and_before_any_way_out()
    {
        var marked = FlowScenarios.A1 with { DscpMark = 46 };
        var open = FlowScenarios.A2 with { PortSecurity = false, DscpMark = 10 };
        var state = FlowScenarios.State(marked, open, FlowScenarios.B1, FlowScenarios.V1);
        var ofports = FlowScenarios.Ofports(state);
        var flows = IntegrationFlows(Render(state)).Select(f => f[(f.IndexOf(",table=", StringComparison.Ordinal) + 1)..]).ToList();
        // Table 40: IPv4 and IPv6 of the marked ports only (the 6-bit value, as OVS prints it back); the rest passes.
        Assert.Equal(
        [
            $"table=40,priority=100,reg5={ofports["tapa1"]},ip actions=set_field:46->ip_dscp,goto_table:50",
            $"table=40,priority=100,reg5={ofports["tapa1"]},ipv6 actions=set_field:46->ip_dscp,goto_table:50",
            $"table=40,priority=100,reg5={ofports["tapa2"]},ip actions=set_field:10->ip_dscp,goto_table:50",
            $"table=40,priority=100,reg5={ofports["tapa2"]},ipv6 actions=set_field:10->ip_dscp,goto_table:50",
            "table=40,priority=0 actions=goto_table:50",
        ], flows.Where(f => f.StartsWith("table=40,", StringComparison.Ordinal)));
        // Everything that leaves the egress tables goes through it: a committed or established connection (31),
        // neighbour discovery and a port without port security (30); nothing from them skips to forwarding.
        Assert.Contains($"table=31,priority=100,reg5={ofports["tapa1"]},ct_state=+new-est-inv+trk,ip actions=ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:40", flows);
        Assert.Contains("table=31,priority=190,ct_state=-new+est-inv+trk actions=goto_table:40", flows);
        Assert.Contains($"table=30,priority=150,reg5={ofports["tapa1"]},icmp6,icmpv6_type=135 actions=goto_table:40", flows);
        Assert.Contains($"table=30,priority=50,reg5={ofports["tapa2"]} actions=goto_table:40", flows);
        Assert.DoesNotContain(flows, f => f.StartsWith("table=3", StringComparison.Ordinal) && f.Contains("goto_table:50", StringComparison.Ordinal));
        // Only what a VM sends: nothing from a tunnel or toward a VM is re-marked.
        Assert.DoesNotContain(flows, f => f.Contains("ip_dscp", StringComparison.Ordinal) && !f.StartsWith("table=40,", StringComparison.Ordinal));
    }

    [Fact]
    public void A_changed_or_removed_dscp_mark_changes_the_flow_set_and_its_cookie()
    {
        OvsPlan With(int? mark) => Render(FlowScenarios.State(FlowScenarios.A1 with { DscpMark = mark }, FlowScenarios.A2, FlowScenarios.B1, FlowScenarios.V1));
        var (none, ef, cs1) = (With(null), With(46), With(8));
        Assert.Equal(IntegrationFlows(Render(FlowScenarios.State())), IntegrationFlows(none));
        Assert.Equal(3, new[] { none.Cookie, ef.Cookie, cs1.Cookie }.Distinct().Count());
        Assert.Contains(IntegrationFlows(cs1), f => f.Contains("actions=set_field:8->ip_dscp,", StringComparison.Ordinal));
        Assert.DoesNotContain(IntegrationFlows(none), f => f.Contains("ip_dscp", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => With(64));
    }

    [Fact]
    public void Tenants_with_the_same_addresses_have_their_own_arp_answers()
    {
        var flows = IntegrationFlows(Render(FlowScenarios.State()));
        var answers = flows.Where(f => f.Contains("table=20,priority=100,", StringComparison.Ordinal) && f.Contains("arp_tpa=10.1.0.11 ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, answers.Count);
        Assert.Contains(answers, f => f.Contains($"reg6={Zone(FlowScenarios.NetA)},", StringComparison.Ordinal) && f.Contains("set_field:fa:16:3e:00:00:a1->eth_src", StringComparison.Ordinal));
        Assert.Contains(answers, f => f.Contains($"reg6={Zone(FlowScenarios.NetB)},", StringComparison.Ordinal) && f.Contains("set_field:fa:16:3e:00:00:b1->eth_src", StringComparison.Ordinal));
    }

    [Fact]
    public void Network_zones_are_stable_and_distinct()
    {
        var ids = Enumerable.Range(0, 500).Select(i => $"net-{i}").ToList();
        var zones = NetworkZones.Assign(ids);
        Assert.Equal(500, zones.Values.Distinct().Count());
        Assert.All(zones.Values, z => Assert.InRange(z, 1, NetworkZones.Count));
        // Adding networks moves no zone that did not collide with them.
        var more = NetworkZones.Assign(ids.Concat(["net-x", "net-y"]));
        Assert.True(ids.Count(id => zones[id] != more[id]) <= 2);
        Assert.Equal("fe80::f816:3eff:fe00:a1", FlowPipeline.LinkLocal("fa:16:3e:00:00:a1"));
    }

    private static int Zone(string network) => NetworkZones.Assign([FlowScenarios.NetA, FlowScenarios.NetB, FlowScenarios.NetV])[network];
}
