using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering.Isolation;

namespace Isola.Tests.Agent.Reconcile;

/// <summary>The reconciler and vhost workers: pinned once QEMU runs, left alone when right, pinned again when moved.</summary>
public sealed class ReconcilerVhostTests
{
    private const string Domain = "isola-1";

    /// <summary>A server with one virtio port "web" (two queues, pinned to pCPUs 5 and 7) and maybe a second one "db" (one queue, pCPU 9).</summary>
    private static DesiredHost Desired(bool twoPorts = false)
    {
        VhostPin[] pins = twoPorts
            ? [new("web", 0, 5), new("web", 1, 7), new("db", 0, 9)]
            : [new("web", 0, 5), new("web", 1, 7)];
        var plan = Wire.Plan(Domain, "00000000-0000-0000-0000-000000000001", "<domain/>", [], new IrqAffinityPlan([], [], pins));
        DesiredPort[] ports = twoPorts
            ? [new("p-web", "web", "fa:16:3e:00:00:01", "BOUND"), new("p-db", "db", "fa:16:3e:00:00:02", "BOUND")]
            : [new("p-web", "web", "fa:16:3e:00:00:01", "BOUND")];
        return Wire.Host("h1", 3, [Wire.Server("s1", "vm1", "BUILD", "paused", ports, plan)]);
    }

