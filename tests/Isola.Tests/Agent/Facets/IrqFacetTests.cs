using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Domain.Cpu;
using Isola.Rendering.Isolation;

namespace Isola.Tests.Agent.Facets;

/// <summary>The IRQ facet: the known IRQs and the VF's IRQs steered once the domain runs, the affinity before kept first and put back when the server goes.</summary>
public sealed class IrqFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly IrqFacet _facet = new();

    public IrqFacetTests()
    {
        // IRQ 90 is known from the inventory; the VF shows 100 and 101 once the guest enables MSI-X.
        foreach (var irq in new[] { 90, 100, 101 })
            _w.HostFile($"proc/irq/{irq}/smp_affinity_list", "0-15\n");
        foreach (var irq in new[] { 100, 101 })
            _w.HostFile($"sys/bus/pci/devices/{_w.Vf.Vf}/msi_irqs/{irq}", "msix\n");
    }

    public void Dispose() => _w.Dispose();

    private Isola.Rendering.HostPlan Plan() =>
        _w.Plan(new IrqAffinityPlan([new IrqRule("p1", _w.Vf.Vf, CpuSet.Parse("5,7"))], [new IrqAssignment(90, _w.Vf.Vf, 3)], []));

    private async Task<(ServerContext, ActualHost)> ReadAsync(Isola.Contracts.Agent.DesiredHost desired) =>
        (await _w.ContextAsync(_facet, desired), await _w.ReadAsync(_facet, desired));

    private async Task RunningAsync()
    {
        await _w.Driver.DefineAsync(FacetWorld.Domain, Plan().DomainXml);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        _w.Store.Save(new AppliedServer("s1", FacetWorld.Domain, [_w.Vf]));
    }

    [Fact]
    public async Task Nothing_is_steered_before_the_domain_runs()
    {
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        var (context, actual) = await ReadAsync(desired);
        Assert.Equal([100, 101], actual.Get<IrqReading>().MsiIrqs[_w.Vf.Vf]);
        Assert.Empty(_facet.PlanServer(context, actual));
    }

    [Fact]
    public async Task Each_irq_is_steered_its_affinity_before_kept_first_and_a_move_behind_the_agents_back_is_drift()
    {
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        var (context, actual) = await ReadAsync(desired);
        var steps = _facet.PlanServer(context, actual).ToList();
        Assert.Equal(
        [
            new IrqFacet.SteerIrq("s1", 90, "3", "0-15", null),
            new IrqFacet.SteerIrq("s1", 100, "5", "0-15", null),
            new IrqFacet.SteerIrq("s1", 101, "7", "0-15", null),
        ], steps);
        foreach (var step in steps)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal(["3\n", "5\n", "7\n"], new[] { 90, 100, 101 }.Select(i => _w.ReadHostFile($"proc/irq/{i}/smp_affinity_list")));
        Assert.Equal(new Dictionary<int, string> { [90] = "0-15", [100] = "0-15", [101] = "0-15" }, IrqFacet.Before(_w.Store.Load()["s1"]));

        (context, actual) = await ReadAsync(desired);
        Assert.Empty(_facet.PlanServer(context, actual));
        _w.HostFile("proc/irq/100/smp_affinity_list", "0-3\n");
        (context, actual) = await ReadAsync(desired);
        var again = Assert.Single(_facet.PlanServer(context, actual));
        // Steered back; the affinity to restore is still the one before Isola.
        Assert.Equal(new IrqFacet.SteerIrq("s1", 100, "5", "0-15", $"irq 100 ({_w.Vf.Vf}): on 0-3 (want 5)"), again);
        await _facet.ApplyAsync(again, _w.Hands, default);
        Assert.Equal("0-15", IrqFacet.Before(_w.Store.Load()["s1"])[100]);
    }

    [Fact]
    public async Task A_gone_servers_irqs_get_their_affinity_back()
    {
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        var (context, actual) = await ReadAsync(desired);
        foreach (var step in _facet.PlanServer(context, actual))
            await _facet.ApplyAsync(step, _w.Hands, default);

        // Gone from the desired state: the IRQs it steered are read from its file, and put back.
        var gone = _w.Store.Load()["s1"];
        var none = FacetWorld.Desired();
        var restore = _facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)).ToList();
        Assert.Equal([90, 100, 101], restore.Cast<IrqFacet.RestoreIrq>().Select(r => r.Irq).Order());
        foreach (var step in restore)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.All(new[] { 90, 100, 101 }, i => Assert.Equal("0-15\n", _w.ReadHostFile($"proc/irq/{i}/smp_affinity_list")));
        Assert.Empty(_facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)));
    }
}
