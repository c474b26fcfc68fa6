using Isola.Agent.Facets;
using Isola.Contracts.Agent;

namespace Isola.Agent.Reconcile;

/// <summary>A step and the facet that planned it (and applies it).</summary>
public sealed record PlannedStep(Step Step, IHostFacet Facet);

/// <summary>
/// The agent's decisions as a pure function of what should be (desired), what is (actual) and what
/// it put there before (applied), made by the host's facets in their order (<see cref="HostFacets.All"/>):
/// for each server the host should hold, a new one remembered first and then each facet's steps;
/// each facet's host-wide steps; for each server that left, each facet's steps to take it away and
/// then the server forgotten; last, what no server owns. The loop knows no facet by name. A server in
/// the desired state without a plan (the controller could not make it) is left exactly as it is:
/// nothing is made for it and nothing of it is taken down (<see cref="Untouched"/>).
/// </summary>
public static class Reconciler
{
    /// <summary>Reads the host, facet by facet, in order (a facet sees what the earlier ones read).</summary>
    public static async Task<ActualHost> ReadAsync(IReadOnlyList<IHostFacet> facets, DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied,
        Driver.HostDriver driver, CancellationToken ct)
    {
        var actual = ActualHost.Empty;
        foreach (var facet in facets)
        {
            if (await facet.ReadAsync(new HostRead(desired, applied, driver, actual), ct) is { } reading)
                actual = actual.With(reading);
        }
        return actual;
    }

    /// <summary>The steps, in order, by the default facets.</summary>
    public static IReadOnlyList<Step> Plan(DesiredHost desired, ActualHost actual, IReadOnlyDictionary<string, AppliedServer> applied) =>
        Plan(HostFacets.All, desired, actual, applied).Select(p => p.Step).ToList();

    public static IReadOnlyList<PlannedStep> Plan(IReadOnlyList<IHostFacet> facets, DesiredHost desired, ActualHost actual,
        IReadOnlyDictionary<string, AppliedServer> applied)
    {
        var steps = new List<PlannedStep>();
        foreach (var server in desired.Servers)
        {
            if (server.Plan is not { } plan)
                continue; // still the host's (it holds resources), but nothing to compare with: left as it is
            var record = applied.GetValueOrDefault(server.Id);
            if (record is null)
                steps.Add(new(new Step.Remember(new AppliedServer(server.Id, plan.Server, plan.Vfs)), Bookkeeping.Instance));
            var context = ServerContext.Of(server, plan, record, actual);
            foreach (var facet in facets)
                steps.AddRange(facet.PlanServer(context, actual).Select(s => new PlannedStep(s, facet)));
        }
        foreach (var facet in facets)
            steps.AddRange(facet.PlanHost(desired, applied, actual).Select(s => new PlannedStep(s, facet)));
        var wanted = desired.Servers.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in applied.Values.Where(a => !wanted.Contains(a.Id)).OrderBy(a => a.Id, StringComparer.Ordinal))
        {
            foreach (var facet in facets)
                steps.AddRange(facet.PlanTakeDown(gone, actual).Select(s => new PlannedStep(s, facet)));
            steps.Add(new(new Step.Forget(gone.Id), Bookkeeping.Instance));
        }
        foreach (var facet in facets)
            steps.AddRange(facet.PlanSweep(desired, applied, actual).Select(s => new PlannedStep(s, facet)));
        return steps;
    }

    /// <summary>
    /// The servers the desired state holds without a plan, and why: the agent neither creates nor tears
    /// down anything of theirs (domain, VFs, IRQs) until a plan comes or the server leaves the desired state.
    /// </summary>
    public static IReadOnlyList<string> Untouched(DesiredHost desired) =>
        desired.Servers.Where(s => s.Plan is null)
            .Select(s => $"server {s.Name} ({s.Id}): no host plan ({s.PlanError ?? "the controller sent none"}): its domain, VFs and IRQs are left as they are")
            .ToList();

    /// <summary>The report after a cycle, by the default facets.</summary>
    public static HostReport Report(DesiredHost desired, ActualHost actual, IReadOnlySet<string>? readyTaps = null,
        IReadOnlyDictionary<string, AppliedServer>? applied = null) =>
        Report(HostFacets.All, desired, actual, readyTaps, applied);

    /// <summary>
    /// The report after a cycle: each server's domain state, each port ACTIVE when every facet says its
    /// part of the port holds (its domain started, its VFs set, its vhost workers pinned, ...) and, for a
    /// virtio port, its tap is on the integration bridge with its flows in place (<paramref name="readyTaps"/>;
    /// null: the agent does not manage Open vSwitch); DOWN otherwise. A server without a plan is left as it is,
    /// and so is what the controller knows of it: its domain's state when the agent knows its domain
    /// (<paramref name="applied"/>), its ports not at all (without the plan the agent cannot judge them).
    /// </summary>
    public static HostReport Report(IReadOnlyList<IHostFacet> facets, DesiredHost desired, ActualHost actual, IReadOnlySet<string>? readyTaps = null,
        IReadOnlyDictionary<string, AppliedServer>? applied = null)
    {
        var virtio = desired.Network?.Ports.ToDictionary(p => p.Id, p => p.Device, StringComparer.Ordinal) ?? new Dictionary<string, string>();
        var servers = new List<ReportedServer>();
        var ports = new List<ReportedPort>();
        foreach (var server in desired.Servers)
        {
            if (server.Plan is null)
            {
                if (applied?.GetValueOrDefault(server.Id) is { } known)
                    servers.Add(new ReportedServer(server.Id, ServerContext.VmStateOf(actual, known.Domain)));
                continue;
            }
            var context = ServerContext.Of(server, server.Plan, null, actual);
            var made = applied?.GetValueOrDefault(server.Id);
            servers.Add(new ReportedServer(server.Id, context.VmState, made is null ? null : StorageFacet.DiskVersion(made)));
            foreach (var port in server.Ports)
            {
                var ready = facets.All(f => f.Holds(context, port, actual))
                    && (readyTaps is null || !virtio.TryGetValue(port.Id, out var tap) || readyTaps.Contains(tap));
                ports.Add(new ReportedPort(port.Id, ready ? "ACTIVE" : "DOWN"));
            }
        }
        // What it has not finished taking down (a failed step keeps the server's record): a server evacuated off this host
        // while its agent was down keeps its claims here until it is no longer in this list.
        var wanted = desired.Servers.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var leaving = (applied?.Keys ?? []).Where(id => !wanted.Contains(id)).Order(StringComparer.Ordinal).ToList();
        return new HostReport(desired.Revision, servers, ports, leaving);
    }

    /// <summary>What keeps the facets from doing their part (for the cycle's failures).</summary>
    public static IEnumerable<string> Problems(IReadOnlyList<IHostFacet> facets, DesiredHost desired, ActualHost actual) =>
        facets.SelectMany(f => f.Problems(desired, actual));

    /// <summary>The agent's own steps: the server's file in the state directory.</summary>
    private sealed class Bookkeeping : IHostFacet
    {
        public static Bookkeeping Instance { get; } = new();

        public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
        {
            switch (step)
            {
                case Step.Remember r:
                    hands.Applied.Save(r.Applied);
                    break;
                case Step.Forget f:
                    hands.Applied.Forget(f.Id);
                    break;
                default:
                    throw HostFacets.NotMine(this, step);
            }
            return Task.CompletedTask;
        }
    }
}
