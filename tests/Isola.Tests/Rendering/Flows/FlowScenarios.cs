using Isola.Rendering.Flows;

namespace Isola.Tests.Rendering.Flows;

/// <summary>
/// A host with two tenants: tenant A on VXLAN 1001 (two local VMs, one remote VM on host 10.0.0.2),
/// tenant B on VXLAN 1002 (one local VM, a remote VM on 10.0.0.3) and a VLAN 100 network on physnet2.
/// </summary>
internal static class FlowScenarios
{
    public const string LocalIp = "10.0.0.1";
    public const string NetA = "11111111-aaaa-4aaa-8aaa-000000000001";
    public const string NetB = "22222222-bbbb-4bbb-8bbb-000000000002";
    public const string NetV = "33333333-cccc-4ccc-8ccc-000000000003";

    public static readonly SecurityRule[] DefaultRules =
    [
        new("egress", 4),
        new("egress", 6),
        new("ingress", 4, "tcp", 22, 22),
        new("ingress", 4, "icmp"),
    ];

    /// <summary>MySQL from the members of a remote group (a2 and an address not on any host): a conjunctive match shared by a1 and a2.</summary>
    public static readonly SecurityRule FromDbClients = new("ingress", 4, "tcp", 3306, 3306, ["10.1.0.12/32", "10.1.0.99/32"]);

    public static OverlayPort A1 { get; } = new("a1", "vm-a1", "tapa1", NetA, "fa:16:3e:00:00:a1", ["10.1.0.11"], [.. DefaultRules, FromDbClients]);
    public static OverlayPort A2 { get; } = new("a2", "vm-a2", "tapa2", NetA, "fa:16:3e:00:00:a2", ["10.1.0.12"],
        [new("egress", 4), new("ingress", 4, "tcp", 8000, 8099, ["10.1.0.0/24"]), FromDbClients]);
    public static OverlayPort B1 { get; } = new("b1", "vm-b1", "tapb1", NetB, "fa:16:3e:00:00:b1", ["10.1.0.11"], DefaultRules,
        Egress: new PortRate(10_000, 1_000), Ingress: new PortRate(20_000, 2_000));
    public static OverlayPort V1 { get; } = new("v1", "vm-v1", "tapv1", NetV, "fa:16:3e:00:00:c1", ["192.168.100.5"], DefaultRules);

    public static HostNetworkState State(params OverlayPort[] ports) => new(LocalIp,
    [
        new OverlayNetwork(NetA, SegmentType.Vxlan, 1001, null, [new NetworkPeer("h2", "10.0.0.2", [new RemotePort("fa:16:3e:00:02:a3", ["10.1.0.13"])])]),
        new OverlayNetwork(NetB, SegmentType.Gre, 1002, null, [new NetworkPeer("h3", "10.0.0.3", [new RemotePort("fa:16:3e:00:03:b2", ["10.1.0.12"])])]),
        new OverlayNetwork(NetV, SegmentType.Vlan, 100, "physnet2", []),
    ], ports.Length == 0 ? [A1, A2, B1, V1] : ports);

    public static OvsLayout Layout { get; } = OvsLayout.Parse("br-int", "physnet2:br-physnet2");

    /// <summary>OpenFlow numbers as a bridge would give them: taps 1.., tunnels and patch ports after.</summary>
    public static Dictionary<string, int> Ofports(HostNetworkState state)
    {
        var ports = FlowPipeline.Ports(state, Layout);
        var names = state.Ports.Select(p => p.Device).Order(StringComparer.Ordinal)
            .Concat(ports.Tunnels.Select(t => t.Name)).Concat(ports.Patches.Select(p => p.IntegrationPort));
        return names.Select((n, i) => (n, i + 1)).ToDictionary(x => x.n, x => x.Item2);
    }
}
