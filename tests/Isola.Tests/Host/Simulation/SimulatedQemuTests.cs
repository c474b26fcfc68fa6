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

    [Theory]
    [InlineData("6.1.0-27-amd64", true)]
    [InlineData("5.14.0-427.13.1.el9_4.x86_64", true)]
    [InlineData("6.4.0", false)]
    [InlineData("6.12.12-amd64", false)]
    public void The_roots_kernel_release_says_whether_the_workers_are_kernel_threads(string release, bool kernelThreads)
    {
        Assert.Equal(kernelThreads, SimulatedQemu.MakesKernelThreads(release));
        Directory.CreateDirectory(Path.Join(_dir.Path, "proc", "sys", "kernel"));
        File.WriteAllText(Path.Join(_dir.Path, "proc", "sys", "kernel", "osrelease"), release + "\n");
        var qemu = new SimulatedQemu(_dir.Path, CpuSet.Range(0, 16));
        var pid = qemu.Start("vm", Xml);
        var workers = qemu.Workers("vm");
        Assert.Equal(3, workers.Count);
        Assert.All(workers, w => Assert.Equal(kernelThreads, w.KernelThread));
        var tasks = Directory.GetDirectories(Path.Join(_dir.Path, "proc", $"{pid}", "task")).Select(Path.GetFileName).ToList();
        foreach (var w in workers)
        {
            // A kernel thread: its own process under proc/ with its one task, kthreadd's child; else one of QEMU's tasks.
            var dir = kernelThreads ? Path.Join(_dir.Path, "proc", $"{w.Tid}") : Path.Join(_dir.Path, "proc", $"{pid}", "task", $"{w.Tid}");
            var status = File.ReadAllText(Path.Join(dir, "status"));
            Assert.Contains(kernelThreads ? $"Tgid:\t{w.Tid}\n" : $"Tgid:\t{pid}\n", status, StringComparison.Ordinal);
            Assert.Contains(kernelThreads ? "PPid:\t2\n" : "PPid:\t1\n", status, StringComparison.Ordinal);
            Assert.StartsWith($"{w.Tid} (vhost-{pid}) S {(kernelThreads ? 2 : 1)} ", File.ReadAllText(Path.Join(dir, "stat")), StringComparison.Ordinal);
            Assert.Equal(!kernelThreads, tasks.Contains($"{w.Tid}"));
            Assert.Equal(kernelThreads, Directory.Exists(Path.Join(_dir.Path, "proc", $"{w.Tid}", "task", $"{w.Tid}")));
        }
        Assert.Equal(kernelThreads, File.Exists(Path.Join(_dir.Path, "proc", "2", "status")));
        // taskset and the files agree in either form, and the workers go with QEMU.
        Assert.Equal(0, qemu.Taskset("5", $"{workers[1].Tid}").ExitCode);
        Assert.Equal(["0-15", "5", "0-15"], qemu.Workers("vm").Select(w => w.Cpus));
        qemu.Stop("vm");
        Assert.All(workers, w => Assert.False(Directory.Exists(Path.Join(_dir.Path, "proc", $"{w.Tid}"))));
    }

    [Fact]
    public void Libvirt_opens_vhost_net_for_kvm_tap_interfaces_only_and_by_default_for_virtio()
    {
        var qemu = new SimulatedQemu(_dir.Path, CpuSet.Range(0, 4));
        string Domain(string type, string interfaces) => $"<domain type='{type}'><name>vm</name><vcpu>1</vcpu><devices>{interfaces}</devices></domain>";
        int Workers(string xml)
        {
            qemu.Start("vm", xml);
            var n = qemu.Workers("vm").Count;
            qemu.Stop("vm");
            return n;
        }
        // macvtap without a driver element: one vhost-net device (libvirt's default for virtio); with queues=2, two.
        Assert.Equal(1, Workers(Domain("kvm", "<interface type='direct'><model type='virtio'/></interface>")));
        Assert.Equal(2, Workers(Domain("kvm", "<interface type='direct'><model type='virtio'/><driver name='vhost' queues='2'/></interface>")));
        Assert.Equal(0, Workers(Domain("kvm", "<interface type='direct'><model type='virtio'/><driver name='qemu' queues='2'/></interface>")));
        Assert.Equal(0, Workers(Domain("kvm", "<interface type='bridge'><model type='e1000'/></interface><interface type='hostdev'/>")));
        // A TCG domain gets none, whatever its driver says.
        Assert.Equal(0, Workers(Domain("qemu", "<interface type='bridge'><model type='virtio'/><driver name='vhost' queues='2'/></interface>")));
        // Without /dev/vhost-net only an explicit vhost driver asks for it.
        var bare = new SimulatedQemu(_dir.Path, CpuSet.Range(0, 4), vhostNet: false);
        bare.Start("vm", Domain("kvm", "<interface type='direct'><model type='virtio'/></interface>"));
        Assert.Empty(bare.Workers("vm"));
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