    private static ActualHost Actual(string? state, params VhostWorker[] workers) => ActualHost.Of(
        new DomainReading(state is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [Domain] = state }),
        new QemuReading(state is "paused" or "running" ? new Dictionary<string, QemuProcess> { [Domain] = new(4000, workers) } : []));

    private static readonly Dictionary<string, AppliedServer> Known = new() { ["s1"] = new AppliedServer("s1", Domain, []) };

    private static string PortStatus(DesiredHost desired, ActualHost actual, string port) =>
        Reconciler.Report(desired, actual).Ports!.Single(p => p.Id == port).Status!;

    [Fact]
    public void Workers_are_pinned_once_the_domain_is_started_and_not_before()
    {
        var before = Reconciler.Plan(Desired(), Actual(null), new Dictionary<string, AppliedServer>());
        Assert.Contains(before, s => s is DomainFacet.StartPaused);
        Assert.DoesNotContain(before, s => s is VhostFacet.PinVhost);

        var steps = Reconciler.Plan(Desired(), Actual("paused", new(4001, "0-15"), new(4002, "0-15")), Known);
        Assert.Equal([new VhostFacet.PinVhost("s1", 4000, 4001, "5", null), new VhostFacet.PinVhost("s1", 4000, 4002, "7", null)], steps.OfType<VhostFacet.PinVhost>());
        // Not pinned yet: the port is not applied, so the server stays paused.
        Assert.Equal("DOWN", PortStatus(Desired(), Actual("paused", new(4001, "0-15"), new(4002, "0-15")), "p-web"));
    }

    [Fact]
    public void Workers_that_run_where_the_plan_says_need_no_step_and_their_port_is_active()
    {
        var actual = Actual("running", new(4001, "5"), new(4002, "7"));
        Assert.Empty(Reconciler.Plan(Desired(), actual, Known).OfType<VhostFacet.PinVhost>());
        Assert.Equal("ACTIVE", PortStatus(Desired(), actual, "p-web"));
        // One of two pinned: not yet.
        Assert.Equal("DOWN", PortStatus(Desired(), Actual("running", new(4001, "5"), new(4002, "0-15")), "p-web"));
    }

    [Fact]
    public void A_worker_moved_behind_the_agents_back_is_pinned_again_and_reported_as_drift()
    {
        var pinned = new Dictionary<string, AppliedServer> { ["s1"] = Known["s1"].WithPart(VhostFacet.Memory, new PinnedVhost(4000, [4001, 4002])) };
        var step = Assert.Single(Reconciler.Plan(Desired(), Actual("running", new(4001, "5"), new(4002, "0-3")), pinned).OfType<VhostFacet.PinVhost>());
        Assert.Equal((4002, "7"), (step.Tid, step.Cpus));
        Assert.Equal("vhost-4000 task 4002 (web queue 1): on 0-3 (want 7)", step.Drift);

        // A new QEMU (the domain was started again): its workers were never pinned, whatever their TIDs.
        var restarted = new Dictionary<string, AppliedServer> { ["s1"] = Known["s1"].WithPart(VhostFacet.Memory, new PinnedVhost(3000, [4001, 4002])) };
        Assert.All(Reconciler.Plan(Desired(), Actual("running", new(4001, "0-15"), new(4002, "0-15")), restarted).OfType<VhostFacet.PinVhost>(), s => Assert.Null(s.Drift));
    }

    [Fact]
    public void Workers_in_tid_order_serve_the_ports_in_domain_order_then_their_queues()
    {
        var steps = Reconciler.Plan(Desired(twoPorts: true), Actual("paused", new(4003, "0-15"), new(4001, "0-15"), new(4002, "0-15")), Known);
        Assert.Equal([(4001, "5"), (4002, "7"), (4003, "9")], steps.OfType<VhostFacet.PinVhost>().Select(s => (s.Tid, s.Cpus)));
        var actual = Actual("paused", new(4001, "5"), new(4002, "7"), new(4003, "0-15"));
        Assert.Equal(("ACTIVE", "DOWN"), (PortStatus(Desired(twoPorts: true), actual, "p-web"), PortStatus(Desired(twoPorts: true), actual, "p-db")));
    }

    [Fact]
    public void Workers_that_do_not_match_the_queues_are_not_guessed_at()
    {
        var actual = Actual("paused", new VhostWorker(4001, "0-15"));
        Assert.Empty(Reconciler.Plan(Desired(), actual, Known).OfType<VhostFacet.PinVhost>());
        Assert.Equal("DOWN", PortStatus(Desired(), actual, "p-web"));
        var why = Assert.Single(VhostFacet.Unpaired(Desired(), actual));
        Assert.Contains("1 vhost worker(s) named vhost-4000 (threads of QEMU or kernel threads) for 2 queue pair(s)", why, StringComparison.Ordinal);
        Assert.Empty(VhostFacet.Unpaired(Desired(), Actual("paused", new(4001, "0-15"), new(4002, "0-15"))));
    }

    [Fact]
    public void Kernel_thread_workers_pair_by_tid_like_qemus_own_and_drift_names_them()
    {
        var pinned = new Dictionary<string, AppliedServer> { ["s1"] = Known["s1"].WithPart(VhostFacet.Memory, new PinnedVhost(4000, [4001, 4002])) };
        var actual = Actual("running", new(4002, "0-3", VhostWorkerForm.KernelThread), new(4001, "5", VhostWorkerForm.KernelThread));
        var step = Assert.Single(Reconciler.Plan(Desired(), actual, pinned).OfType<VhostFacet.PinVhost>());
        Assert.Equal((4002, "7", "vhost-4000 kernel thread 4002 (web queue 1): on 0-3 (want 7)"), (step.Tid, step.Cpus, step.Drift));
    }

    [Fact]
    public void A_worker_whose_cpuset_cgroup_lacks_its_cpu_is_not_tried_and_the_problem_says_why()
    {
        var emulator = new CpusetLimit("/machine.slice/machine-qemu.scope/libvirt/emulator", Isola.Domain.Cpu.CpuSet.Of(3));
        var actual = Actual("paused", new(4001, "3", VhostWorkerForm.KernelThread, emulator), new(4002, "3", VhostWorkerForm.KernelThread, emulator));
        Assert.Empty(Reconciler.Plan(Desired(), actual, Known).OfType<VhostFacet.PinVhost>());
        Assert.Equal("DOWN", PortStatus(Desired(), actual, "p-web"));
        var problems = VhostFacet.Unpaired(Desired(), actual).ToList();
        Assert.Equal(2, problems.Count);
        Assert.StartsWith($"{Domain}: vhost-4000 kernel thread 4001 (web queue 0) cannot run on CPU 5: it is in cgroup {emulator.Cgroup}, whose cpuset allows only CPUs 3",
            problems[0], StringComparison.Ordinal);
        Assert.Contains("<emulatorpin>", problems[0], StringComparison.Ordinal);
        // A cgroup that has the pin's CPU is no obstacle.
        var wide = emulator with { Cpus = Isola.Domain.Cpu.CpuSet.Range(0, 16) };
        Assert.Equal(2, Reconciler.Plan(Desired(), Actual("paused", new(4001, "3", VhostWorkerForm.KernelThread, wide), new(4002, "3", VhostWorkerForm.KernelThread, wide)), Known)
            .OfType<VhostFacet.PinVhost>().Count());
    }

    [Fact]
    public void A_port_without_vhost_pins_is_active_once_the_domain_is_started()
    {
        var plan = Desired().Servers[0].Plan! with { Irqs = new IrqAffinityPlan([], [], []) };
        var desired = Desired() with { Servers = [Desired().Servers[0] with { Plan = plan }] };
        var actual = Actual("paused");
        Assert.Empty(Reconciler.Plan(desired, actual, Known).OfType<VhostFacet.PinVhost>());
        Assert.Equal("ACTIVE", PortStatus(desired, actual, "p-web"));
        Assert.Empty(VhostFacet.Unpaired(desired, actual));
    }
}
