using Dapper;
using Isola.Rendering;
using Isola.Store.Documents;
using Isola.Store.Resources;

namespace Isola.Store.Lifecycle;

/// <summary>A port of a server that holds resources, with its host and that host's tunnel endpoint.</summary>
public sealed record BoundPortRow(string Id, string ServerId, string Host, string? TunnelIp, string NetworkId, string Mac, StoredDocument<PortSpec> Spec, bool PortSecurity, string? QosPolicyId);

/// <summary>A security group rule of a port's group.</summary>
public sealed record PortRuleRow(string PortId, string Direction, string Ethertype, string? Protocol, int? PortMin, int? PortMax, string? RemoteIpPrefix, string? RemoteGroupId);

/// <summary>A rule of a QoS policy that the host's flows carry: a bandwidth limit (a meter) or a DSCP mark.</summary>
public sealed record PortQosRuleRow(string PolicyId, string Type, string Direction, long? MaxKbps, long? MaxBurstKbps, int? DscpMark);

/// <summary>The rows a host's network state is made from (see Isola.Server's HostNetworkView).</summary>
public sealed record HostNetworkRows(
    string? TunnelIp,
    IReadOnlyList<BoundPortRow> Local,
    IReadOnlyList<NetworkRecord> Networks,
    IReadOnlyList<BoundPortRow> Remote,
    IReadOnlyList<(string PortId, string Address)> Addresses,
    IReadOnlyList<PortRuleRow> Rules,
    IReadOnlyList<(string GroupId, string Address)> GroupMembers,
    IReadOnlyList<PortQosRuleRow> QosRules);

/// <summary>
/// The store's side of the virtio ports' networks: what one host's flows depend on, read in one
/// transaction, and the revision bumps that tell other hosts their view changed (l2population).
/// </summary>
public sealed class HostNetworkStore(StoreConnectionFactory factory)
{
    private const string BoundPorts = $"""
        SELECT p.id, p.server_id, s.host, h.tunnel_ip, p.network_id, p.mac, p.spec, p.port_security, p.qos_policy_id
        FROM ports p JOIN servers s ON s.id = p.server_id JOIN hosts h ON h.name = s.host
        WHERE s.status IN ({ServerStatus.HoldingList})
        """;

