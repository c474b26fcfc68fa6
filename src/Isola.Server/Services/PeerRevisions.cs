using Isola.Store.Lifecycle;

namespace Isola.Server.Services;

/// <summary>
/// Tells the hosts whose flows depend on a change (a virtio port came or went on another host of its
/// network, a security group's rules or members changed, a tunnel endpoint moved) by moving their revision, and
/// wakes their agents' long polls in this process (other processes' see it within a second).
/// Best effort: the change itself is committed before; a host not told now (the store busy, a
/// PostgreSQL deadlock with another process's bump) sees it at its agent's next resync (10 s).
/// </summary>
public sealed class PeerRevisions(HostNetworkStore store, HostSignals signals, Microsoft.Extensions.Logging.ILogger<PeerRevisions> log)
{
    public async Task TouchAsync(IEnumerable<string> networkIds, string? except)
    {
        try
        {
            foreach (var host in await store.TouchPeersAsync(networkIds, except))
                signals.Notify(host);
        }
        catch (System.Data.Common.DbException e)
        {
            Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(log, e, "peer hosts not told of a network change now; their agents see it at their next resync");
        }
    }

    public async Task TouchGroupAsync(string groupId) => await TouchGroupsAsync([groupId]);

    /// <summary>Groups whose rules or members changed: the hosts of their members' and their referrers' ports.</summary>
    public async Task TouchGroupsAsync(IEnumerable<string> groupIds)
    {
        var networks = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var group in groupIds.Distinct(StringComparer.Ordinal))
                networks.UnionWith(await store.NetworksOfGroupAsync(group));
        }
        catch (System.Data.Common.DbException e)
        {
            Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(log, e, "peer hosts not told of a group change now; their agents see it at their next resync");
            return;
        }
        await TouchAsync(networks, null);
    }

    /// <summary>Ports that came or will have gone: the members of their groups changed.</summary>
    public async Task<IReadOnlyList<string>> GroupsOfAsync(IEnumerable<string> portIds)
    {
        try
        {
            return await store.GroupsOfPortsAsync(portIds);
        }
        catch (System.Data.Common.DbException e)
        {
            Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(log, e, "could not read the ports' groups; their peers see the change at their next resync");
            return [];
        }
    }

    public async Task TouchHostPeersAsync(string host) => await TouchAsync(await store.NetworksOfHostAsync(host), host);
}
