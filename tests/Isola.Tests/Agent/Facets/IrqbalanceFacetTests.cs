using Isola.Scheduling;
using Isola.Agent.Facets;
using Isola.Domain.Cpu;
using Isola.Rendering.Isolation;

namespace Isola.Tests.Agent.Facets;

/// <summary>The irqbalance facet: one file for the host, merged over every server, written when it differs, irqbalance restarted.</summary>
public sealed class IrqbalanceFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly IrqbalanceFacet _facet = new();

    public IrqbalanceFacetTests()
    {
        // The VF's vfio-pci vectors, once the guest enabled MSI-X.
        _w.HostFile("proc/interrupts", $"           CPU0\n  90:          0  IR-PCI-MSIX-{_w.Vf.Vf}   0-edge      vfio-msix[0]({_w.Vf.Vf})\n" +
            $"  91:          0  IR-PCI-MSIX-{_w.Vf.Vf}   1-edge      vfio-msix[1]({_w.Vf.Vf})\n");
        foreach (var irq in new[] { 90, 91 })
        {
            _w.HostFile($"sys/bus/pci/devices/{_w.Vf.Vf}/msi_irqs/{irq}", "msix\n");
            _w.HostFile($"proc/irq/{irq}/smp_affinity_list", "0-15\n");
        }
    }

    public void Dispose() => _w.Dispose();

    private static readonly Dictionary<string, Isola.Agent.Reconcile.AppliedServer> NoneApplied = [];

    private static readonly HostIsolation Isolation = new(CpuSet.Parse("4-15"), CpuSet.Parse("0-3"), []);

    private Isola.Contracts.Agent.DesiredHost Desired() => FacetWorld.Desired(
        FacetWorld.Server(_w.Plan(new IrqAffinityPlan([new IrqRule("p1", _w.Vf.Vf, "igbvf", true, [new VcpuPin(0, 5)], new VcpuPin(0, 1))], [], []), Isolation)),
        FacetWorld.Server(_w.Plan(new IrqAffinityPlan([new IrqRule("p1", _w.Vf.Vf, "igbvf", true, [new VcpuPin(0, 4)], new VcpuPin(0, 1))], [], []), Isolation), id: "s2"));

    private const string Merged = "# Written by Isola: irqbalance keeps off the CPUs guests pin to.\nIRQBALANCE_BANNED_CPULIST=4-15\n" +
        "IRQBALANCE_ARGS=\"--banirq=90 --banirq=91\"\n";

    [Fact]
    public async Task The_file_bans_the_dedicated_cpus_and_every_servers_steered_irqs_and_irqbalance_is_restarted()
    {
        var desired = Desired();
        // Banned once the domain runs (its vectors are steered then).
        Assert.DoesNotContain("--banirq", Assert.Single(_facet.PlanHost(desired, NoneApplied, await _w.ReadAsync(_facet, desired))).ToString(), StringComparison.Ordinal);
        await _w.Driver.DefineAsync(FacetWorld.Domain, desired.Servers[0].Plan!.DomainXml);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        var step = Assert.Single(_facet.PlanHost(desired, NoneApplied, await _w.ReadAsync(_facet, desired)));
        Assert.Equal(new IrqbalanceFacet.Irqbalance("/etc/default/irqbalance", Merged), step);
        Assert.Equal("", step.Server); // the host's, not a server's
        _w.Commands();
        await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal(Merged, _w.ReadHostFile("etc/default/irqbalance"));
        Assert.Equal(["systemctl try-restart irqbalance.service"], _w.Commands());
        Assert.Empty(_facet.PlanHost(desired, NoneApplied, await _w.ReadAsync(_facet, desired)));
    }

    [Fact]
    public async Task With_no_server_left_isolas_file_keeps_the_cpus_and_a_file_isola_did_not_write_is_left_alone()
    {
        var none = FacetWorld.Desired();
        _w.HostFile("etc/default/irqbalance", Merged);
        var step = Assert.IsType<IrqbalanceFacet.Irqbalance>(Assert.Single(_facet.PlanHost(none, NoneApplied, await _w.ReadAsync(_facet, none))));
        Assert.Equal("# Written by Isola: irqbalance keeps off the CPUs guests pin to.\nIRQBALANCE_BANNED_CPULIST=4-15\n", step.Content);

        _w.HostFile("etc/default/irqbalance", "IRQBALANCE_ONESHOT=yes\n");
        Assert.Empty(_facet.PlanHost(none, NoneApplied, await _w.ReadAsync(_facet, none)));
    }
}
