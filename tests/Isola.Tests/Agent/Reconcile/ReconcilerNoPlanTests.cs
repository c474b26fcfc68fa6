using Isola.Scheduling;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Rendering.Isolation;
using Isola.Rendering.Vf;

namespace Isola.Tests.Agent.Reconcile;

/// <summary>
/// A server the desired state holds without a plan (the controller could not make it): the agent
/// creates nothing for it and takes nothing of it down — its domain, its VFs, the IRQs it steered and
/// irqbalance's word on them stay — and says so; what it reports of it is only what it can see.
/// </summary>
public sealed class ReconcilerNoPlanTests
{
    private static readonly VfSettings Vf1 = new("p1", "ens1f0", "i40e", PciAddress.Parse("0000:3b:00.0"), PciAddress.Parse("0000:3b:02.0"), 0,
        VfState.Reset with { Mac = "fa:16:3e:00:00:01", Vlan = 100 });

    private static readonly VfSettings Vf2 = Vf1 with { Port = "p2", PfNetDev = "ens1f1", Pf = PciAddress.Parse("0000:3b:00.1"), Vf = PciAddress.Parse("0000:3b:0a.0"),
        Desired = Vf1.Desired with { Mac = "fa:16:3e:00:00:02" } };

    private static readonly HostIsolation Isolation = new(CpuSet.Parse("2-7"), CpuSet.Parse("0-1"), []);

    private static DesiredServer Kept => Wire.Server("s1", "vm1", "ACTIVE", "running", [new("p-1", "p1", Vf1.Desired.Mac, "ACTIVE")], null, "stamp",
        "ports[0]: PF 0000:3b:00.0 is not a network PF of h1");

    private static DesiredServer Other => Wire.Server("s2", "vm2", "ACTIVE", "running", [new("p-2", "p2", Vf2.Desired.Mac, "ACTIVE")],
        Wire.Plan("isola-s2", "u-2", "<domain/>", [Vf2], new IrqAffinityPlan([new IrqRule("p2", Vf2.Vf, "igbvf", true, [new VcpuPin(0, 5)], new VcpuPin(0, 1))], [], []), Isolation), "stamp");

    private static readonly ActualHost Actual = ActualHost.Of(
        new DomainReading(new Dictionary<string, string> { ["isola-s1"] = "running", ["isola-s2"] = "running" }),
        // vm1's VF holds what it was given, and so would anything else it held: the agent leaves it whatever it is.
        new VfReading(new Dictionary<(string, int), VfState> { [("ens1f0", 0)] = Vf1.Desired with { Vlan = 999 }, [("ens1f1", 0)] = Vf2.Desired }),
        new IrqReading(new Dictionary<PciAddress, IReadOnlyList<HostVector>> { [Vf2.Vf] = [new HostVector(70, $"vfio-msix[0]({Vf2.Vf})")] }, new Dictionary<PciAddress, string>(),
            new Dictionary<int, string> { [60] = "3", [61] = "4", [70] = "5" }),
        new DomainXmlReading(new HashSet<string>(["isola-s1", "isola-s2"], StringComparer.Ordinal)));

    private static readonly Dictionary<string, AppliedServer> Applied = new(StringComparer.Ordinal)
    {
        ["s1"] = new AppliedServer("s1", "isola-s1", [Vf1]).WithPart(IrqFacet.Memory, new Dictionary<int, string> { [60] = "0-7", [61] = "0-7" }),
        ["s2"] = new AppliedServer("s2", "isola-s2", [Vf2]).WithPart(IrqFacet.Memory, new Dictionary<int, string> { [70] = "0-7" }),
    };

    [Fact]
    public void A_server_without_a_plan_is_neither_built_nor_taken_down()
    {
        var desired = Wire.Host("h1", 7, [Kept, Other]);
        var steps = Reconciler.Plan(desired, Actual, Applied);
        Assert.DoesNotContain(steps, s => s.Server == "s1" || s is DomainXmlFacet.RemoveDomainXml);
        // irqbalance still leaves alone the IRQs steered for it, as those of every server with a plan (and vm2's host-wide drop-ins are written).
        Assert.Equal([typeof(IrqbalanceFacet.Irqbalance), typeof(CpuIsolationFacet.SystemdDropIns)], steps.Select(s => s.GetType()));
        var irqbalance = steps.OfType<IrqbalanceFacet.Irqbalance>().Single();
        Assert.Contains("--banirq=60 --banirq=61 --banirq=70", irqbalance.Content, StringComparison.Ordinal);

        var note = Assert.Single(Reconciler.Untouched(desired));
        Assert.Equal("server vm1 (s1): no host plan (ports[0]: PF 0000:3b:00.0 is not a network PF of h1): its domain, VFs and IRQs are left as they are", note);
    }

    [Fact]
    public void What_it_reports_of_such_a_server_is_its_domains_state_and_nothing_of_its_ports()
    {
        var report = Reconciler.Report(Wire.Host("h1", 7, [Kept, Other]), Actual, applied: Applied);
        // s2's disk is the one the agent made at its create (version 0): the agent recorded it.
        Assert.Equal([new ReportedServer("s1", "running"), new ReportedServer("s2", "running", 0)], report.Servers!);
        Assert.Equal([new ReportedPort("p-2", "ACTIVE")], report.Ports!);
        // A server the agent never put anything of on the host: nothing to say of it.
        Assert.Empty(Reconciler.Report(Wire.Host("h1", 7, [Kept]), Actual).Servers!);
    }

    [Fact]
    public void With_no_plan_at_all_irqbalances_file_stays_as_it_is()
    {
        var now = Isolation with { BannedIrqs = [60, 61] };
        var actual = Actual.With(new IrqbalanceReading(now.IrqbalanceDefaults.Content)).With(new DomainXmlReading(new HashSet<string>(["isola-s1"], StringComparer.Ordinal)));
        Assert.Null(IrqbalanceFacet.File(Wire.Host("h1", 7, [Kept]), actual, Applied));
        Assert.Empty(Reconciler.Plan(Wire.Host("h1", 7, [Kept]), actual, new Dictionary<string, AppliedServer>(StringComparer.Ordinal) { ["s1"] = Applied["s1"] }));
    }
}
