using Isola.Coordination;
using Isola.Store.Lifecycle;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Isola.Server.Supervision;

/// <summary>
/// Acts on silent agents. Every few seconds, in every server process: hosts whose agent reported
/// before and has been silent for <see cref="AgentLiveness.Silence"/> are marked down in the store
/// (their generation moves, once per fall however many processes sweep), and this process's fleet is
/// brought in step with the store, so it skips the hosts marked down here or elsewhere and takes back
/// the ones whose agents reported again through another process. The scheduler skips a host marked
/// down (<c>agent-down</c>); its servers stay where they are. The agent's next report marks it up.
/// Hosts the scheduler cannot use (their stored inventory does not read, or a placement stored on
/// them does not fit it) are named in a warning once each (at start, or when found), not at every pass.
/// </summary>
public sealed class AgentWatch(LifecycleStore lifecycle, PlacementService placement, TimeProvider time, ILogger<AgentWatch> log) : BackgroundService
{
    private readonly Dictionary<string, string> _told = new(StringComparer.Ordinal);

    /// <summary>How often it looks: a silent host is skipped within Silence + Every of its last report.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(5);

    /// <summary>One pass. Answers the hosts this pass marked down.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(CancellationToken ct = default)
    {
        var down = await lifecycle.MarkSilentAgentsDownAsync(time.GetUtcNow() - AgentLiveness.Silence);
        foreach (var host in down)
            log.LogWarning("host {Host}: no report from its agent for {Seconds:0} s; no new servers there until it reports", host, AgentLiveness.Silence.TotalSeconds);
        await placement.Placer.SyncAsync(ct);
        TellUnreadableHosts();
        return down;
    }

    private void TellUnreadableHosts()
    {
        var now = placement.Placer.UnreadableHosts;
        lock (_told)
        {
            foreach (var (host, problem) in now)
            {
                if (_told.GetValueOrDefault(host) == problem)
                    continue;
                _told[host] = problem;
                log.LogWarning("host {Host}: the scheduler cannot use what the store holds of it ({Problem}); it takes no new servers until the host registers a good inventory or the server that does not fit goes",
                    host, problem);
            }
            foreach (var host in _told.Keys.Where(h => !now.ContainsKey(h)).ToList())
                _told.Remove(host);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TellUnreadableHosts();
        await PeriodicSweep.RunAsync(Every, time, SweepAsync, e => log.LogError(e, "agent watch failed; trying again"), stoppingToken);
    }
}
