using Isola.Coordination;
using Isola.Server.Services;
using Isola.Server.Settings;
using Isola.Store;
using Isola.Store.Lifecycle;
using Isola.Store.Resources;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Supervision;

/// <summary>
/// Moves servers that stayed in BUILD past their deadline to ERROR, with a fault that says what they
/// waited for, and gives back everything they held: claims, VFs, the port bindings. Their hosts'
/// desired state loses them, so the agents tear them down. Also deletes ports made for servers that
/// were never committed.
/// </summary>
public sealed class BuildTimeouts(LifecycleStore lifecycle, ResourceStore resources, PlacementService placement, HostSignals signals, TimeProvider time,
    Isola.Store.Lifecycle.HostNetworkStore networks, PeerRevisions peers,
    ServerSettings settings, ILogger<BuildTimeouts> log) : BackgroundService
{
    /// <summary>One pass: every overdue server failed. Answers the ids failed.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(CancellationToken ct = default)
    {
        var failed = new List<string>();
        foreach (var server in await lifecycle.OverdueAsync())
        {
            var fault = Fault(server, TimeSpan.FromSeconds(settings.BuildTimeoutSeconds));
            var onNetworks = await networks.NetworksOfServerAsync(server.Id);
            if (await placement.Placer.ReleaseAsync(server.Id, server.Host, async (c, tx) =>
                {
                    await PortStore.UnbindAsync(c, tx, server.Id);
                    await ServerActionStore.FinishAsync(c, tx, server.Id, ServerActionStore.Error, fault,
                        time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture));
                }, ct, fault))
            {
                await peers.TouchAsync(onNetworks, server.Host);
                failed.Add(server.Id);
                signals.Notify(server.Host);
                log.LogWarning("server {Server} ({Id}) on {Host}: {Fault}", server.Name, server.Id, server.Host, fault);
            }
        }
        // Ports made for a server that never committed (its process died in between) go too, once surely abandoned.
        var orphans = await resources.Ports.DeleteOrphanedAsync(time.GetUtcNow() - OrphanAge);
        if (orphans > 0)
            log.LogWarning("deleted {Count} port(s) made for servers that were never created", orphans);
        return failed;
    }

    /// <summary>How old a port made for a server that does not exist must be before it is taken for abandoned.</summary>
    public static readonly TimeSpan OrphanAge = TimeSpan.FromMinutes(10);

    /// <summary>What held a build up, in words.</summary>
    public static string Fault(OverdueServer s, TimeSpan timeout)
    {
        var waiting = s.Ports.Where(p => p.Status != PortStatus.Active).Select(p => $"{p.Port} {p.Status}").ToList();
        var reason = s.VmState is null or PowerState.Absent ? "the host's agent never defined the domain"
            : waiting.Count > 0 ? $"ports not ACTIVE: {string.Join(", ", waiting)}"
            : $"the domain is {s.VmState}, not running";
        return $"build timed out after {timeout.TotalSeconds:0} s ({s.TaskState ?? "no task"}): {reason}";
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromSeconds(Math.Clamp(settings.BuildTimeoutSeconds / 10.0, 0.5, 10));
        await PeriodicSweep.RunAsync(every, time, SweepAsync, e => log.LogError(e, "build timeout sweep failed; trying again"), stoppingToken);
    }
}
