namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// A VM port of this host whose tap is on the bridge: its OpenFlow number, its network and that
/// network's zone, and its security group rules with their remote groups resolved to addresses (once:
/// a group's members are many on a big host).
/// </summary>
internal sealed record LocalPort(OverlayPort Port, int Ofport, OverlayNetwork Network, int Zone, IReadOnlyList<SecurityRule> Rules)
{
    public void Deconstruct(out OverlayPort port, out int ofport, out OverlayNetwork network, out int zone) =>
        (port, ofport, network, zone) = (Port, Ofport, Network, Zone);
}

/// <summary>A peer host's tunnel a network's frames leave and arrive by.</summary>
internal sealed record PeerTunnel(NetworkPeer Peer, int Ofport);

/// <summary>
/// How frames of one network enter and leave the host: by the tunnels to the peers that share it,
/// tagged with the network's key, or by its physical network's patch port (with its VLAN pushed, or
/// untagged for a flat network). <see cref="Output"/> is the actions that send a frame out of the
/// host on this network; null when there is no way out yet (no peer, no patch port).
/// </summary>
internal sealed record NetworkUplink(long? TunnelKey, IReadOnlyList<PeerTunnel> Peers, int? Patch, long? Vlan)
{
    public static NetworkUplink None { get; } = new(null, [], null, null);

    public string? Output => TunnelKey is { } key
        ? Peers.Count == 0 ? null : $"set_field:{FlowText.Hex(key)}->tun_id," + string.Join(",", Peers.Select(p => p.Ofport).Distinct().Select(p => $"output:{p}"))
        : Patch is not { } patch ? null
        // OVS's own spelling (it prints mod_vlan_vid this way), so diff-flows sees no difference.
        : Vlan is { } vlan ? $"push_vlan:0x8100,set_field:{4096 + vlan}->vlan_vid,output:{patch}"
        : $"output:{patch}";
}

/// <summary>A network with local ports on this host: its zone (<c>reg6</c>), its local ports, its uplink.</summary>
internal sealed record LocalNetwork(OverlayNetwork Network, int Zone, IReadOnlyList<LocalPort> Members, NetworkUplink Uplink);

/// <summary>
/// A security group rule with several remote addresses, rendered once for every port that has it as
/// a conjunctive match; <see cref="Id"/> is its conjunction id (by the rules' keys in order).
/// </summary>
internal sealed record SharedRule(int Id, SecurityRule Rule, IReadOnlyList<int> Ports);

/// <summary>
/// What every table of a host is rendered from: its VM ports that are on the bridge, its networks
/// with local ports (in zone order) and their uplinks, the rules shared by several ports, and the
/// ports (taps, then tunnels, then patch ports) that are not on the bridge yet.
/// </summary>
internal sealed record FlowContext(IReadOnlyList<LocalPort> Local, IReadOnlyList<LocalNetwork> Networks,
    IReadOnlyList<SharedRule> SharedRules, IReadOnlyList<string> Waiting)
{
    public static FlowContext Of(HostNetworkState state, OvsPorts ports, IReadOnlyDictionary<string, int> ofports)
    {
        var zones = NetworkZones.Assign(state.Networks.Select(n => n.Id));
        var networks = state.Networks.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var waiting = new List<string>();
        var local = new List<LocalPort>();
        foreach (var port in state.Ports.OrderBy(p => p.Device, StringComparer.Ordinal))
        {
            if (!networks.TryGetValue(port.Network, out var network))
                throw new ArgumentException($"port {port.Id} is on network {port.Network}, which the host state does not describe", nameof(state));
            if (ofports.TryGetValue(port.Device, out var ofport))
                local.Add(new LocalPort(port, ofport, network, zones[network.Id], port.PortSecurity ? [.. port.Rules.Select(state.Resolve)] : []));
            else
                waiting.Add(port.Device);
        }
        int? Ofport(string name)
        {
            if (ofports.TryGetValue(name, out var n))
                return n;
            if (!waiting.Contains(name))
                waiting.Add(name);
            return null;
        }
        var tunnels = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var tunnel in ports.Tunnels)
            if (Ofport(tunnel.Name) is { } n)
                tunnels[tunnel.Name] = n;
        var patches = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var patch in ports.Patches)
            if (Ofport(patch.IntegrationPort) is { } n)
                patches[patch.Physnet] = n;
        var withPorts = state.Networks.Where(n => local.Any(l => l.Network == n)).OrderBy(n => zones[n.Id])
            .Select(n => new LocalNetwork(n, zones[n.Id], local.Where(l => l.Network == n).ToList(), Uplink(state, n, tunnels, patches)))
            .ToList();
        return new FlowContext(local, withPorts, Shared(local), waiting);
    }

    /// <summary>The uplink of a network: the tunnels to its peers that are on the bridge, or its physical network's patch port.</summary>
    private static NetworkUplink Uplink(HostNetworkState state, OverlayNetwork network, Dictionary<string, int> tunnels, Dictionary<string, int> patches)
    {
        if (network.Type is SegmentType.Vxlan or SegmentType.Gre)
        {
            var key = network.Segment ?? throw new ArgumentException($"network {network.Id} ({network.Type}) has no segment", nameof(state));
            var peers = new List<PeerTunnel>();
            if (state.TunnelIp is { } localIp)
            {
                foreach (var peer in network.Peers.OrderBy(p => p.TunnelIp, StringComparer.Ordinal))
                {
                    if (tunnels.TryGetValue(FlowPipeline.Tunnel(network.Type, peer.TunnelIp, localIp).Name, out var ofport))
                        peers.Add(new PeerTunnel(peer, ofport));
                }
            }
            return new NetworkUplink(key, peers, null, null);
        }
        if (network.Physnet is null || !patches.TryGetValue(network.Physnet, out var patch))
            return NetworkUplink.None;
        if (network.Type == SegmentType.Vlan)
            return new NetworkUplink(null, [], patch, network.Segment ?? throw new ArgumentException($"network {network.Id} (vlan) has no segment", nameof(state)));
        return new NetworkUplink(null, [], patch, null);
    }

    /// <summary>The rules of ports with port security whose remote is several addresses (a remote group), each with the ports that have it.</summary>
    private static List<SharedRule> Shared(List<LocalPort> local)
    {
        var shared = new SortedDictionary<string, (SecurityRule Rule, List<int> Ports)>(StringComparer.Ordinal);
        foreach (var l in local.Where(l => l.Port.PortSecurity))
        {
            foreach (var rule in l.Rules.Where(r => r.Remotes is { Count: > 1 }))
            {
                var key = RuleTable.Key(rule);
                if (!shared.TryGetValue(key, out var entry))
                    shared[key] = entry = (rule, []);
                entry.Ports.Add(l.Ofport);
            }
        }
        return shared.Values.Select((s, i) => new SharedRule(i + 1, s.Rule, s.Ports)).ToList();
    }
}
