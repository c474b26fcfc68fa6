using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering;
using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>
/// One cycle of the agent's interrupt steering by hand (<c>isola host irq steer|restore</c>): the
/// <see cref="IrqFacet"/> reads, plans and applies exactly as in the agent's cycle, for one server
/// taken to be running whose plan has only <paramref name="irqs"/>; its memory (the affinities
/// before, the vfio vectors steered) is kept in <paramref name="stateDirectory"/> as the agent keeps it.
/// <see cref="RestoreAsync"/> is the take-down: the server gone, what was steered put back.
/// </summary>
public sealed class IrqSteering(HostDriver driver, string stateDirectory)
{
    /// <summary>The server's name in the state directory and the steps.</summary>
    public const string Server = "by-hand";

    private readonly AppliedStore _store = new(stateDirectory);
    private readonly IHostFacet[] _facets = [new Running(), new IrqFacet()];

    /// <summary>Steers what the rules' devices have now; returns the steps it applied (a drift says it was moved since the last run).</summary>
    public Task<IReadOnlyList<Step>> SteerAsync(IrqAffinityPlan irqs, CancellationToken ct = default)
    {
        var plan = new HostPlan(Server, "", "", "", [], irqs, new HostIsolation(Domain.Cpu.CpuSet.Empty, Domain.Cpu.CpuSet.Empty, []), [], [], "");
        var server = new DesiredServer(Server, Server, "", "ACTIVE", null, "running", "running", [], "by-hand", plan);
        return CycleAsync(new DesiredHost("", 1, 0, [server]), ct);
    }

    /// <summary>Puts back what <see cref="SteerAsync"/> steered (a host driver's vectors; vfio-pci's go with their domain).</summary>
    public Task<IReadOnlyList<Step>> RestoreAsync(CancellationToken ct = default) => CycleAsync(new DesiredHost("", 1, 0, []), ct);

    private async Task<IReadOnlyList<Step>> CycleAsync(DesiredHost desired, CancellationToken ct)
    {
        var applied = _store.Load();
        var actual = await Reconciler.ReadAsync(_facets, desired, applied, driver, ct);
        var steps = Reconciler.Plan(_facets, desired, actual, applied);
        var hands = new AgentHands(driver, _store);
        foreach (var planned in steps)
            await planned.Facet.ApplyAsync(planned.Step, hands, ct);
        return steps.Select(s => s.Step).Where(s => s is not (Step.Remember or Step.Forget)).ToList();
    }

    /// <summary>The by-hand server's domain runs (its devices' vectors are there to steer).</summary>
    private sealed class Running : IHostFacet
    {
        public Task<object?> ReadAsync(HostRead read, CancellationToken ct) =>
            Task.FromResult<object?>(new DomainReading(read.Desired.Servers.ToDictionary(s => s.Plan?.Server ?? s.Id, _ => "running", StringComparer.Ordinal)));

        public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct) => throw HostFacets.NotMine(this, step);
    }
}
