using Isola.Server.Lifecycle;
using Isola.Store.Lifecycle;

namespace Isola.Server.Hosts;

/// <summary>
/// Tells the hosts whose flows depend on a change (a virtio port came or went on another host of its
/// network, a security group's rules changed, a tunnel endpoint moved) by moving their revision, and
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

    public async Task TouchGroupAsync(string groupId) => await TouchAsync(await store.NetworksOfGroupAsync(groupId), null);

    public async Task TouchHostPeersAsync(string host) => await TouchAsync(await store.NetworksOfHostAsync(host), host);
}