    private static BoundPortRow Bound(System.Data.Common.DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), r.GetString(4), r.GetString(5), r.Document<PortSpec>(6), r.Bool(7), r.NullableString(8));

    /// <summary>The host's bound ports, their networks, the other hosts' ports on those networks, addresses, rules, limits and marks. Null for an unknown host.</summary>
    public async Task<HostNetworkRows?> RowsAsync(string host)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginReadAsync();
        var head = await c.RowsAsync("SELECT tunnel_ip FROM hosts WHERE name = @host", new { host }, r => r.NullableString(0), tx);
        if (head.Count == 0)
            return null;
        var local = await c.RowsAsync($"{BoundPorts} AND s.host = @host ORDER BY p.id", new { host }, Bound, tx);
        if (local.Count == 0)
        {
            await tx.CommitAsync();
            return new HostNetworkRows(head[0], [], [], [], [], [], [], []);
        }
        var (networkIn, networkParameters) = InList.Of(local.Select(p => p.NetworkId));
        var networks = await c.RowsAsync($"SELECT id, project_id, name, type, physnet, segment, mtu, shared FROM networks WHERE id IN {networkIn} ORDER BY id",
            networkParameters, r => new NetworkRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.NullableLong(5),
                (int)r.Long(6), r.Bool(7)), tx);
        networkParameters.Add("host", host);
        var remote = await c.RowsAsync($"{BoundPorts} AND s.host <> @host AND p.network_id IN {networkIn} ORDER BY p.id", networkParameters, Bound, tx);

        var (localIn, localParameters) = InList.Of(local.Select(p => p.Id));
        var rules = await c.RowsAsync($"""
            SELECT g.port_id, r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id
            FROM port_security_groups g JOIN security_group_rules r ON r.group_id = g.group_id WHERE g.port_id IN {localIn} ORDER BY g.port_id, r.id
            """, localParameters, r => new PortRuleRow(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableString(3), (int?)r.NullableLong(4), (int?)r.NullableLong(5),
                r.NullableString(6), r.NullableString(7)), tx);
        var (groupIn, groupParameters) = InList.Of(rules.Where(r => r.RemoteGroupId is not null).Select(r => r.RemoteGroupId!));
        var members = await c.RowsAsync($"""
            SELECT g.group_id, a.address FROM port_security_groups g JOIN ip_allocations a ON a.port_id = g.port_id
            WHERE g.group_id IN {groupIn} ORDER BY g.group_id, a.address
            """, groupParameters, r => (r.GetString(0), r.GetString(1)), tx);
        var (portIn, portParameters) = InList.Of(local.Concat(remote).Select(p => p.Id));
        var addresses = await c.RowsAsync($"SELECT port_id, address FROM ip_allocations WHERE port_id IN {portIn} ORDER BY port_id, address",
            portParameters, r => (r.GetString(0), r.GetString(1)), tx);
        var (policyIn, policyParameters) = InList.Of(local.Where(p => p.QosPolicyId is not null).Select(p => p.QosPolicyId!));
        // The rule types as the API stores them (Isola.Server's QosRules): bandwidth-limit, dscp-marking.
        var qos = await c.RowsAsync($"""
            SELECT policy_id, type, direction, max_kbps, max_burst_kbps, dscp_mark FROM qos_rules
            WHERE type IN ('bandwidth-limit', 'dscp-marking') AND policy_id IN {policyIn} ORDER BY policy_id, id
            """, policyParameters, r => new PortQosRuleRow(r.GetString(0), r.GetString(1), r.GetString(2), r.NullableLong(3), r.NullableLong(4),
                (int?)r.NullableLong(5)), tx);
        await tx.CommitAsync();
        return new HostNetworkRows(head[0], local, networks, remote, addresses, rules, members, qos);
    }

    /// <summary>
    /// Moves the revision of every host other than <paramref name="except"/> that holds a port on one of
    /// <paramref name="networkIds"/>: their flows (tunnels, remote MACs, ARP answers) depend on the ports
    /// that came or went. Hosts are updated in name order, one statement, so two callers never deadlock.
    /// </summary>
    public async Task<IReadOnlyList<string>> TouchPeersAsync(IEnumerable<string> networkIds, string? except)
    {
        var (networkIn, parameters) = InList.Of(networkIds);
        if (networkIn == "(NULL)")
            return [];
        if (except is not null)
            parameters.Add("except", except);
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        var hosts = (await c.QueryAsync<string>($"""
            SELECT DISTINCT s.host FROM ports p JOIN servers s ON s.id = p.server_id
            WHERE p.network_id IN {networkIn} AND s.status IN ({ServerStatus.HoldingList}){(except is null ? "" : " AND s.host <> @except")}
            ORDER BY s.host
            """, parameters, tx)).ToList();
        foreach (var h in hosts)
            await c.ExecuteAsync("UPDATE hosts SET revision = revision + 1 WHERE name = @h", new { h }, tx);
        await tx.CommitAsync();
        return hosts;
    }

    /// <summary>The networks of a server's ports (what its arrival or departure changes for other hosts).</summary>
    public async Task<IReadOnlyList<string>> NetworksOfServerAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>("SELECT DISTINCT network_id FROM ports WHERE server_id = @serverId OR created_for = @serverId", new { serverId })).ToList();
    }

    /// <summary>The networks of the ports a host holds.</summary>
    public async Task<IReadOnlyList<string>> NetworksOfHostAsync(string host)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>($"""
            SELECT DISTINCT p.network_id FROM ports p JOIN servers s ON s.id = p.server_id WHERE s.host = @host AND s.status IN ({ServerStatus.HoldingList})
            """, new { host })).ToList();
    }

    /// <summary>The security groups of some ports (their members' addresses are what remote-group rules match).</summary>
    public async Task<IReadOnlyList<string>> GroupsOfPortsAsync(IEnumerable<string> portIds)
    {
        var (portIn, parameters) = InList.Of(portIds);
        if (portIn == "(NULL)")
            return [];
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>($"SELECT DISTINCT group_id FROM port_security_groups WHERE port_id IN {portIn}", parameters)).ToList();
    }

    /// <summary>The ports a server made for itself (they go with it).</summary>
    public async Task<IReadOnlyList<string>> PortsCreatedForAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>("SELECT id FROM ports WHERE created_for = @serverId", new { serverId })).ToList();
    }

    /// <summary>The networks of the ports whose rules depend on a security group: its members and the members of groups that name it as remote.</summary>
    public async Task<IReadOnlyList<string>> NetworksOfGroupAsync(string groupId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>("""
            SELECT DISTINCT p.network_id FROM ports p JOIN port_security_groups g ON g.port_id = p.id
            WHERE g.group_id = @groupId OR g.group_id IN (SELECT group_id FROM security_group_rules WHERE remote_group_id = @groupId)
            """, new { groupId })).ToList();
    }
}
