using Isola.Server.Lifecycle;
using Isola.Store.Lifecycle;

namespace Isola.Server.Hosts;

/// <summary>
/// Tells the hosts whose flows depend on a change (a virtio port came or went on another host of its
/// network, a security group's rules or members changed, a tunnel endpoint moved) by moving their
/// revision, and wakes their agents' long polls in this process (other processes' see it within a second).
/// </summary>
public sealed class PeerRevisions(HostNetworkStore store, HostSignals signals)
{
    public async Task TouchAsync(IEnumerable<string> networkIds, string? except)
    {
        foreach (var host in await store.TouchPeersAsync(networkIds, except))
            signals.Notify(host);
    }

    public async Task TouchGroupAsync(string groupId) => await TouchAsync(await store.NetworksOfGroupAsync(groupId), null);

    public async Task TouchHostPeersAsync(string host) => await TouchAsync(await store.NetworksOfHostAsync(host), host);
}
