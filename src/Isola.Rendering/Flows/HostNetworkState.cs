namespace Isola.Rendering.Flows;

/// <summary>How a network's frames leave the host: untagged or 802.1Q on a physical network, or in a tunnel.</summary>
public enum SegmentType
{
    Flat,
    Vlan,
    Vxlan,
    Gre,
}

/// <summary>A port on another host, as l2population tells this host about it.</summary>
public sealed record RemotePort(string Mac, IReadOnlyList<string> Ips);

/// <summary>Another host with ports on a network, its tunnel endpoint and those ports.</summary>
public sealed record NetworkPeer(string Host, string TunnelIp, IReadOnlyList<RemotePort> Ports);

/// <summary>A network this host has ports on.</summary>
/// <param name="Segment">VLAN ID, VXLAN VNI or GRE key; null for flat networks.</param>
/// <param name="Peers">The other hosts with ports on it (tunnel networks; VLAN and flat networks reach theirs through the physical network).</param>
public sealed record OverlayNetwork(string Id, SegmentType Type, long? Segment, string? Physnet, IReadOnlyList<NetworkPeer> Peers);

/// <summary>
/// One security group rule of a port, its remote group already turned into addresses.
/// </summary>
/// <param name="Direction">ingress (to the port) or egress (from it).</param>
/// <param name="Version">4 or 6.</param>
/// <param name="Protocol">tcp, udp, icmp, icmpv6, a protocol number, or null for any.</param>
/// <param name="PortMin">First port (tcp/udp) or ICMP type.</param>
/// <param name="PortMax">Last port (tcp/udp) or ICMP code.</param>
/// <param name="Remotes">The remote end's prefixes; null: anywhere (or the remote group's members); empty: no one.</param>
/// <param name="RemoteGroup">A security group whose members' addresses are the remote end (<see cref="HostNetworkState.RemoteGroups"/>).</param>
public sealed record SecurityRule(string Direction, int Version, string? Protocol = null, int? PortMin = null, int? PortMax = null, IReadOnlyList<string>? Remotes = null,
    string? RemoteGroup = null);

/// <summary>A rate limit: kilobits per second and a burst in kilobits.</summary>
public sealed record PortRate(long Kbps, long BurstKb);

/// <summary>
/// A virtio port on this host: its tap device, network, addresses and what may pass it.
/// </summary>
/// <param name="Device">The tap libvirt plugs into the integration bridge (<c>tap</c> + the port id's first 11 characters).</param>
/// <param name="Ips">Its fixed addresses (no prefix length); port security lets it send only from these and its MAC.</param>
/// <param name="PortSecurity">Off: no source check and no security groups (Neutron's port_security_enabled).</param>
/// <param name="Egress">Limit on what the VM sends.</param>
/// <param name="Ingress">Limit on what the VM receives.</param>
/// <param name="DscpMark">The DSCP value (0-63, a QoS policy's dscp-marking rule) every IPv4 and IPv6 packet the VM sends leaves with, whatever the VM set; null: left as the VM set it.</param>
public sealed record OverlayPort(
    string Id,
    string Server,
    string Device,
    string Network,
    string Mac,
    IReadOnlyList<string> Ips,
    IReadOnlyList<SecurityRule> Rules,
    bool PortSecurity = true,
    PortRate? Egress = null,
    PortRate? Ingress = null,
    int? DscpMark = null);

/// <summary>
/// Everything the flow pipeline of one host depends on: its tunnel endpoint, the networks it has
/// ports on (with their peers) and its virtio ports. Part of the host's desired state.
/// </summary>
/// <param name="RemoteGroups">The addresses (prefixes) of each security group the ports' rules name as remote: once per group, not once per rule.</param>
public sealed record HostNetworkState(string? TunnelIp, IReadOnlyList<OverlayNetwork> Networks, IReadOnlyList<OverlayPort> Ports,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? RemoteGroups = null)
{
    public static HostNetworkState Empty { get; } = new(null, [], []);

    /// <summary>A rule with its remote group turned into the group's addresses of the rule's IP version.</summary>
    public SecurityRule Resolve(SecurityRule rule) => rule.RemoteGroup is null ? rule : rule with
    {
        Remotes = (RemoteGroups?.GetValueOrDefault(rule.RemoteGroup) ?? [])
            .Where(a => a.Contains(':', StringComparison.Ordinal) == (rule.Version == 6)).ToList(),
    };
}

/// <summary>The host's bridges: the integration bridge and the bridge of each physical network.</summary>
public sealed record OvsLayout(string IntegrationBridge, IReadOnlyDictionary<string, string> BridgeMappings)
{
    public static OvsLayout Default { get; } = new("br-int", new Dictionary<string, string>());

    /// <summary>Parses <c>physnet:bridge[,physnet:bridge...]</c> (Neutron's bridge_mappings).</summary>
    public static OvsLayout Parse(string integrationBridge, string? mappings)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in (mappings ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split(':');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new FormatException($"bridge mapping '{item}' is not physnet:bridge");
            if (!map.TryAdd(parts[0], parts[1]))
                throw new FormatException($"physical network {parts[0]} is mapped twice");
        }
        return new(integrationBridge, map);
    }
}
