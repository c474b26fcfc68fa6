using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Isola.Rendering.Flows;

/// <summary>
/// Renders a host's Open vSwitch state from its <see cref="HostNetworkState"/>: the tunnel and patch
/// ports, then (given the OpenFlow port numbers the bridge assigned) every flow of the integration
/// bridge and of the physical bridges, and the meters. Pure and deterministic: the same state and
/// port numbers give the same text, byte for byte. The tables are described in docs/flows.md.
/// </summary>
public static class FlowPipeline
{
    /// <summary>Isola's flows carry this in the cookie's top 16 bits; the rest is the flow set's revision.</summary>
    public const ulong CookieMarker = 0x15a1UL << 48;

    private const string BroadcastOrMulticast = "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00";
    private static readonly string[] NeighbourDiscovery = ["133", "134", "135", "136"];

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
        var zones = NetworkZones.Assign(state.Networks.Select(n => n.Id));
        var networks = state.Networks.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var flows = new List<(int Table, int Priority, string Text)>();
        var meters = new List<Meter>();
        var waiting = new List<string>();
        void Add(int table, int priority, string match, string actions) =>
            flows.Add((table, priority, $"table={table},priority={priority}{(match.Length > 0 ? "," + match : "")} actions={actions}"));

        var shared = new SortedDictionary<string, (SecurityRule Rule, List<int> Ports)>(StringComparer.Ordinal);

