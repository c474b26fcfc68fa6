using Isola.Scheduling;
using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Rendering.Isolation;
using Isola.Rendering.Vf;

namespace Isola.Tests.Agent.Facets;

/// <summary>The loop over the facets: the order of effects, each step applied by the facet that planned it, and a new concern as one facet.</summary>
public sealed class HostFacetsTests
{
    private static readonly VfSettings VfA = new("a", "ens1f0", "i40e", PciAddress.Parse("0000:3b:00.0"), PciAddress.Parse("0000:3b:02.0"), 1,
        VfState.Reset with { Mac = "fa:16:3e:00:00:0a", Vlan = 100 });
    private static readonly VfSettings VfB = VfA with { Port = "b", Vf = PciAddress.Parse("0000:3b:02.1"), VfIndex = 2, Desired = VfA.Desired with { Mac = "fa:16:3e:00:00:0b" } };
    private static readonly VfSettings VfC = VfA with { Port = "c", Vf = PciAddress.Parse("0000:3b:02.2"), VfIndex = 3, Desired = VfA.Desired with { Mac = "fa:16:3e:00:00:0c" } };
    private static readonly HostIsolation Isolation = new(CpuSet.Parse("4-15"), CpuSet.Parse("0-3"), []);

    /// <summary>
    /// New server a (nothing on the host yet), running server b whose VF, IRQ and vhost worker drifted,
    /// server c gone (running, its VF set, an IRQ steered, its XML kept), and XML no one owns.
    /// </summary>
    private static (DesiredHost, ActualHost, Dictionary<string, AppliedServer>) Host()
    {
        var irqsB = new IrqAffinityPlan([new IrqRule("b", VfB.Vf, "igbvf", true, [new VcpuPin(0, 5)], new VcpuPin(0, 1))], [], [new VhostPin("b", 0, 6)]);
        DesiredServer Server(string id, Isola.Rendering.HostPlan plan, string status) =>
            Wire.Server(id, "vm-" + id, status, "running", [new($"port-{id}", id, "fa:16:3e:00:00:00", "BOUND")], plan);
        var desired = Wire.Host("h1", 9,
        [
            Server("a", Wire.Plan("isola-a", "u-a", "<domain/>", [VfA], new IrqAffinityPlan([], [], []), Isolation), "BUILD"),
            Server("b", Wire.Plan("isola-b", "u-b", "<domain/>", [VfB], irqsB, Isolation), "ACTIVE"),
        ]);
        var actual = ActualHost.Of(
            new DomainReading(new Dictionary<string, string> { ["isola-b"] = "running", ["isola-c"] = "running" }),
            new VfReading(new Dictionary<(string, int), VfState>
            {
                [("ens1f0", 1)] = VfState.Reset,
                [("ens1f0", 2)] = VfB.Desired with { Vlan = 7 },
                [("ens1f0", 3)] = VfC.Desired,
            }),
            new IrqReading(new Dictionary<PciAddress, IReadOnlyList<HostVector>> { [VfB.Vf] = [new HostVector(90, $"vfio-msix[0]({VfB.Vf})")] }, new Dictionary<PciAddress, string>(),
                new Dictionary<int, string> { [90] = "0-15", [95] = "9" }),
            new QemuReading(new Dictionary<string, QemuProcess> { ["isola-b"] = new(4000, [new VhostWorker(4001, "0-15")]) }),
            new DomainXmlReading(new HashSet<string>(StringComparer.Ordinal) { "isola-b", "isola-c", "isola-old" }));
        var applied = new Dictionary<string, AppliedServer>(StringComparer.Ordinal)
        {
            ["b"] = new AppliedServer("b", "isola-b", [VfB]).WithPart(IrqFacet.SteeredMemory, new List<int> { 90 })
                .WithPart(VhostFacet.Memory, new PinnedVhost(4000, [4001])),
            ["c"] = new AppliedServer("c", "isola-c", [VfC]).WithPart(IrqFacet.Memory, new Dictionary<int, string> { [95] = "0-15" }),
        };
        return (desired, actual, applied);
    }

    [Fact]
    public void The_facets_go_in_the_order_of_effects()
    {
        Assert.Equal(
            [typeof(StorageFacet), typeof(DomainFacet), typeof(VfFacet), typeof(IrqFacet), typeof(VhostFacet), typeof(PowerFacet), typeof(IrqbalanceFacet), typeof(CpuIsolationFacet), typeof(DomainXmlFacet)],
            HostFacets.All.Select(f => f.GetType()));
    }

