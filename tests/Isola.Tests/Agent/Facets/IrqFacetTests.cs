using Isola.Scheduling;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Domain.Cpu;
using Isola.Rendering.Isolation;

namespace Isola.Tests.Agent.Facets;

/// <summary>The IRQ facet: a VF's vfio vectors steered by what they serve once the domain runs, the affinity before kept first and put back when the server goes, new numbers after the guest enables MSI-X again steered in the next cycle.</summary>
public sealed class IrqFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly IrqFacet _facet = new();

    public IrqFacetTests() => Vectors(100);

    public void Dispose() => _w.Dispose();

    /// <summary>The VF's three vfio-pci vectors from IRQ <paramref name="first"/> on, as the host shows them once the guest (igbvf) enabled MSI-X.</summary>
    private void Vectors(int first, params int[] gone) => Vectors(first, null, gone);

    /// <summary>The VF's three vectors: vfio-pci's, or (<paramref name="netdev"/>) its host driver igbvf's, named after its netdev.</summary>
    private void Vectors(int first, string? netdev, params int[] gone)
    {
        foreach (var irq in gone)
        {
            File.Delete(Path.Join(_w.Root, $"sys/bus/pci/devices/{_w.Vf.Vf}/msi_irqs/{irq}"));
            Directory.Delete(Path.Join(_w.Root, $"proc/irq/{irq}"), recursive: true);
        }
        var lines = new System.Text.StringBuilder("           CPU0       CPU1\n");
        for (var e = 0; e < 3; e++)
        {
            var irq = first + e;
            _w.HostFile($"proc/irq/{irq}/smp_affinity_list", "0-15\n");
            _w.HostFile($"sys/bus/pci/devices/{_w.Vf.Vf}/msi_irqs/{irq}", "msix\n");
            var name = netdev is null ? $"vfio-msix[{e}]({_w.Vf.Vf})" : e switch { 0 => $"{netdev}-tx-0", 1 => $"{netdev}-rx-0", _ => netdev };
            lines.Append(System.Globalization.CultureInfo.InvariantCulture, $" {irq}:          0          0  IR-PCI-MSIX-{_w.Vf.Vf}   {e}-edge      {name}\n");
        }
        _w.HostFile("proc/interrupts", lines.ToString());
        if (netdev is not null)
            _w.HostFile($"sys/bus/pci/devices/{_w.Vf.Vf}/net/{netdev}/ifindex", "7\n");
    }

    private Isola.Rendering.HostPlan Plan(bool passthrough = true) =>
        _w.Plan(new IrqAffinityPlan([new IrqRule("p1", _w.Vf.Vf, "igbvf", passthrough, [new VcpuPin(2, 5), new VcpuPin(3, 7)], new VcpuPin(0, 1))], [], []));

    private async Task<(ServerContext, ActualHost)> ReadAsync(Isola.Contracts.Agent.DesiredHost desired) =>
        (await _w.ContextAsync(_facet, desired), await _w.ReadAsync(_facet, desired));

    /// <summary>One cycle of the facet for the desired state: read, plan, apply every step.</summary>
    private async Task SteerAsync(Isola.Contracts.Agent.DesiredHost desired)
    {
        var (context, actual) = await ReadAsync(desired);
        foreach (var step in _facet.PlanServer(context, actual))
            await _facet.ApplyAsync(step, _w.Hands, default);
    }

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
        Assert.Equal([100, 101, 102], actual.Get<IrqReading>().Vectors[_w.Vf.Vf].Select(v => v.Irq));
        Assert.Equal($"vfio-msix[2]({_w.Vf.Vf})", actual.Get<IrqReading>().Vectors[_w.Vf.Vf][2].Name);
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
            new IrqFacet.SteerIrq("s1", 100, "5", "0-15", null, Restore: false), // entry 0: queue 0's tx
            new IrqFacet.SteerIrq("s1", 101, "5", "0-15", null, Restore: false), // entry 1: queue 0's rx
            new IrqFacet.SteerIrq("s1", 102, "1", "0-15", null, Restore: false), // entry 2: the mailbox, on the housekeeping CPU
        ], steps);
        foreach (var step in steps)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal(["5\n", "5\n", "1\n"], new[] { 100, 101, 102 }.Select(i => _w.ReadHostFile($"proc/irq/{i}/smp_affinity_list")));
        // vfio-pci's vectors go with the domain: remembered as steered, nothing to put back.
        Assert.Empty(IrqFacet.Before(_w.Store.Load()["s1"]));
        Assert.Equal([100, 101, 102], IrqFacet.Steered(_w.Store.Load()["s1"]));

        (context, actual) = await ReadAsync(desired);
        Assert.Empty(_facet.PlanServer(context, actual));
        _w.HostFile("proc/irq/100/smp_affinity_list", "0-3\n");
        (context, actual) = await ReadAsync(desired);
        var again = Assert.Single(_facet.PlanServer(context, actual));
        // Steered back, as drift.
        Assert.Equal(new IrqFacet.SteerIrq("s1", 100, "5", "0-3", $"irq 100 ({_w.Vf.Vf} queue 0): on 0-3 (want 5)", Restore: false), again);
        await _facet.ApplyAsync(again, _w.Hands, default);
        Assert.Equal("5\n", _w.ReadHostFile("proc/irq/100/smp_affinity_list"));
    }

    [Fact]
    public async Task A_gone_servers_host_driver_vectors_get_their_affinity_back_and_vfio_ones_go_with_the_domain()
    {
        // macvtap: the VF's host driver (igbvf) keeps it and names its vectors after the netdev.
        Vectors(100, "enp59s16f1", gone: [100, 101, 102]);
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan(passthrough: false)));
        var (context, actual) = await ReadAsync(desired);
        var steps = _facet.PlanServer(context, actual).Cast<IrqFacet.SteerIrq>().ToList();
        Assert.Equal([(100, "5", true), (101, "5", true), (102, "1", true)], steps.Select(s => (s.Irq, s.Cpus, s.Restore)));
        foreach (var step in steps)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal(new Dictionary<int, string> { [100] = "0-15", [101] = "0-15", [102] = "0-15" }, IrqFacet.Before(_w.Store.Load()["s1"]));

        // Gone from the desired state: the IRQs it steered are read from its file, and put back.
        var gone = _w.Store.Load()["s1"];
        var none = FacetWorld.Desired();
        var restore = _facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)).ToList();
        Assert.Equal([100, 101, 102], restore.Cast<IrqFacet.RestoreIrq>().Select(r => r.Irq).Order());
        foreach (var step in restore)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.All(new[] { 100, 101, 102 }, i => Assert.Equal("0-15\n", _w.ReadHostFile($"proc/irq/{i}/smp_affinity_list")));
        Assert.Empty(_facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)));
    }

    [Fact]
    public async Task Vectors_the_guest_enabled_again_under_new_numbers_are_steered_in_the_next_cycle()
    {
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        await SteerAsync(desired);

        // The guest's driver reloads: vfio-pci frees the vectors and allocates new ones, at the default affinity.
        Vectors(200, gone: [100, 101, 102]);
        var (context, actual) = await ReadAsync(desired);
        var steps = _facet.PlanServer(context, actual).Cast<IrqFacet.SteerIrq>().ToList();
        Assert.Equal([(200, "5"), (201, "5"), (202, "1")], steps.Select(s => (s.Irq, s.Cpus)));
        Assert.All(steps, s => Assert.Null(s.Drift)); // new vectors, not moved ones
        foreach (var step in steps)
            await _facet.ApplyAsync(step, _w.Hands, default);
        (context, actual) = await ReadAsync(desired);
        Assert.Empty(_facet.PlanServer(context, actual));
        // Taken down: vfio-pci's vectors go with the domain; nothing is written to numbers that may be another device's by then.
        Assert.Empty(_facet.PlanTakeDown(_w.Store.Load()["s1"], await _w.ReadAsync(_facet, FacetWorld.Desired())));
    }

    [Fact]
    public async Task A_vector_requested_again_under_its_old_number_at_the_kernels_default_is_new_not_drift()
    {
        _w.HostFile("proc/irq/default_smp_affinity", "ffff\n"); // CPUs 0-15
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        Assert.Equal("0-15", (await ReadAsync(desired)).Item2.Get<IrqReading>().DefaultAffinity);
        await SteerAsync(desired);

        // The guest rebooted: vfio-pci freed the vectors and the kernel handed out the same numbers again, at its default.
        Vectors(100, gone: [100, 101, 102]);
        var (context, actual) = await ReadAsync(desired);
        var steps = _facet.PlanServer(context, actual).Cast<IrqFacet.SteerIrq>().ToList();
        Assert.Equal([100, 101, 102], steps.Select(s => s.Irq));
        Assert.All(steps, s => Assert.Null(s.Drift));
        // One moved elsewhere than the default is drift.
        _w.HostFile("proc/irq/101/smp_affinity_list", "3\n");
        (context, actual) = await ReadAsync(desired);
        Assert.NotNull(_facet.PlanServer(context, actual).Cast<IrqFacet.SteerIrq>().Single(s => s.Irq == 101).Drift);
    }

    [Fact]
    public async Task What_the_servers_file_remembers_of_vectors_it_no_longer_has_is_dropped()
    {
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        await SteerAsync(desired);
        Vectors(200, gone: [100, 101, 102]);
        await SteerAsync(desired);
        // The old numbers may be another device's now: nothing of them is kept (or banned, or written) any more.
        Assert.Equal([200, 201, 202], IrqFacet.Steered(_w.Store.Load()["s1"]));
    }
}
