using Isola.Coordination;
using Isola.Server.Services;
using Isola.Store.Resources;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Supervision;

/// <summary>
/// What happens when a server's host plan cannot be made (its host's inventory changed under it, or a
/// rule the create missed): that one server goes to ERROR with the reason and gives back what it held,
/// as a build timeout does; its host's desired state, its agent and every other server go on. A server
/// past BUILD keeps what it has on the host: it stays in the desired state without a plan (and with
/// the reason) until one can be made again, the agent leaves its domain, VFs and IRQs as they are,
/// and the log says why.
/// </summary>
public sealed partial class PlanFailures(PlacementService placement, HostSignals signals, Isola.Store.Lifecycle.HostNetworkStore networks, PeerRevisions peers,
    ILogger<PlanFailures> log)
{
    /// <summary>True when the server was released (it leaves the host's desired state); false when it keeps what it holds.</summary>
    public async Task<bool> FailAsync(string serverId, string name, string host, string status, string reason)
    {
        if (status != Isola.Store.ServerStatus.Build)
        {
            LogKept(log, name, serverId, host, reason);
            return false;
        }
        var fault = $"its host plan cannot be made on {host}: {reason}";
        var onNetworks = await networks.NetworksOfServerAsync(serverId);
        if (await placement.Placer.ReleaseAsync(serverId, host, (c, tx) => PortStore.UnbindAsync(c, tx, serverId), fault: fault))
        {
            await peers.TouchAsync(onNetworks, host);
            signals.Notify(host);
            LogFailed(log, name, serverId, host, fault);
            return true;
        }
        // Not released here: gone meanwhile (its next desired state says so), or no longer in BUILD (then it keeps what it holds).
        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "server {Name} ({Id}) on {Host}: {Fault}")]
    private static partial void LogFailed(ILogger logger, string name, string id, string host, string fault);

    [LoggerMessage(Level = LogLevel.Error, Message = "server {Name} ({Id}) on {Host} has no host plan and is left as it is on the host: {Reason}")]
    private static partial void LogKept(ILogger logger, string name, string id, string host, string reason);
}