    [Fact]
    public void A_plan_goes_server_by_server_then_the_host_then_the_servers_that_left_then_the_leftovers()
    {
        var (desired, actual, applied) = Host();
        var steps = Reconciler.Plan(HostFacets.All, desired, actual, applied);
        Assert.Equal(
        [
            "Remember a", "Define a", "StartPaused a", "ProgramVf a", "Resume a",
            "ProgramVf b", "SteerIrq b", "PinVhost b",
            "Irqbalance ", "SystemdDropIns ",
            "Destroy c", "Undefine c", "ResetVf c", "RestoreIrq c", "RemoveDomainXml c", "Forget c",
            "RemoveDomainXml isola-old",
        ], steps.Select(p => $"{p.Step.GetType().Name} {p.Step.Server}"));
        // Each step goes back to the facet that declares it; the bookkeeping is the loop's own.
        Assert.All(steps, p => Assert.Equal(p.Step.GetType().DeclaringType == typeof(Step) ? "Bookkeeping" : p.Step.GetType().DeclaringType!.Name, p.Facet.GetType().Name));
        // b's VF, IRQ and vhost worker were set by this agent and moved since: each says so.
        Assert.Equal(3, steps.Count(p => p.Step is IDriftStep { Drift: not null }));
    }

    [Fact]
    public void The_report_asks_every_facet_whether_a_port_holds()
    {
        var (desired, actual, _) = Host();
        var report = Reconciler.Report(desired, actual);
        Assert.Equal([new ReportedServer("a", "absent"), new ReportedServer("b", "running")], report.Servers!);
        // b's VF drifted and its worker is not on its CPU.
        Assert.Equal([new ReportedPort("port-a", "DOWN"), new ReportedPort("port-b", "DOWN")], report.Ports!);
    }

    /// <summary>A concern the agent did not have: one class, nothing else to touch.</summary>
    private sealed class HugepageFacet : IHostFacet
    {
        public sealed record Reserve(string Id, int Pages) : Step(Id);

        public sealed record Reading(int Free) : IReading<Reading>
        {
            public static Reading None { get; } = new(0);
        }

        public List<string> Applied { get; } = [];

        public Task<object?> ReadAsync(HostRead read, CancellationToken ct) =>
            // It sees what the facets before it read.
            Task.FromResult<object?>(new Reading(read.Actual.Get<DomainReading>().Domains.Count));

        public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual) => [new Reserve(server.Id, actual.Get<Reading>().Free)];

        public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
        {
            Applied.Add(step.ToString());
            return Task.CompletedTask;
        }

        public bool Holds(ServerContext server, DesiredPort port, ActualHost actual) => server.Id != "b";

        public IEnumerable<string> Problems(DesiredHost desired, ActualHost actual) => ["hugepages: none free"];
    }

    [Fact]
    public async Task A_new_concern_is_one_facet_in_the_list()
    {
        var (desired, actual, applied) = Host();
        var hugepages = new HugepageFacet();
        IReadOnlyList<IHostFacet> facets = [.. HostFacets.All, hugepages];
        var read = await ((IHostFacet)hugepages).ReadAsync(new HostRead(desired, applied, null!, actual), default);
        actual = actual.With(read!);
        var steps = Reconciler.Plan(facets, desired, actual, applied);
        // Its step comes last of each server's (it is last in the list), and goes back to it.
        Assert.Equal(new HugepageFacet.Reserve("a", 2), steps.First(p => p.Facet == hugepages).Step);
        Assert.Equal(["Resume", "Reserve", "ProgramVf"], steps.Select(p => p.Step.GetType().Name).Skip(4).Take(3));
        foreach (var p in steps.Where(p => p.Facet == hugepages))
            await p.Facet.ApplyAsync(p.Step, null!, default);
        Assert.Equal(2, hugepages.Applied.Count);
        Assert.Contains("hugepages: none free", Reconciler.Problems(facets, desired, actual));
        Assert.Equal("DOWN", Reconciler.Report(facets, desired, actual).Ports!.Single(p => p.Id == "port-b").Status);
    }
}
