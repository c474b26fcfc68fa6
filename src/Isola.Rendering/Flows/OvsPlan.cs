namespace Isola.Rendering.Flows;

/// <summary>A tunnel port to one peer: <c>vxlan-0a000002</c> or <c>gre-0a000002</c> (the peer's IPv4 in hex), key taken from the flow.</summary>
public sealed record TunnelPort(string Name, string Type, string RemoteIp, string LocalIp);

/// <summary>The patch pair between the integration bridge and a physical network's bridge.</summary>
public sealed record PatchPair(string Physnet, string PhysicalBridge, string IntegrationPort, string PhysicalPort);

/// <summary>An OpenFlow meter (kbps, one drop band).</summary>
public sealed record Meter(int Id, long Kbps, long BurstKb)
{
    /// <summary>The meter as <c>ovs-ofctl add-meter</c> takes it.</summary>
    public string Spec => $"meter={Id},kbps,burst,band=type=drop,rate={Kbps},burst_size={BurstKb}";
}

/// <summary>The ports the host's bridges need besides the VMs' taps (libvirt plugs those).</summary>
public sealed record OvsPorts(IReadOnlyList<TunnelPort> Tunnels, IReadOnlyList<PatchPair> Patches);

/// <summary>One bridge's whole flow table, as <c>ovs-ofctl --bundle replace-flows</c> takes it.</summary>
public sealed record BridgeFlows(string Bridge, IReadOnlyList<string> Flows);

/// <summary>
/// What the host's Open vSwitch should hold: extra ports, flows of every bridge (each flow carrying
/// <see cref="Cookie"/>) and meters. <see cref="Waiting"/> names the ports left out because their
/// tap is not on the bridge yet (the domain is not started).
/// </summary>
public sealed record OvsPlan(OvsPorts Ports, IReadOnlyList<BridgeFlows> Bridges, IReadOnlyList<Meter> Meters, ulong Cookie, IReadOnlyList<string> Rendered, IReadOnlyList<string> Waiting);
