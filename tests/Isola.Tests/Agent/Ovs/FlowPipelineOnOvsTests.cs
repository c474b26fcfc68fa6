using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Rendering.Flows;
using Isola.Tests.Rendering.Flows;
using Isola.Tests.Support;

namespace Isola.Tests.Agent.Ovs;

/// <summary>
/// The flow pipeline as the agent puts it on a real ovs-vswitchd (userspace, dummy datapath), checked
/// with ofproto/trace: tenant isolation, tunnels with the right key to the right peer, flooding only
/// to a network's members, the ARP responder, port security, security groups with conntrack, VLAN
/// on the physical bridge, meters, DSCP marks, drift repair, and nothing left after delete.
/// </summary>
public sealed class FlowPipelineOnOvsTests : IAsyncLifetime
{
    private readonly OvsSwitch _ovs = new();
    private readonly TempDir _dir = new();
    private OvsCycle _cycle = null!;
    private readonly Dictionary<string, int> _ports = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        await _ovs.InitializeAsync();
        await _ovs.AddBridgeAsync("br-int");
        await _ovs.AddBridgeAsync("br-physnet2");
        foreach (var port in FlowScenarios.State().Ports)
            await _ovs.PlugAsync("br-int", port.Device, port.Id);
        _cycle = new OvsCycle(new OvsDriver(_ovs.Runner, _dir.Sub("agent"), "dummy"), FlowScenarios.Layout);
        var result = await _cycle.RunAsync(FlowScenarios.State(), default);
        Assert.Empty(result.Failures);
        Assert.Equal(["tapa1", "tapa2", "tapb1", "tapv1"], result.ReadyTaps.Order(StringComparer.Ordinal));
        foreach (var name in new[] { "tapa1", "tapa2", "tapb1", "tapv1", "vxlan-0a000002", "gre-0a000003", "int-br-physnet2" })
            _ports[name] = await _ovs.OfportAsync(name);
    }

    public async Task DisposeAsync()
    {
        await _ovs.DisposeAsync();
        _dir.Dispose();
    }

    private static string Tcp(string fromMac, string fromIp, string toMac, string toIp, int dport, int sport = 40000) =>
        $"tcp,dl_src={fromMac},dl_dst={toMac},nw_src={fromIp},nw_dst={toIp},tp_src={sport},tp_dst={dport}";

    private static string Arp(string fromMac, string fromIp, string askFor) =>
        $"arp,dl_src={fromMac},dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa={fromIp},arp_tpa={askFor},arp_sha={fromMac},arp_tha=00:00:00:00:00:00";

    private Task<OvsSwitch.Trace> From(string tap, string flow, params string[] ctNext) => _ovs.TraceAsync("br-int", $"in_port={_ports[tap]},{flow}", ctNext);

    [Fact]
    public async Task Unicast_to_a_remote_mac_leaves_on_the_peers_tunnel_with_the_networks_key()
    {
        var vxlan = await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:02:a3", "10.1.0.13", 22));
        Assert.Equal([_ports["vxlan-0a000002"]], vxlan.Outputs);
        Assert.Contains("set_field:0x3e9->tun_id", vxlan.Text, StringComparison.Ordinal);

        var gre = await From("tapb1", Tcp("fa:16:3e:00:00:b1", "10.1.0.11", "fa:16:3e:00:03:b2", "10.1.0.12", 22));
        Assert.Equal([_ports["gre-0a000003"]], gre.Outputs);
        Assert.Contains("set_field:0x3ea->tun_id", gre.Text, StringComparison.Ordinal);

        var options = await _ovs.Vsctl("get", "Interface", "vxlan-0a000002", "options");
        Assert.Contains("remote_ip=\"10.0.0.2\"", options, StringComparison.Ordinal);
        Assert.Contains("key=flow", options, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tenants_frames_never_reach_another_tenants_port_and_broadcast_goes_to_its_members_only()
    {
        // To tenant B's MAC from tenant A: not B's port (unknown on A's network: to A's peers only).
        var cross = await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:00:b1", "10.1.0.12", 22));
        Assert.DoesNotContain(_ports["tapb1"], cross.Outputs);
        Assert.DoesNotContain(_ports["gre-0a000003"], cross.Outputs);
        Assert.Equal([_ports["vxlan-0a000002"]], cross.Outputs);

        var broadcast = await From("tapa1", Arp("fa:16:3e:00:00:a1", "10.1.0.11", "10.1.0.99"));
        Assert.Equal([_ports["tapa2"], _ports["vxlan-0a000002"]], broadcast.Outputs.Order());

        // From a tunnel: the key picks the network; a frame for a MAC not here goes nowhere (no hairpin).
        var inbound = await _ovs.TraceAsync("br-int", $"in_port={_ports["vxlan-0a000002"]},tun_id=0x3e9," +
            Tcp("fa:16:3e:00:02:a3", "10.1.0.13", "fa:16:3e:00:00:a1", "10.1.0.11", 22));
        Assert.Equal([_ports["tapa1"]], inbound.Outputs);
        var wrongKey = await _ovs.TraceAsync("br-int", $"in_port={_ports["vxlan-0a000002"]},tun_id=0x3ea," +
            Tcp("fa:16:3e:00:02:a3", "10.1.0.13", "fa:16:3e:00:00:b1", "10.1.0.11", 22));
        Assert.True(wrongKey.Dropped, wrongKey.Text);
        var hairpin = await _ovs.TraceAsync("br-int", $"in_port={_ports["vxlan-0a000002"]},tun_id=0x3e9," +
            Tcp("fa:16:3e:00:02:a3", "10.1.0.13", "fa:16:3e:00:09:99", "10.1.0.77", 22));
        Assert.True(hairpin.Dropped, hairpin.Text);
    }

    [Fact]
    public async Task Broadcast_reaches_a_member_only_through_its_ingress_rules()
    {
        string Udp(string fromMac, string fromIp) =>
            $"udp,dl_src={fromMac},dl_dst=ff:ff:ff:ff:ff:ff,nw_src={fromIp},nw_dst=255.255.255.255,udp_src=68,udp_dst=5000";
        // a2 takes no UDP: a broadcast from a1 goes to a1's peers only; a1 takes icmp from anywhere.
        var udp = await From("tapa1", Udp("fa:16:3e:00:00:a1", "10.1.0.11"));
        Assert.Equal([_ports["vxlan-0a000002"]], udp.Outputs);
        var ping = await From("tapa2", "icmp,icmp_type=8,icmp_code=0,dl_src=fa:16:3e:00:00:a2,dl_dst=ff:ff:ff:ff:ff:ff,nw_src=10.1.0.12,nw_dst=255.255.255.255");
        Assert.Equal([_ports["tapa1"], _ports["vxlan-0a000002"]], ping.Outputs.Order());
        // From outside too: a peer's broadcast to a2's network is held to a2's rules.
        var inbound = await _ovs.TraceAsync("br-int", $"in_port={_ports["vxlan-0a000002"]},tun_id=0x3e9," + Udp("fa:16:3e:00:02:a3", "10.1.0.13"));
        Assert.Empty(inbound.Outputs);
    }

    [Fact]
    public async Task Arp_for_a_known_address_is_answered_locally_per_network()
    {
        var local = await From("tapa1", Arp("fa:16:3e:00:00:a1", "10.1.0.11", "10.1.0.12"));
        Assert.True(local.BackToSender, local.Text);
        Assert.Empty(local.Outputs);
        Assert.Contains("arp_op=2,arp_sha=fa:16:3e:00:00:a2", local.FinalFlow, StringComparison.Ordinal);

        var remote = await From("tapa1", Arp("fa:16:3e:00:00:a1", "10.1.0.11", "10.1.0.13"));
        Assert.Contains("arp_sha=fa:16:3e:00:02:a3", remote.FinalFlow, StringComparison.Ordinal);

        // Tenant B's 10.1.0.12 is its own remote VM, not tenant A's.
        var otherTenant = await From("tapb1", Arp("fa:16:3e:00:00:b1", "10.1.0.11", "10.1.0.12"));
        Assert.Contains("arp_sha=fa:16:3e:00:03:b2", otherTenant.FinalFlow, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spoofed_source_mac_or_address_is_dropped()
    {
        Assert.True((await From("tapa1", Tcp("fa:16:3e:00:00:ee", "10.1.0.11", "fa:16:3e:00:00:a2", "10.1.0.12", 8080))).Dropped);
        Assert.True((await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.99", "fa:16:3e:00:00:a2", "10.1.0.12", 8080))).Dropped);
        Assert.True((await From("tapa1", Arp("fa:16:3e:00:00:a1", "10.1.0.12", "10.1.0.13"))).Dropped);
        // The same frame from the right address passes: the drops are the check, not the trace.
        Assert.Equal([_ports["tapa2"]], (await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:00:a2", "10.1.0.12", 8080))).Outputs);
    }

    [Fact]
    public async Task A_vms_own_vlan_tag_never_leaves_its_port()
    {
        // Tagged as the VLAN network's segment, from a port on that network and from a tenant port: dropped at the door.
        Assert.True((await From("tapv1", "dl_vlan=100," + Arp("fa:16:3e:00:00:c1", "192.168.100.5", "192.168.100.77"))).Dropped);
        Assert.True((await From("tapa1", "dl_vlan=100," + Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:00:a2", "10.1.0.12", 8080))).Dropped);
    }

    [Fact]
    public async Task Ipv6_neighbour_discovery_cannot_claim_anothers_address_or_be_a_router()
    {
        var a1 = "fa:16:3e:00:00:a1";
        var own = FlowPipeline.LinkLocal(a1);
        var other = FlowPipeline.LinkLocal("fa:16:3e:00:00:a2");
        string Na(string target, string tll) =>
            $"icmp6,icmpv6_type=136,icmpv6_code=0,dl_src={a1},dl_dst=33:33:00:00:00:01,ipv6_src={own},ipv6_dst=ff02::1,nd_target={target},nd_tll={tll}";
        Assert.Contains(_ports["tapa2"], (await From("tapa1", Na(own, a1))).Outputs);
        Assert.True((await From("tapa1", Na(other, a1))).Dropped);
        Assert.True((await From("tapa1", Na(own, "fa:16:3e:00:00:a2"))).Dropped);
        var ns = $"icmp6,icmpv6_type=135,icmpv6_code=0,dl_src={a1},dl_dst=33:33:ff:00:00:a2,ipv6_src={own},ipv6_dst=ff02::1:ff00:a2,nd_target={other}";
        Assert.Contains(_ports["tapa2"], (await From("tapa1", ns + $",nd_sll={a1}")).Outputs);
        Assert.True((await From("tapa1", ns + ",nd_sll=fa:16:3e:00:00:a2")).Dropped);
        var ra = $"icmp6,icmpv6_type=134,icmpv6_code=0,dl_src={a1},dl_dst=33:33:00:00:00:01,ipv6_src={own},ipv6_dst=ff02::1";
        Assert.True((await From("tapa1", ra)).Dropped);
    }

    [Fact]
    public async Task Security_groups_allow_what_their_rules_say_and_replies_of_allowed_connections()
    {
        // a2 takes tcp 8000-8099 from 10.1.0.0/24 only; a1 takes ssh and icmp from anywhere.
        Assert.Equal([_ports["tapa2"]], (await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:00:a2", "10.1.0.12", 8099))).Outputs);
        Assert.True((await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:00:a2", "10.1.0.12", 8100))).Dropped);
        Assert.True((await From("tapa1", Tcp("fa:16:3e:00:00:a1", "10.1.0.11", "fa:16:3e:00:00:a2", "10.1.0.12", 22))).Dropped);
        Assert.Equal([_ports["tapa1"]], (await From("tapa2", Tcp("fa:16:3e:00:00:a2", "10.1.0.12", "fa:16:3e:00:00:a1", "10.1.0.11", 22))).Outputs);
        // A reply to a connection a1 opened: a port a1 takes no new connection on, but conntrack knows it.
        var reply = Tcp("fa:16:3e:00:00:a2", "10.1.0.12", "fa:16:3e:00:00:a1", "10.1.0.11", 40000, sport: 8080);
        Assert.True((await From("tapa2", reply)).Dropped);
        Assert.Equal([_ports["tapa1"]], (await From("tapa2", reply, "trk,est,rpl", "trk,est,rpl")).Outputs);
        // A remote group's rule (a conjunctive match): from its member a2 yes, from a3 (not a member) no.
        Assert.Equal([_ports["tapa1"]], (await From("tapa2", Tcp("fa:16:3e:00:00:a2", "10.1.0.12", "fa:16:3e:00:00:a1", "10.1.0.11", 3306))).Outputs);
        var nonMember = await _ovs.TraceAsync("br-int", $"in_port={_ports["vxlan-0a000002"]},tun_id=0x3e9," +
            Tcp("fa:16:3e:00:02:a3", "10.1.0.13", "fa:16:3e:00:00:a1", "10.1.0.11", 3306));
        Assert.True(nonMember.Dropped, nonMember.Text);
        var invalid = await From("tapa2", reply, "trk,inv");
        Assert.True(invalid.Dropped);
    }

    [Fact]
    public async Task A_vlan_network_leaves_tagged_through_the_physical_bridge()
    {
        var broadcast = await From("tapv1", Arp("fa:16:3e:00:00:c1", "192.168.100.5", "192.168.100.77"));
        Assert.Equal([_ports["int-br-physnet2"]], broadcast.Outputs);
        Assert.Contains("bridge(\"br-physnet2\")", broadcast.Text, StringComparison.Ordinal);
        Assert.Contains("dl_vlan=100,", broadcast.FinalFlow, StringComparison.Ordinal);
        Assert.Contains("Datapath actions: push_vlan(vid=100", broadcast.Text, StringComparison.Ordinal);
        var inbound = await _ovs.TraceAsync("br-int", $"in_port={_ports["int-br-physnet2"]},dl_vlan=100," +
            Tcp("fa:16:3e:00:77:77", "192.168.100.77", "fa:16:3e:00:00:c1", "192.168.100.5", 22));
        Assert.Equal([_ports["tapv1"]], inbound.Outputs);
        var otherVlan = await _ovs.TraceAsync("br-int", $"in_port={_ports["int-br-physnet2"]},dl_vlan=101," +
            Tcp("fa:16:3e:00:77:77", "192.168.100.77", "fa:16:3e:00:00:c1", "192.168.100.5", 22));
        Assert.True(otherVlan.Dropped);
    }

    [Fact]
    public async Task A_port_whose_network_cannot_leave_the_host_is_not_ready_and_the_cycle_says_why()
    {
        var unmapped = new OvsCycle(new OvsDriver(_ovs.Runner, _dir.Sub("agent2"), "dummy"), OvsLayout.Parse("br-int", null));
        var result = await unmapped.RunAsync(FlowScenarios.State(), default);
        Assert.Contains(result.Failures, f => f.Contains("maps no bridge to physnet2", StringComparison.Ordinal));
        Assert.DoesNotContain("tapv1", result.ReadyTaps);
        Assert.Contains("tapa1", result.ReadyTaps);
        // Mapped to a bridge nobody made: that network's port waits, the others are served.
        var missing = new OvsCycle(new OvsDriver(_ovs.Runner, _dir.Sub("agent3"), "dummy"), OvsLayout.Parse("br-int", "physnet2:br-nope"));
        var partly = await missing.RunAsync(FlowScenarios.State(), default);
        Assert.Equal(["network " + FlowScenarios.NetV + " (Vlan on physnet2): bridge br-nope does not exist (the operator makes it, with the NIC in it)"], partly.Failures);
        Assert.Equal(["tapa1", "tapa2", "tapb1"], partly.ReadyTaps.Order(StringComparer.Ordinal));
        var noTunnel = await unmapped.RunAsync(FlowScenarios.State() with { TunnelIp = null }, default);
        Assert.Contains(noTunnel.Failures, f => f.Contains("no tunnel endpoint", StringComparison.Ordinal));
        Assert.DoesNotContain("tapa1", noTunnel.ReadyTaps);
    }

    [Fact]
    public async Task Rate_limits_are_meters_on_the_bridge()
    {
        var meters = await _ovs.Ofctl("dump-meters", "br-int");
        var b1 = _ports["tapb1"];
        Assert.Contains($"meter={b1 * 2} kbps burst", meters, StringComparison.Ordinal);
        Assert.Contains("rate=10000 burst_size=1000", meters, StringComparison.Ordinal);
        Assert.Contains($"meter={b1 * 2 + 1} kbps burst", meters, StringComparison.Ordinal);
        var trace = await From("tapb1", Tcp("fa:16:3e:00:00:b1", "10.1.0.11", "fa:16:3e:00:03:b2", "10.1.0.12", 22));
        Assert.Contains($"meter:{b1 * 2}", trace.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dscp_mark_is_set_on_what_the_port_sends_whichever_way_it_leaves_and_goes_with_the_rule()
    {
        var (a1, a2, a3, v1) = ("fa:16:3e:00:00:a1", "fa:16:3e:00:00:a2", "fa:16:3e:00:02:a3", "fa:16:3e:00:00:c1");
        // The VM sent DSCP 8 with ECN 1 (tos 0x21): the mark replaces the DSCP bits and keeps the ECN ones.
        const string sentTos = ",nw_tos=32,nw_ecn=1";
        var toLocal = Tcp(a1, "10.1.0.11", a2, "10.1.0.12", 8080) + sentTos;
        var toTunnel = $"icmp6,icmpv6_type=128,icmpv6_code=0,dl_src={a1},dl_dst={a3},ipv6_src={FlowPipeline.LinkLocal(a1)},ipv6_dst={FlowPipeline.LinkLocal(a3)}{sentTos}";
        var toVlan = Tcp(v1, "192.168.100.5", "fa:16:3e:00:77:77", "192.168.100.77", 22) + sentTos;
        var marked = FlowScenarios.State(FlowScenarios.A1 with { DscpMark = 46 }, FlowScenarios.A2, FlowScenarios.B1, FlowScenarios.V1 with { DscpMark = 26 });
        var applied = await _cycle.RunAsync(marked, default);
        Assert.Empty(applied.Failures);
        Assert.Contains(applied.Done, s => s is Isola.Agent.Reconcile.OvsStep.ReplaceFlows);
        // Written in OVS's own spelling: the next cycle finds the bridge as rendered.
        Assert.Empty((await _cycle.RunAsync(marked, default)).Done);

        // The packet as it leaves: the last "Final flow" of the trace (after conntrack's recirculation).
        static string Leaves(OvsSwitch.Trace t) => t.Text.Split('\n').Last(l => l.StartsWith("Final flow:", StringComparison.Ordinal));
        var local = await From("tapa1", toLocal);
        Assert.Equal([_ports["tapa2"]], local.Outputs);
        Assert.Contains(",nw_tos=184,nw_ecn=1,", Leaves(local), StringComparison.Ordinal);
        Assert.Contains("set(ipv4(tos=0xb8/0xfc))", local.Text, StringComparison.Ordinal);
        var tunnel = await From("tapa1", toTunnel);
        Assert.Equal([_ports["vxlan-0a000002"]], tunnel.Outputs);
        Assert.Contains(",nw_tos=184,nw_ecn=1,", Leaves(tunnel), StringComparison.Ordinal);
        Assert.Contains("set(ipv6(tclass=0xb9))", tunnel.Text, StringComparison.Ordinal);
        var vlan = await From("tapv1", toVlan);
        Assert.Equal([_ports["int-br-physnet2"]], vlan.Outputs);
        Assert.Contains(",nw_tos=104,nw_ecn=1,", Leaves(vlan), StringComparison.Ordinal);
        // Not what other ports send, not what a marked port receives, not ARP.
        var other = await From("tapa2", Tcp(a2, "10.1.0.12", a1, "10.1.0.11", 22) + sentTos);
        Assert.Equal([_ports["tapa1"]], other.Outputs);
        Assert.Contains(",nw_tos=32,nw_ecn=1,", Leaves(other), StringComparison.Ordinal);
        Assert.DoesNotContain("ip_dscp", other.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("ip_dscp", (await From("tapa1", Arp(a1, "10.1.0.11", "10.1.0.99"))).Text, StringComparison.Ordinal);

        // The rule gone from the desired state: the flows go with it, and a1's packets leave as the VM sent them.
        Assert.Contains((await _cycle.RunAsync(FlowScenarios.State(), default)).Done, s => s is Isola.Agent.Reconcile.OvsStep.ReplaceFlows);
        Assert.DoesNotContain("ip_dscp", await _ovs.Ofctl("dump-flows", "br-int"), StringComparison.Ordinal);
        var unmarked = await From("tapa1", toLocal);
        Assert.Equal([_ports["tapa2"]], unmarked.Outputs);
        Assert.Contains(",nw_tos=32,nw_ecn=1,", Leaves(unmarked), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Flows_changed_behind_the_agents_back_are_put_back_and_reported()
    {
        var again = await _cycle.RunAsync(FlowScenarios.State(), default);
        var diff = await _ovs.Runner.RunAsync(["ovs-ofctl", "-O", "OpenFlow13", "diff-flows", "br-int", Path.Join(_dir.Sub("agent"), "ovs", "br-int.flows")]);
        Assert.True(again.Done.Count == 0, diff.StandardOutput);
        await _ovs.Ofctl("del-flows", "br-int", "table=20");
        var repaired = await _cycle.RunAsync(FlowScenarios.State(), default);
        Assert.Single(repaired.Drift);
        Assert.Contains(repaired.Done, s => s is Isola.Agent.Reconcile.OvsStep.ReplaceFlows);
        Assert.True((await From("tapa1", Arp("fa:16:3e:00:00:a1", "10.1.0.11", "10.1.0.12"))).BackToSender);
    }

    [Fact]
    public async Task A_deleted_ports_connections_are_forgotten_so_its_address_inherits_none()
    {
        // A real SYN from a2 to a1's ssh through the userspace datapath: conntrack commits it in network A's zone.
        await _ovs.Runner.RunAsync(["ovs-appctl", "netdev-dummy/receive", "tapa2",
            "eth(src=fa:16:3e:00:00:a2,dst=fa:16:3e:00:00:a1),eth_type(0x0800),ipv4(src=10.1.0.12,dst=10.1.0.11,proto=6,tos=0,ttl=64,frag=no),tcp(src=40000,dst=22),tcp_flags(syn)"]);
        var zone = NetworkZones.Assign([FlowScenarios.NetA, FlowScenarios.NetB, FlowScenarios.NetV])[FlowScenarios.NetA];
        var zoneArg = $"zone={zone}";
        string Dump() => _ovs.Runner.RunAsync(["ovs-appctl", "dpctl/dump-conntrack", zoneArg]).Result.StandardOutput;
        for (var i = 0; i < 50 && !Dump().Contains("src=10.1.0.12", StringComparison.Ordinal); i++)
            await Task.Delay(50);
        Assert.Contains("orig=(src=10.1.0.12,dst=10.1.0.11,sport=40000,dport=22)", Dump(), StringComparison.Ordinal);

        await _ovs.Vsctl("del-port", "br-int", "tapa2");
        var result = await _cycle.RunAsync(FlowScenarios.State(FlowScenarios.A1, FlowScenarios.B1, FlowScenarios.V1), default);
        Assert.Empty(result.Failures);
        var forgot = Assert.Single(result.Done.OfType<Isola.Agent.Reconcile.OvsStep.ForgetConnections>());
        Assert.Equal((zone, "10.1.0.12"), (forgot.Zone, forgot.Address));
        Assert.True(forgot.Count >= 1);
        Assert.DoesNotContain("10.1.0.12", Dump(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_between_two_deleted_ports_is_forgotten_once_and_the_cycle_goes_on()
    {
        // a2 -> a1's ssh, committed in network A's zone; then both ports go in one cycle (both servers deleted).
        await _ovs.Runner.RunAsync(["ovs-appctl", "netdev-dummy/receive", "tapa2",
            "eth(src=fa:16:3e:00:00:a2,dst=fa:16:3e:00:00:a1),eth_type(0x0800),ipv4(src=10.1.0.12,dst=10.1.0.11,proto=6,tos=0,ttl=64,frag=no),tcp(src=40001,dst=22),tcp_flags(syn)"]);
        var zone = NetworkZones.Assign([FlowScenarios.NetA, FlowScenarios.NetB, FlowScenarios.NetV])[FlowScenarios.NetA];
        string Dump() => _ovs.Runner.RunAsync(["ovs-appctl", "dpctl/dump-conntrack", $"zone={zone}"]).Result.StandardOutput;
        for (var i = 0; i < 50 && !Dump().Contains("sport=40001", StringComparison.Ordinal); i++)
            await Task.Delay(50);
        Assert.Contains("orig=(src=10.1.0.12,dst=10.1.0.11,sport=40001,dport=22)", Dump(), StringComparison.Ordinal);

        await _ovs.Vsctl("del-port", "br-int", "tapa1");
        await _ovs.Vsctl("del-port", "br-int", "tapa2");
        var result = await _cycle.RunAsync(FlowScenarios.State(FlowScenarios.B1, FlowScenarios.V1), default);

        // Each address's connections are forgotten (the shared one counted for both, flushed once): no ENOENT from OVS.
        Assert.Empty(result.Failures);
        var forgot = result.Done.OfType<Isola.Agent.Reconcile.OvsStep.ForgetConnections>().OrderBy(f => f.Address, StringComparer.Ordinal).ToList();
        Assert.Equal([(zone, "10.1.0.11"), (zone, "10.1.0.12")], forgot.Select(f => (f.Zone, f.Address)));
        Assert.All(forgot, f => Assert.True(f.Count >= 1));
        Assert.DoesNotContain("10.1.0.1", Dump(), StringComparison.Ordinal);
        Assert.Contains(result.Done, s => s is Isola.Agent.Reconcile.OvsStep.ReplaceFlows);
    }

    [Fact]
    public async Task Deleted_ports_leave_no_flow_tunnel_meter_or_arp_answer()
    {
        // b1 and a2 go (their VMs deleted, taps unplugged by libvirt): the GRE peer is no longer needed.
        await _ovs.Vsctl("del-port", "br-int", "tapb1");
        await _ovs.Vsctl("del-port", "br-int", "tapa2");
        var fewer = await _cycle.RunAsync(FlowScenarios.State(FlowScenarios.A1, FlowScenarios.V1), default);
        Assert.Empty(fewer.Failures);
        var ports = await _ovs.Vsctl("list-ports", "br-int");
        Assert.DoesNotContain("gre-", ports, StringComparison.Ordinal);
        var flows = await _ovs.Ofctl("dump-flows", "br-int", "--no-stats");
        Assert.DoesNotContain("fa:16:3e:00:00:b1", flows, StringComparison.Ordinal);
        Assert.DoesNotContain("fa:16:3e:00:00:a2", flows, StringComparison.Ordinal);
        Assert.DoesNotContain("0x3ea", flows, StringComparison.Ordinal);
        Assert.DoesNotContain("meter=", await _ovs.Ofctl("dump-meters", "br-int"), StringComparison.Ordinal);

        // Every VM gone: no tunnel, no patch, no address or MAC in any flow; only the tables' default drops.
        await _ovs.Vsctl("del-port", "br-int", "tapa1");
        await _ovs.Vsctl("del-port", "br-int", "tapv1");
        var none = await _cycle.RunAsync(HostNetworkState.Empty with { TunnelIp = FlowScenarios.LocalIp }, default);
        Assert.Empty(none.Failures);
        Assert.Equal("", (await _ovs.Vsctl("list-ports", "br-int")).Trim());
        Assert.Equal("", (await _ovs.Vsctl("list-ports", "br-physnet2")).Trim());
        var left = (await _ovs.Ofctl("dump-flows", "br-int", "--no-stats")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(left, f => Assert.Matches(@"priority=0 actions=(drop|goto_table:\d+)$|priority=(200|190),ct_state=", f.Trim()));
        Assert.All(left, f => Assert.DoesNotMatch("dl_dst|dl_src|arp_tpa|in_port|reg5=|reg7=", f));
    }
}
