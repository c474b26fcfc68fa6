using Isola.Domain.Cpu;
using Isola.Host.Simulation;
using Isola.Tests.Support;

namespace Isola.Tests.Host.Simulation;

/// <summary>The simulated host's QEMU processes: their /proc tasks under the root, taskset, and nothing left when they stop.</summary>
public sealed class SimulatedQemuTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Xml = """
        <domain type="kvm"><name>vm</name><vcpu placement="static">2</vcpu><devices>
          <interface type="bridge"><model type="virtio" /><driver name="vhost" queues="2" /></interface>
          <interface type="hostdev" managed="yes"><driver name="vfio" /></interface>
          <interface type="bridge"><model type="virtio" /><driver name="vhost" /></interface>
        </devices></domain>
        """;

    [Fact]
    public void A_started_domain_has_a_pid_file_and_one_vhost_task_per_queue_pair_on_every_cpu()
    {
        var qemu = new SimulatedQemu(_dir.Path, CpuSet.Range(0, 16));
        var pid = qemu.Start("vm", Xml);
        Assert.Equal($"{pid}", File.ReadAllText(Path.Join(_dir.Path, "run", "libvirt", "qemu", "vm.pid")));
        var workers = qemu.Workers("vm");
        Assert.Equal(3, workers.Count);
        Assert.All(workers, w => Assert.Equal("0-15", w.Cpus));
        var task = Path.Join(_dir.Path, "proc", $"{pid}", "task", $"{workers[0].Tid}");
        Assert.Equal($"vhost-{pid}\n", File.ReadAllText(Path.Join(task, "comm")));
        Assert.Contains("Cpus_allowed_list:\t0-15\n", File.ReadAllText(Path.Join(task, "status")), StringComparison.Ordinal);
        // The main thread and the vCPU threads are there too, under their own names.
        var comms = Directory.GetDirectories(Path.Join(_dir.Path, "proc", $"{pid}", "task")).Select(d => File.ReadAllText(Path.Join(d, "comm")).Trim()).Order().ToList();
        Assert.Equal(["CPU 0/KVM", "CPU 1/KVM", "qemu-system-x86", $"vhost-{pid}", $"vhost-{pid}", $"vhost-{pid}"], comms);
    }

    [Fact]
    public void Taskset_rewrites_the_affinity_and_says_what_taskset_says()
    {
        var qemu = new SimulatedQemu(_dir.Path, CpuSet.Range(0, 16));
        qemu.Start("vm", Xml);
        var tid = qemu.Workers("vm")[1].Tid;
        var result = qemu.Taskset("5", $"{tid}");
        Assert.Equal((0, $"pid {tid}'s current affinity list: 0-15\npid {tid}'s new affinity list: 5\n"), (result.ExitCode, result.StandardOutput));
        Assert.Equal(["0-15", "5", "0-15"], qemu.Workers("vm").Select(w => w.Cpus));
        Assert.Equal(1, qemu.Taskset("16", $"{tid}").ExitCode); // not a CPU of the host
        Assert.Equal(1, qemu.Taskset("x", $"{tid}").ExitCode);
        Assert.Contains("No such process", qemu.Taskset("5", "99999").StandardError, StringComparison.Ordinal);
        qemu.Tamper(tid, "0-3");
        Assert.Equal("0-3", qemu.Workers("vm")[1].Cpus);
    }

    [Fact]
    public void A_stopped_domain_leaves_no_pid_file_and_no_tasks()
    {
        var qemu = new SimulatedQemu(_dir.Path, CpuSet.Range(0, 4));
        var pid = qemu.Start("vm", Xml);
        var tid = qemu.Workers("vm")[0].Tid;
        qemu.Stop("vm");
        Assert.Null(qemu.Pid("vm"));
        Assert.Empty(qemu.Workers("vm"));
        Assert.False(File.Exists(Path.Join(_dir.Path, "run", "libvirt", "qemu", "vm.pid")));
        Assert.False(Directory.Exists(Path.Join(_dir.Path, "proc", $"{pid}")));
        Assert.Equal(1, qemu.Taskset("1", $"{tid}").ExitCode);
    }

    [Fact]
    public void The_real_root_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new SimulatedQemu("/", CpuSet.Range(0, 4)));
    }
}
