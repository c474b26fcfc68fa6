using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Isola.Rendering.Flows.Tables;

namespace Isola.Rendering.Flows;

/// <summary>
/// Renders a host's Open vSwitch state from its <see cref="HostNetworkState"/>: the tunnel and patch
/// ports, then (given the OpenFlow port numbers the bridge assigned) every flow of the integration
/// bridge and of the physical bridges, and the meters. Pure and deterministic: the same state and
/// port numbers give the same text, byte for byte. Each table of the integration bridge has its
/// renderer in <c>Tables/</c> (named as docs/flows.md names the table), all working from one
/// <see cref="FlowContext"/>: the local ports, each network's uplink, the shared rules.
/// </summary>
public static class FlowPipeline
{
    /// <summary>Isola's flows carry this in the cookie's top 16 bits; the rest is the flow set's revision.</summary>
    public const ulong CookieMarker = 0x15a1UL << 48;

    /// <summary>The ports the bridges need besides the VMs' taps: one tunnel per peer and tunnel type, one patch pair per physical network in use.</summary>
    public static OvsPorts Ports(HostNetworkState state, OvsLayout layout)
    {
        var tunnels = new SortedDictionary<string, TunnelPort>(StringComparer.Ordinal);
        var patches = new SortedDictionary<string, PatchPair>(StringComparer.Ordinal);
        var used = state.Ports.Select(p => p.Network).ToHashSet(StringComparer.Ordinal);
        foreach (var network in state.Networks.Where(n => used.Contains(n.Id)))
        {
            if (network.Type is SegmentType.Vxlan or SegmentType.Gre)
            {
                if (state.TunnelIp is null)
                    continue;
                foreach (var peer in network.Peers)
                {
                    var tunnel = Tunnel(network.Type, peer.TunnelIp, state.TunnelIp);
                    tunnels.TryAdd(tunnel.Name, tunnel);
                }
            }
            else if (network.Physnet is not null && layout.BridgeMappings.TryGetValue(network.Physnet, out var bridge))
            {
                patches.TryAdd(network.Physnet, Patch(layout, network.Physnet, bridge));
            }
        }
        return new OvsPorts(tunnels.Values.ToList(), patches.Values.ToList());
    }

    /// <summary>
    /// Every flow and meter. <paramref name="ofports"/> maps port names (taps, tunnels, patch ports)
    /// to their OpenFlow numbers; a VM port whose tap is not there yet is left out and named in
    /// <see cref="OvsPlan.Waiting"/>, as are tunnels and patches not there yet.
    /// </summary>
    public static OvsPlan Render(HostNetworkState state, OvsLayout layout, IReadOnlyDictionary<string, int> ofports)
    {
        var ports = Ports(state, layout);
        var context = FlowContext.Of(state, ports, ofports);
        var flows = new FlowSet();
        // One renderer per table of docs/flows.md, in the order a frame from a VM meets them.
        ClassifyTable.Render(flows, context);
        PortSecurityTable.Render(flows, context);
        ArpResponderTable.Render(flows, context);
        ConntrackTable.Render(flows, context, FlowDirection.Egress);
        RuleTable.Render(flows, context, FlowDirection.Egress);
        MarkingTable.Render(flows, context);
        ForwardTable.Render(flows, context);
        ConntrackTable.Render(flows, context, FlowDirection.Ingress);
        RuleTable.Render(flows, context, FlowDirection.Ingress);
        DeliverTable.Render(flows, context);

        var bridges = new List<BridgeFlows> { new(layout.IntegrationBridge, flows.Integration()) };
        foreach (var patch in ports.Patches)
            bridges.Add(new BridgeFlows(patch.PhysicalBridge, ["table=0,priority=0 actions=NORMAL"]));
        var meters = flows.Meters();
        var cookie = Cookie(bridges, meters);
        var stamped = bridges.Select(b => b with { Flows = b.Flows.Select(f => $"cookie=0x{cookie:x},{f}").ToList() }).ToList();
        return new OvsPlan(ports, stamped, meters, cookie, context.Local.Select(l => l.Port.Device).ToList(), context.Waiting);
    }

    /// <summary>Egress (VM → network) meter of a port: 2 × its OpenFlow number.</summary>
    public static int EgressMeter(int ofport) => ofport * 2;

    /// <summary>Ingress (network → VM) meter of a port: 2 × its OpenFlow number + 1.</summary>
    public static int IngressMeter(int ofport) => ofport * 2 + 1;

    /// <summary>The tunnel port to a peer: its type and the peer address in hex (IPv4) or a hash of it.</summary>
    public static TunnelPort Tunnel(SegmentType type, string remoteIp, string localIp)
    {
        var kind = type == SegmentType.Gre ? "gre" : "vxlan";
        var address = IPAddress.Parse(remoteIp);
        var suffix = address.AddressFamily == AddressFamily.InterNetwork
            ? Convert.ToHexStringLower(address.GetAddressBytes())
            : Convert.ToHexStringLower(SHA256.HashData(address.GetAddressBytes()))[..8];
        return new TunnelPort($"{kind}-{suffix}", kind, remoteIp, localIp);
    }

    private static PatchPair Patch(OvsLayout layout, string physnet, string bridge) =>
        new(physnet, bridge, Truncate($"int-{bridge}"), Truncate($"phy-{bridge}"));

    /// <summary>Interface names are at most 15 characters (IFNAMSIZ - 1).</summary>
    private static string Truncate(string name) => name.Length <= 15 ? name : name[..15];

    /// <summary>fe80::/64 with the MAC's EUI-64 (universal/local bit flipped, ff:fe in the middle).</summary>
    public static string LinkLocal(string mac)
    {
        var b = mac.Split(':').Select(x => byte.Parse(x, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        var bytes = new byte[16];
        bytes[0] = 0xfe;
        bytes[1] = 0x80;
        bytes[8] = (byte)(b[0] ^ 0x02);
        bytes[9] = b[1];
        bytes[10] = b[2];
        bytes[11] = 0xff;
        bytes[12] = 0xfe;
        bytes[13] = b[3];
        bytes[14] = b[4];
        bytes[15] = b[5];
        return new IPAddress(bytes).ToString();
    }

    private static ulong Cookie(IReadOnlyList<BridgeFlows> bridges, IReadOnlyList<Meter> meters)
    {
        var text = new StringBuilder();
        foreach (var bridge in bridges)
        {
            text.Append(bridge.Bridge).Append('\n');
            foreach (var flow in bridge.Flows)
                text.Append(flow).Append('\n');
        }
        foreach (var meter in meters)
            text.Append(meter.Spec).Append('\n');
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        var revision = BitConverter.ToUInt64(hash, 0) & 0xffff_ffff_ffffUL;
        return CookieMarker | revision;
    }
}
