using System.Collections.Concurrent;
using Isola.Domain.Topology;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;

namespace Isola.Server.Hosts;

/// <summary>
/// Rendered host plans, so an agent's poll of a host with a hundred servers does not render a hundred
/// plans (and parse the host's inventory) every time. A plan is a pure function of the server's
/// placement and spec (which change only with its plan version; a cache hit does not even read them) and the host's inventory
/// (stamped by when it was registered).
/// </summary>
public sealed class PlanCache
{
    // By host and server: a server resized or migrated to another host has a plan on each until the move is confirmed or reverted.
    private readonly ConcurrentDictionary<(string Host, string Server), (string Stamp, HostPlan Plan)> _plans = new();
    private readonly ConcurrentDictionary<string, (string Stamp, HostTopology Inventory)> _inventories = new(StringComparer.Ordinal);

    /// <param name="stamp">The plan's stamp (<paramref name="inventoryStamp"/> and the server's plan version).</param>
    public async Task<HostPlan> PlanAsync(string serverId, string host, string stamp, string inventoryStamp, StoredDocument<Placement> placement,
        StoredDocument<ServerSpec> spec, Func<Task<HostTopology>> inventory)
    {
        if (_plans.TryGetValue((host, serverId), out var known) && known.Stamp == stamp)
            return known.Plan;
        if (!_inventories.TryGetValue(host, out var inv) || inv.Stamp != inventoryStamp)
            _inventories[host] = inv = (inventoryStamp, await inventory());
        var plan = spec.Value.Plan(serverId, placement.Value, inv.Inventory);
        _plans[(host, serverId)] = (stamp, plan);
        return plan;
    }

    /// <summary>Forgets the plans of a host's servers that are no longer there.</summary>
    public void Keep(string host, IReadOnlySet<string> servers)
    {
        foreach (var key in _plans.Keys)
        {
            if (key.Host == host && !servers.Contains(key.Server))
                _plans.TryRemove(key, out _);
        }
    }
}
