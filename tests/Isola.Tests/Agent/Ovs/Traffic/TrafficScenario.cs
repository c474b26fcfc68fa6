using Isola.Rendering.Flows;

namespace Isola.Tests.Agent.Ovs.Traffic;

/// <summary>A simulated host: its name and tunnel endpoint on the underlay.</summary>
internal sealed record TrafficHostSpec(string Name, string TunnelIp, string Underlay);

/// <summary>A VM with one virtio port, on a host.</summary>
internal sealed record TrafficVm(string Name, string Host, OverlayPort Port)
{
    public string Ip => Port.Ips[0];

    public string Mac => Port.Mac;

    /// <summary>Its IPv6 link-local address (EUI-64 of its MAC) on its eth0, as ping takes it.</summary>
    public string LinkLocal => FlowPipeline.LinkLocal(Port.Mac) + "%eth0";
}

/// <summary>
/// Two hosts on a private underlay (172.31.0.0/24, a veth wire between their namespaces) and two
/// tenants on VXLAN with the same address space 10.1.0.0/24: x1 and x3 (A) and x2 (B) on network X,
/// y1 (A, the same address as x1) and y2 (B) on network Y; over IPv6 each VM has its link-local address
/// only. Security groups: egress anything (IPv4 and IPv6), ingress icmp, icmpv6 and tcp/udp 5201
/// (iperf3). x2 receives at most 50 Mbit/s, burst 0.8 s as the server renders it.
/// </summary>
internal static class TrafficScenario
{
    public const string Subnet = "10.1.0.0/24";
    public const string NetX = "a7e10001-0000-4000-8000-00000000000a";
    public const string NetY = "b7e10002-0000-4000-8000-00000000000b";
    public const long VniX = 1001;
    public const long VniY = 1002;

    public static readonly PortRate X2Limit = new(50_000, 40_000);

    public static readonly TrafficHostSpec[] Hosts = [new("a", "172.31.0.1", "ul-a"), new("b", "172.31.0.2", "ul-b")];

    private static readonly SecurityRule[] Rules =
    [
        new("egress", 4),
        new("egress", 6),
        new("ingress", 4, "icmp"),
        new("ingress", 6, "icmpv6"),
        new("ingress", 4, "tcp", 5201, 5201),
        new("ingress", 4, "udp", 5201, 5201),
    ];

    public static TrafficVm X1 { get; } = Vm("x1", "a", "5e1c0a11-7d2b-4c8e-9a01-0000000000a1", NetX, "fa:16:3e:10:00:01", "10.1.0.11");
    public static TrafficVm X2 { get; } = Vm("x2", "b", "5e1c0a12-7d2b-4c8e-9a01-0000000000a2", NetX, "fa:16:3e:10:00:02", "10.1.0.12", ingress: X2Limit);
    public static TrafficVm X3 { get; } = Vm("x3", "a", "5e1c0a13-7d2b-4c8e-9a01-0000000000a3", NetX, "fa:16:3e:10:00:03", "10.1.0.14");
    public static TrafficVm Y1 { get; } = Vm("y1", "a", "7f3d0b21-1e4a-4b6c-8d02-0000000000b1", NetY, "fa:16:3e:20:00:01", "10.1.0.11");
    public static TrafficVm Y2 { get; } = Vm("y2", "b", "7f3d0b22-1e4a-4b6c-8d02-0000000000b2", NetY, "fa:16:3e:20:00:03", "10.1.0.13");

    public static IReadOnlyList<TrafficVm> Vms { get; } = [X1, X2, X3, Y1, Y2];

    /// <summary>What the controller would tell host <paramref name="host"/>: its ports, their networks and the other hosts on them.</summary>
    public static HostNetworkState StateOf(string host)
    {
        var spec = Hosts.Single(h => h.Name == host);
        var local = Vms.Where(v => v.Host == host).ToList();
        var networks = local.Select(v => v.Port.Network).Distinct(StringComparer.Ordinal).Select(id => new OverlayNetwork(
            id, SegmentType.Vxlan, id == NetX ? VniX : VniY, null,
            Hosts.Where(h => h.Name != host)
                .Select(h => (Host: h, Ports: Vms.Where(v => v.Host == h.Name && v.Port.Network == id).ToList()))
                .Where(p => p.Ports.Count > 0)
                .Select(p => new NetworkPeer(p.Host.Name, p.Host.TunnelIp, p.Ports.Select(v => new RemotePort(v.Mac, v.Port.Ips)).ToList()))
                .ToList())).ToList();
        return new HostNetworkState(spec.TunnelIp, networks, local.Select(v => v.Port).ToList());
    }

    private static TrafficVm Vm(string name, string host, string portId, string network, string mac, string ip, PortRate? ingress = null) =>
        new(name, host, new OverlayPort(portId, "vm-" + name, TapNames.Of(portId), network, mac, [ip], Rules, Ingress: ingress));
}
