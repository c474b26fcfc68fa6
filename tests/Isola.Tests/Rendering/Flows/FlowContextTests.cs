using Isola.Rendering.Flows;
using Isola.Rendering.Flows.Tables;

namespace Isola.Tests.Rendering.Flows;

/// <summary>What every table is rendered from: the local ports, each network's uplink, what is not on the bridge yet.</summary>
public sealed class FlowContextTests
{
    private static readonly NetworkPeer Peer2 = new("h2", "10.0.0.2", []);
    private static readonly NetworkPeer Peer3 = new("h3", "10.0.0.3", []);

    private static readonly Dictionary<string, (NetworkUplink Uplink, string? Output)> Uplinks = new()
    {
        ["tunnel without a peer on the bridge"] = (new NetworkUplink(1001, [], null, null), null),
        ["two peers"] = (new NetworkUplink(1001, [new PeerTunnel(Peer2, 7), new PeerTunnel(Peer3, 8)], null, null), "set_field:0x3e9->tun_id,output:7,output:8"),
        ["two peers behind one tunnel port"] = (new NetworkUplink(1001, [new PeerTunnel(Peer2, 7), new PeerTunnel(Peer3, 7)], null, null), "set_field:0x3e9->tun_id,output:7"),
        ["vlan"] = (new NetworkUplink(null, [], 9, 100), "push_vlan:0x8100,set_field:4196->vlan_vid,output:9"),
        ["flat"] = (new NetworkUplink(null, [], 9, null), "output:9"),
        ["no way out"] = (NetworkUplink.None, null),
    };

    public static TheoryData<string> UplinkCases => [.. Uplinks.Keys];

    [Theory]
    [MemberData(nameof(UplinkCases))]
    public void An_uplink_sends_a_frame_out_by_its_tunnels_or_its_patch_port(string name) =>
        Assert.Equal(Uplinks[name].Output, Uplinks[name].Uplink.Output);

    [Fact]
    public void What_is_not_on_the_bridge_waits_taps_first_then_tunnels_then_patch_ports()
    {
        var state = FlowScenarios.State();
        var ports = FlowPipeline.Ports(state, FlowScenarios.Layout);
        var all = FlowScenarios.Ofports(state);
        var missing = new[] { "tapb1", ports.Patches[0].IntegrationPort, ports.Tunnels[0].Name, "tapa2" };
        var ofports = all.Where(p => !missing.Contains(p.Key)).ToDictionary();

        var context = FlowContext.Of(state, ports, ofports);

        Assert.Equal(["tapa2", "tapb1", ports.Tunnels[0].Name, ports.Patches[0].IntegrationPort], context.Waiting);
        Assert.Equal(["tapa1", "tapv1"], context.Local.Select(l => l.Port.Device));
        // Only networks with a local port on the bridge; the VLAN network has no way out while its patch port waits.
        Assert.Equal([FlowScenarios.NetA, FlowScenarios.NetV], context.Networks.Select(n => n.Network.Id).Order(StringComparer.Ordinal));
        Assert.Null(context.Networks.Single(n => n.Network.Id == FlowScenarios.NetV).Uplink.Output);
    }

    [Fact]
    public void A_network_uplink_is_its_peers_tunnels_with_its_key()
    {
        var state = FlowScenarios.State();
        var ports = FlowPipeline.Ports(state, FlowScenarios.Layout);
        var ofports = FlowScenarios.Ofports(state);

        var a = FlowContext.Of(state, ports, ofports).Networks.Single(n => n.Network.Id == FlowScenarios.NetA);

        var tunnel = FlowPipeline.Tunnel(SegmentType.Vxlan, "10.0.0.2", FlowScenarios.LocalIp);
        Assert.Equal(1001, a.Uplink.TunnelKey);
        Assert.Equal([ofports[tunnel.Name]], a.Uplink.Peers.Select(p => p.Ofport));
        Assert.Equal(["a1", "a2"], a.Members.Select(m => m.Port.Id));
    }

    [Fact]
    public void A_port_on_a_network_the_state_does_not_describe_is_refused()
    {
        var state = FlowScenarios.State(FlowScenarios.A1 with { Network = "nowhere" });

        var e = Assert.Throws<ArgumentException>(() => FlowContext.Of(state, FlowPipeline.Ports(state, FlowScenarios.Layout), new Dictionary<string, int>()));

        Assert.Contains("port a1 is on network nowhere", e.Message, StringComparison.Ordinal);
    }
}
