using Isola.Rendering.Flows;
using Isola.Scheduling.Requests;
using Isola.Server.QosPolicies;
using Isola.Store.Lifecycle;

namespace Isola.Server.Hosts;

/// <summary>
/// A host's <see cref="HostNetworkState"/> from the store's rows: its virtio ports with their
/// addresses, security group rules (each remote group's members' addresses listed once), bandwidth
/// limits and DSCP mark (its QoS policy's rules), the networks they are on and, for tunnel networks, the other hosts' ports on
/// them (l2population). SR-IOV ports are left out: their VFs bypass Open vSwitch.
/// </summary>
internal static class HostNetworkView
{
    public static HostNetworkState From(HostNetworkRows rows)
    {
        var addresses = rows.Addresses.ToLookup(a => a.PortId, a => a.Address);
        var members = rows.GroupMembers.ToLookup(m => m.GroupId, m => m.Address);
        var rules = rows.Rules.ToLookup(r => r.PortId);
        var qos = rows.QosRules.ToLookup(b => b.PolicyId);
        var local = rows.Local.Where(IsVirtio).ToList();
        var used = local.Select(p => p.NetworkId).ToHashSet(StringComparer.Ordinal);
        var networks = rows.Networks.Where(n => used.Contains(n.Id)).Select(n =>
        {
            var type = Enum.Parse<SegmentType>(n.Type, ignoreCase: true);
            var peers = type is SegmentType.Vxlan or SegmentType.Gre
                ? rows.Remote.Where(p => p.NetworkId == n.Id && p.TunnelIp is not null && IsVirtio(p))
                    .GroupBy(p => (p.Host, p.TunnelIp))
                    .OrderBy(g => g.Key.Host, StringComparer.Ordinal)
                    .Select(g => new NetworkPeer(g.Key.Host, g.Key.TunnelIp!, g.Select(p => new RemotePort(p.Mac, addresses[p.Id].ToList())).ToList()))
                    .ToList()
                : [];
            return new OverlayNetwork(n.Id, type, n.Segment, n.Physnet, peers);
        }).ToList();
        var ports = local.Select(p =>
        {
            var policy = p.QosPolicyId is null ? [] : qos[p.QosPolicyId].ToList();
            var limits = policy.Where(r => r.Type == QosRules.BandwidthLimit).ToList();
            return new OverlayPort(p.Id, p.ServerId, TapNames.Of(p.Id), p.NetworkId, p.Mac, addresses[p.Id].ToList(),
                rules[p.Id].Select(Rule).ToList(), p.PortSecurity, Rate(limits, "egress"), Rate(limits, "ingress"),
                policy.FirstOrDefault(r => r.Type == QosRules.DscpMarking)?.DscpMark);
        }).ToList();
        var groups = rows.Rules.Where(r => r.RemoteGroupId is not null).Select(r => r.RemoteGroupId!).Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToDictionary(g => g, g => (IReadOnlyList<string>)members[g].Select(a => a + (a.Contains(':', StringComparison.Ordinal) ? "/128" : "/32")).ToList(),
                StringComparer.Ordinal);
        return new HostNetworkState(rows.TunnelIp, networks, ports, groups);
    }

    private static bool IsVirtio(BoundPortRow port) =>
        port.Spec.Value.Kind.OnOvs;

    private static SecurityRule Rule(PortRuleRow r) =>
        new(r.Direction, r.Ethertype == "IPv6" ? 6 : 4, r.Protocol, r.PortMin, r.PortMax, r.RemoteIpPrefix is not null ? [r.RemoteIpPrefix] : null, r.RemoteGroupId);

    /// <summary>A bandwidth limit; without a burst, 80% of the rate (as Neutron's Open vSwitch agent does).</summary>
    private static PortRate? Rate(IEnumerable<PortQosRuleRow> limits, string direction) =>
        limits.FirstOrDefault(l => l.Direction == direction) is { MaxKbps: { } kbps } l
            ? new PortRate(kbps, l.MaxBurstKbps is > 0 ? l.MaxBurstKbps.Value : Math.Max(1, kbps * 8 / 10))
            : null;
}
