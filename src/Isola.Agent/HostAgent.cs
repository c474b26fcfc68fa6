using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Domain.Topology;

namespace Isola.Agent;

/// <summary>What one reconcile cycle did.</summary>
public sealed record CycleResult(long Revision, IReadOnlyList<Step> Done, IReadOnlyList<string> Failures, IReadOnlyList<string> Drift,
    IReadOnlyList<OvsStep>? OvsDone = null)
{
    /// <summary>The servers left exactly as they are because they came without a plan, and why (<see cref="Reconciler.Untouched"/>).</summary>
    public IReadOnlyList<string> Untouched { get; init; } = [];
}

/// <summary>
/// The agent of one host: registers the host's inventory, then loops — fetch the desired state (a
/// long poll that also returns every <see cref="Resync"/> so drift is found without changes), read
/// the host facet by facet, let the facets plan the difference and apply it, then Open vSwitch, then
/// report. Idempotent: a cycle after a crash at any point finds what is done and does the rest (what
/// it put on the host is on disk before it acts).
/// </summary>
public sealed class HostAgent(HostTopology inventory, ControllerClient controller, HostDriver driver, AppliedStore applied, TimeProvider time)
{
    public TimeSpan Resync { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The host's concerns, in the order they are read, planned and applied (<see cref="HostFacets.All"/>).</summary>
    public IReadOnlyList<IHostFacet> Facets { get; init; } = HostFacets.All;

    /// <summary>The Open vSwitch part of each cycle (virtio ports' flows); null: the agent leaves OVS alone.</summary>
    public OvsCycle? Ovs { get; init; }

    private readonly ConsoleLogs _consoles = new(driver.Storage, controller);

    /// <summary>The last failure of a cycle, for status and tests.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>
    /// Where <see cref="RunAsync"/> writes what a cycle could not do (its failures, the servers it left
    /// alone for want of a plan): each line once, when it first appears, not again every cycle it holds.
    /// </summary>
    public Action<string>? Log { get; init; }

    public async Task RegisterAsync(CancellationToken ct) => await controller.RegisterAsync(inventory, ct);

    // A 409 (inventory-conflict: the servers running here hold what this discovery does not show) leaves the
    // controller on the inventory it has, which fits them; the agent goes on with it and keeps the reason.
    private async Task RegisterOrKeepAsync(CancellationToken ct)
    {
        try
        {
            await RegisterAsync(ct);
        }
        catch (HttpRequestException e) when (e.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            LastError = e;
        }
    }

    /// <summary>
    /// One cycle: desired (waiting for a revision after <paramref name="after"/> if given), actual,
    /// steps, report. A cycle that started a domain reads the host and plans once more: what exists
    /// only once QEMU runs (its vhost workers) is done in the same cycle, so the ports can be reported
    /// ACTIVE without waiting for the next one.
    /// </summary>
    public async Task<CycleResult> CycleAsync(long? after = null, CancellationToken ct = default)
    {
        var desired = await controller.DesiredAsync(after, Resync, ct);
        var done = new List<Step>();
        var failures = new List<string>();
        var drift = new List<string>();
        var failed = new HashSet<string>(StringComparer.Ordinal);
        // libvirt plugs a virtio port's tap into its bridge when the domain starts, and refuses to start it without the bridge.
        if (Ovs is not null && desired.Network is { Ports.Count: > 0 })
        {
            try
            {
                await Ovs.EnsureBridgeAsync(ct);
            }
            catch (DriverException e)
            {
                failures.Add($"Open vSwitch: {e.Message}");
            }
        }
        var hands = new AgentHands(driver, applied);
        ActualHost? unchanged = null;  // what the host held when the last pass found nothing to do
        for (var pass = 0; pass < 2 && (pass == 0 || done.Any(s => s is DomainFacet.StartPaused)); pass++)
        {
            var records = applied.Load();
            var before = await Reconciler.ReadAsync(Facets, desired, records, driver, ct);
            var steps = Reconciler.Plan(Facets, desired, before, records);
            unchanged = steps.Count == 0 ? before : null;
            foreach (var (step, facet) in steps)
            {
                if (failed.Contains(step.Server))
                    continue; // the rest of a server's steps wait for the next cycle
                try
                {
                    await facet.ApplyAsync(step, hands, ct);
                    done.Add(step);
                    if (step is IDriftStep { Drift: { } d })
                        drift.Add(d);
                }
                catch (DriverException e)
                {
                    failed.Add(step.Server);
                    failures.Add($"{step.GetType().Name} for {step.Server}: {e.Message}");
                }
            }
        }
        // Taps exist once their domains started (libvirt plugs them), so OVS comes after the domains.
        // A controller that sends no network state (older than the agent) leaves Open vSwitch as it is.
        var managed = Ovs is not null && desired.Network is not null;
        var network = managed ? await Ovs!.RunAsync(desired.Network, ct) : OvsCycleResult.Nothing;
        failures.AddRange(network.Failures);
        drift.AddRange(network.Drift);
        // Nothing done: the host is as read (Open vSwitch steps change nothing the report reads here).
        var known = applied.Load();
        var actual = unchanged ?? await Reconciler.ReadAsync(Facets, desired, known, driver, ct);
        failures.AddRange(Reconciler.Problems(Facets, desired, actual));
        await controller.ReportAsync(Reconciler.Report(Facets, desired, actual, managed ? network.ReadyTaps : null, known), ct);
        failures.AddRange(await _consoles.SendChangedAsync(desired, ct));
        return new CycleResult(desired.Revision, done, failures, drift, network.Done) { Untouched = Reconciler.Untouched(desired) };
    }

    /// <summary>Registers, then runs cycles until cancelled; a failed cycle is retried after a pause.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await RetryAsync(RegisterOrKeepAsync, ct);
        long? revision = null;
        var said = new HashSet<string>(StringComparer.Ordinal);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var cycle = await CycleAsync(revision, ct);
                revision = cycle.Revision;
                var lines = cycle.Untouched.Concat(cycle.Failures).ToHashSet(StringComparer.Ordinal);
                foreach (var line in lines.Where(l => !said.Contains(l)))
                    Log?.Invoke(line);
                said = lines;
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return; // stopping: whatever the last call threw on the way out
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // An agent outlives any one failure: the next cycle starts from what the host holds.
                LastError = e;
                revision = null;
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task RetryAsync(Func<CancellationToken, Task> action, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                await action(ct);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                LastError = e;
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
            }
        }
    }
}