        // Local ports with their number, per network.
        var local = new List<(OverlayPort Port, int Ofport, OverlayNetwork Network, int Zone)>();
        foreach (var port in state.Ports.OrderBy(p => p.Device, StringComparer.Ordinal))
        {
            if (!networks.TryGetValue(port.Network, out var network))
                throw new ArgumentException($"port {port.Id} is on network {port.Network}, which the host state does not describe", nameof(state));
            if (ofports.TryGetValue(port.Device, out var ofport))
                local.Add((port, ofport, network, zones[network.Id]));
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

        // Table 0: classify. Anything else is dropped (including frames from ports Isola does not know).
        Add(FlowTables.Classify, 0, "", "drop");
        foreach (var (port, ofport, _, zone) in local)
        {
            var meter = port.Egress is null ? "" : $"meter:{EgressMeter(ofport)},";
            if (port.Egress is not null)
                meters.Add(new Meter(EgressMeter(ofport), port.Egress.Kbps, port.Egress.BurstKb));
            // Untagged only: a VM's own 802.1Q tag would otherwise ride out on a flat network into someone's VLAN.
            Add(FlowTables.Classify, 100, $"in_port={ofport},vlan_tci=0x0000/0x1fff",
                $"{meter}set_field:{ofport}->reg5,set_field:{zone}->reg6,goto_table:{FlowTables.PortSecurity}");
        }
        var tunnelOfports = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var tunnel in ports.Tunnels)
            if (Ofport(tunnel.Name) is { } n)
                tunnelOfports[tunnel.Name] = n;
        var patchOfports = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var patch in ports.Patches)
            if (Ofport(patch.IntegrationPort) is { } n)
                patchOfports[patch.Physnet] = n;

        foreach (var network in state.Networks.Where(n => local.Any(l => l.Network == n)).OrderBy(n => zones[n.Id]))
        {
            var zone = zones[network.Id];
            var members = local.Where(l => l.Network == network).ToList();
            // Flooded frames reach each member through its ingress tables (rules, meter), one resubmit per
            // member: conntrack forks the packet there, and the original goes on to the next member and the uplink.
            var memberOutputs = string.Join(",", members.Select(m => $"set_field:{m.Ofport}->reg7,resubmit(,{FlowTables.IngressConntrack})"));
            string? uplink = null;  // how a frame leaves the host on this network, after the local outputs
            if (network.Type is SegmentType.Vxlan or SegmentType.Gre)
            {
                var key = network.Segment ?? throw new ArgumentException($"network {network.Id} ({network.Type}) has no segment", nameof(state));
                var peerPorts = new List<int>();
                foreach (var peer in network.Peers.OrderBy(p => p.TunnelIp, StringComparer.Ordinal))
                {
                    if (state.TunnelIp is null)
                        break;
                    var tunnel = Tunnel(network.Type, peer.TunnelIp, state.TunnelIp);
                    if (!tunnelOfports.TryGetValue(tunnel.Name, out var tp))
                        continue;
                    peerPorts.Add(tp);
                    Add(FlowTables.Classify, 100, $"in_port={tp},tun_id={Hex(key)}",
                        $"set_field:{zone}->reg6,goto_table:{FlowTables.Forward}");
                    foreach (var remote in peer.Ports.OrderBy(r => r.Mac, StringComparer.Ordinal))
                        Add(FlowTables.Forward, 90, $"reg6={zone},dl_dst={Mac(remote.Mac)}",
                            $"set_field:{Hex(key)}->tun_id,output:{tp}");
                }
                if (peerPorts.Count > 0)
                    uplink = $"set_field:{Hex(key)}->tun_id," + string.Join(",", peerPorts.Distinct().Select(p => $"output:{p}"));
            }
            else if (network.Physnet is not null && patchOfports.TryGetValue(network.Physnet, out var patch))
            {
                if (network.Type == SegmentType.Vlan)
                {
                    var vlan = network.Segment ?? throw new ArgumentException($"network {network.Id} (vlan) has no segment", nameof(state));
                    Add(FlowTables.Classify, 100, $"in_port={patch},dl_vlan={vlan}",
                        $"pop_vlan,set_field:{zone}->reg6,goto_table:{FlowTables.Forward}");
                    // OVS's own spelling (it prints mod_vlan_vid this way), so diff-flows sees no difference.
                    uplink = $"push_vlan:0x8100,set_field:{4096 + vlan}->vlan_vid,output:{patch}";
                }
                else
                {
                    Add(FlowTables.Classify, 100, $"in_port={patch},vlan_tci=0x0000/0x1fff",
                        $"set_field:{zone}->reg6,goto_table:{FlowTables.Forward}");
                    uplink = $"output:{patch}";
                }
            }

            // Table 50, per network: local MACs first; frames from outside reach only local ports
            // (no hairpin between tunnels); broadcast and unknown unicast from a VM go to the
            // network's local ports and its peers only.
            foreach (var m in members)
                Add(FlowTables.Forward, 100, $"reg6={zone},dl_dst={Mac(m.Port.Mac)}",
                    $"set_field:{m.Ofport}->reg7,goto_table:{FlowTables.IngressConntrack}");
            Add(FlowTables.Forward, 96, $"reg5=0,reg6={zone},{BroadcastOrMulticast}", memberOutputs);
            Add(FlowTables.Forward, 95, $"reg5=0,reg6={zone}", "drop");
            Add(FlowTables.Forward, 80, $"reg6={zone},{BroadcastOrMulticast}", uplink is null ? memberOutputs : $"{memberOutputs},{uplink}");
            Add(FlowTables.Forward, 70, $"reg6={zone}", uplink ?? "drop");

            // Table 20: answer ARP for every IPv4 address known on the network, local or remote,
            // except an address asked by its own port (gratuitous ARP and duplicate detection pass on).
            var known = members.SelectMany(m => m.Port.Ips.Select(ip => (Ip: ip, m.Port.Mac, Owner: (int?)m.Ofport)))
                .Concat(network.Peers.SelectMany(p => p.Ports).SelectMany(r => r.Ips.Select(ip => (Ip: ip, r.Mac, Owner: (int?)null))))
                .Where(k => IPAddress.Parse(k.Ip).AddressFamily == AddressFamily.InterNetwork)
                .DistinctBy(k => k.Ip, StringComparer.Ordinal)
                .OrderBy(k => k.Ip, StringComparer.Ordinal);
            foreach (var (ip, mac, owner) in known)
            {
                if (owner is { } o)
                    Add(FlowTables.ArpResponder, 110, $"reg5={o},arp,arp_tpa={ip}", $"goto_table:{FlowTables.Forward}");
                Add(FlowTables.ArpResponder, 100, $"reg6={zone},arp,arp_op=1,arp_tpa={ip}", ArpReply(mac, ip));
            }
        }
        Add(FlowTables.ArpResponder, 0, "", $"goto_table:{FlowTables.Forward}");

        // Port security, security groups and delivery, per local port.
        Add(FlowTables.PortSecurity, 0, "", "drop");
        Add(FlowTables.EgressConntrack, 0, "", "drop");
        Add(FlowTables.IngressConntrack, 0, "", "drop");
        foreach (var direction in new[] { (Table: FlowTables.EgressRules, Next: FlowTables.Forward), (Table: FlowTables.IngressRules, Next: FlowTables.Deliver) })
        {
            Add(direction.Table, 0, "", "drop");
            Add(direction.Table, 200, "ct_state=+inv+trk", "drop");
            Add(direction.Table, 190, "ct_state=-new+est-inv+trk", $"goto_table:{direction.Next}");
            Add(direction.Table, 190, "ct_state=-new+rel-inv+trk", $"goto_table:{direction.Next}");
        }
        Add(FlowTables.Deliver, 0, "", "drop");
        foreach (var (port, ofport, _, _) in local)
        {
            var mac = Mac(port.Mac);
            if (port.PortSecurity)
            {
                foreach (var ip in port.Ips.Order(StringComparer.Ordinal))
                {
                    if (IPAddress.Parse(ip).AddressFamily == AddressFamily.InterNetwork)
                    {
                        Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},arp,arp_sha={mac},arp_spa={ip}", $"goto_table:{FlowTables.ArpResponder}");
                        Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},ip,nw_src={ip}", $"goto_table:{FlowTables.EgressConntrack}");
                    }
                    else
                    {
                        Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},ipv6,ipv6_src={ip}", $"goto_table:{FlowTables.EgressConntrack}");
                    }
                }
                // IPv6 link-local (EUI-64 of the MAC).
                Add(FlowTables.PortSecurity, 100, $"reg5={ofport},dl_src={mac},ipv6,ipv6_src={LinkLocal(mac)}", $"goto_table:{FlowTables.EgressConntrack}");
                NeighbourGuard(port, ofport, mac, Add);
                if (port.Ips.Count == 0)
                {
                    Add(FlowTables.PortSecurity, 90, $"reg5={ofport},dl_src={mac},arp,arp_sha={mac}", $"goto_table:{FlowTables.ArpResponder}");
                    Add(FlowTables.PortSecurity, 90, $"reg5={ofport},dl_src={mac},ip", $"goto_table:{FlowTables.EgressConntrack}");
                    Add(FlowTables.PortSecurity, 90, $"reg5={ofport},dl_src={mac},ipv6", $"goto_table:{FlowTables.EgressConntrack}");
                }

                // Neighbour discovery passes both ways without conntrack; other IP goes through it.
                foreach (var type in NeighbourDiscovery)
                {
                    Add(FlowTables.EgressConntrack, 150, $"reg5={ofport},icmp6,icmpv6_type={type}", $"goto_table:{FlowTables.Forward}");
                    Add(FlowTables.IngressConntrack, 150, $"reg7={ofport},icmp6,icmpv6_type={type}", $"goto_table:{FlowTables.Deliver}");
                }
                foreach (var l3 in new[] { "ip", "ipv6" })
                {
                    Add(FlowTables.EgressConntrack, 100, $"reg5={ofport},{l3}", $"ct(table={FlowTables.EgressRules},zone=NXM_NX_REG6[0..15])");
                    Add(FlowTables.IngressConntrack, 100, $"reg7={ofport},{l3}", $"ct(table={FlowTables.IngressRules},zone=NXM_NX_REG6[0..15])");
                }
                Add(FlowTables.EgressConntrack, 50, $"reg5={ofport}", $"goto_table:{FlowTables.Forward}");
                Add(FlowTables.IngressConntrack, 50, $"reg7={ofport}", $"goto_table:{FlowTables.Deliver}");
                foreach (var rule in port.Rules.Select(state.Resolve))
                {
                    // A rule whose remote is several addresses (a remote group) is one conjunctive
                    // match shared by every port with that rule: O(ports + addresses), not their product.
                    if (rule.Remotes is { Count: > 1 })
                    {
                        var key = RuleKey(rule);
                        if (!shared.TryGetValue(key, out var entry))
                            shared[key] = entry = (rule, []);
                        entry.Ports.Add(ofport);
                        continue;
                    }
                    foreach (var match in RuleMatches(rule))
                    {
                        var egress = rule.Direction == "egress";
                        Add(egress ? FlowTables.EgressRules : FlowTables.IngressRules, 100,
                            $"{(egress ? "reg5" : "reg7")}={ofport},ct_state=+new-est-inv+trk,{match}",
                            $"ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:{(egress ? FlowTables.Forward : FlowTables.Deliver)}");
                    }
                }
            }
            else
            {
                Add(FlowTables.PortSecurity, 100, $"reg5={ofport},arp", $"goto_table:{FlowTables.ArpResponder}");
                Add(FlowTables.PortSecurity, 90, $"reg5={ofport}", $"goto_table:{FlowTables.EgressConntrack}");
                Add(FlowTables.EgressConntrack, 50, $"reg5={ofport}", $"goto_table:{FlowTables.Forward}");
                Add(FlowTables.IngressConntrack, 50, $"reg7={ofport}", $"goto_table:{FlowTables.Deliver}");
            }
            if (port.Ingress is not null)
                meters.Add(new Meter(IngressMeter(ofport), port.Ingress.Kbps, port.Ingress.BurstKb));
            Add(FlowTables.Deliver, 100, $"reg7={ofport}", port.Ingress is null ? $"output:{ofport}" : $"meter:{IngressMeter(ofport)},output:{ofport}");
        }

        SharedRules(shared, Add);

        var integration = flows.Distinct().OrderBy(f => f.Table).ThenByDescending(f => f.Priority).ThenBy(f => f.Text, StringComparer.Ordinal).Select(f => f.Text).ToList();
        var bridges = new List<BridgeFlows> { new(layout.IntegrationBridge, integration) };
        foreach (var patch in ports.Patches)
            bridges.Add(new BridgeFlows(patch.PhysicalBridge, ["table=0,priority=0 actions=NORMAL"]));
        meters = meters.OrderBy(m => m.Id).ToList();
        var cookie = Cookie(bridges, meters);
        var stamped = bridges.Select(b => b with { Flows = b.Flows.Select(f => $"cookie=0x{cookie:x},{f}").ToList() }).ToList();
        return new OvsPlan(ports, stamped, meters, cookie, local.Select(l => l.Port.Device).ToList(), waiting);
    }

    /// <summary>
    /// IPv6 neighbour discovery from a port with port security: no router advertisements or redirects;
    /// a neighbour advertisement only for its own addresses with its own MAC (or none) as target
    /// link-layer address; a solicitation only from its addresses (or :: for duplicate detection) with
    /// its own MAC (or none) as source link-layer address. Other ND from it is dropped. A port without
    /// addresses is held to its MAC only.
    /// </summary>
    private static void NeighbourGuard(OverlayPort port, int ofport, string mac, Action<int, int, string, string> add)
    {
        var next = $"goto_table:{FlowTables.EgressConntrack}";
        add(FlowTables.PortSecurity, 120, $"reg5={ofport},icmp6,icmpv6_type=134", "drop");
        add(FlowTables.PortSecurity, 120, $"reg5={ofport},icmp6,icmpv6_type=137", "drop");
        List<string?> own = [.. port.Ips.Where(ip => IPAddress.Parse(ip).AddressFamily == AddressFamily.InterNetworkV6).Order(StringComparer.Ordinal), LinkLocal(mac)];
        var checkAddresses = port.Ips.Count > 0;
        string[] linkLayer = [mac, "00:00:00:00:00:00"];
        foreach (var address in checkAddresses ? own : new List<string?> { null })
        {
            var target = address is null ? "" : $",ipv6_src={address},nd_target={address}";
            foreach (var tll in linkLayer)
                add(FlowTables.PortSecurity, 115, $"reg5={ofport},dl_src={mac},icmp6,icmpv6_type=136,icmpv6_code=0{target},nd_tll={tll}", next);
        }
        foreach (var source in checkAddresses ? [.. own, "::"] : new List<string?> { null })
        {
            var from = source is null ? "" : $",ipv6_src={source}";
            foreach (var sll in linkLayer)
                add(FlowTables.PortSecurity, 115, $"reg5={ofport},dl_src={mac},icmp6,icmpv6_type=135,icmpv6_code=0{from},nd_sll={sll}", next);
        }
        add(FlowTables.PortSecurity, 110, $"reg5={ofport},icmp6,icmpv6_type=135", "drop");
        add(FlowTables.PortSecurity, 110, $"reg5={ofport},icmp6,icmpv6_type=136", "drop");
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

    /// <summary>
    /// Rules with several remote prefixes as conjunctive matches (priority 90): clause 1 is the port
    /// and the protocol/ports, clause 2 the remote address; a flow that serves several rules carries
    /// one conjunction action for each. Conjunction ids follow the rules' keys in order.
    /// </summary>
    private static void SharedRules(SortedDictionary<string, (SecurityRule Rule, List<int> Ports)> shared, Action<int, int, string, string> add)
    {
        var clauses = new SortedDictionary<(int Table, string Match), List<string>>();
        void Clause(int table, string match, string action)
        {
            if (!clauses.TryGetValue((table, match), out var actions))
                clauses[(table, match)] = actions = [];
            actions.Add(action);
        }
        var id = 0;
        foreach (var (rule, ports) in shared.Values)
        {
            id++;
            var egress = rule.Direction == "egress";
            var table = egress ? FlowTables.EgressRules : FlowTables.IngressRules;
            var (l3, remoteField, l4) = RuleParts(rule);
            foreach (var port in ports.Distinct().Order())
                foreach (var ports4 in l4)
                    Clause(table, $"{(egress ? "reg5" : "reg7")}={port},ct_state=+new-est-inv+trk,{l3}{ports4}", $"conjunction({id},1/2)");
            foreach (var remote in rule.Remotes!.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                Clause(table, $"ct_state=+new-est-inv+trk,{l3},{remoteField}={remote}", $"conjunction({id},2/2)");
            add(table, 90, $"conj_id={id},{(rule.Version == 6 ? "ipv6" : "ip")}",
                $"ct(commit,zone=NXM_NX_REG6[0..15]),goto_table:{(egress ? FlowTables.Forward : FlowTables.Deliver)}");
        }
        foreach (var ((table, match), actions) in clauses)
            add(table, 90, match, string.Join(",", actions));
    }

    /// <summary>Rules with the same key are one rule: a remote group's rules are keyed by the group, not its (long) member list.</summary>
    private static string RuleKey(SecurityRule r) =>
        $"{r.Direction}|{r.Version}|{r.Protocol}|{r.PortMin}|{r.PortMax}|" +
        (r.RemoteGroup is not null ? "group:" + r.RemoteGroup : r.Remotes is null ? "*" : string.Join(",", r.Remotes.Order(StringComparer.Ordinal)));

    /// <summary>A rule's protocol match, the field its remote end is in, and its port (or ICMP type/code) matches.</summary>
    private static (string L3, string RemoteField, IReadOnlyList<string> L4) RuleParts(SecurityRule rule)
    {
        var v6 = rule.Version == 6;
        var l3 = rule.Protocol switch
        {
            "tcp" => v6 ? "tcp6" : "tcp",
            "udp" => v6 ? "udp6" : "udp",
            "icmp" or "icmpv6" => v6 ? "icmp6" : "icmp",
            null => v6 ? "ipv6" : "ip",
            var number => $"{(v6 ? "ipv6" : "ip")},nw_proto={number}",
        };
        var remoteField = rule.Direction == "egress" ? (v6 ? "ipv6_dst" : "nw_dst") : (v6 ? "ipv6_src" : "nw_src");
        List<string> l4 = [""];
        if (rule.Protocol is "tcp" or "udp" && rule.PortMin is { } min && rule.PortMax is { } max && !(min <= 1 && max == 65535))
            l4 = PortRangeMasks.Matches("tp_dst", min, max).Select(m => "," + m).ToList();
        else if (rule.Protocol is "icmp" or "icmpv6" && rule.PortMin is { } type)
            l4 = [$",{(v6 ? "icmpv6" : "icmp")}_type={type}{(rule.PortMax is { } code ? $",{(v6 ? "icmpv6" : "icmp")}_code={code}" : "")}"];
        return (l3, remoteField, l4);
    }

    private static IEnumerable<string> RuleMatches(SecurityRule rule)
    {
        if (rule.Remotes is { Count: 0 })
            yield break;
        var (l3, remoteField, l4) = RuleParts(rule);
        var remotes = rule.Remotes is null ? [""] : rule.Remotes.Order(StringComparer.Ordinal).Select(r => $",{remoteField}={r}").ToList();
        foreach (var remote in remotes)
            foreach (var ports in l4)
                yield return l3 + remote + ports;
    }

    private static string ArpReply(string mac, string ip)
    {
        var macHex = "0x" + mac.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
        var ipHex = "0x" + Convert.ToHexStringLower(IPAddress.Parse(ip).GetAddressBytes());
        return "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]," +
               $"set_field:{Mac(mac)}->eth_src," +
               "load:0x2->NXM_OF_ARP_OP[]," +
               "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]," +
               "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]," +
               $"load:{macHex}->NXM_NX_ARP_SHA[]," +
               $"load:{ipHex}->NXM_OF_ARP_SPA[]," +
               "IN_PORT";
    }

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

    private static string Mac(string mac) => mac.ToLowerInvariant();

    private static string Hex(long value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

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
