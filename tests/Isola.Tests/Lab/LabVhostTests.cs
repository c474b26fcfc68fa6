using System.Globalization;
using Isola.Host.Simulation;

namespace Isola.Tests.Lab;

/// <summary>
/// vhost-net workers on the lab's real kernel (Debian 12's 6.1: kernel threads), found, paired and pinned
/// by the agent's driver (<c>isola host vhost show|pin</c>): a QEMU (TCG, paused with <c>-S</c>: no guest
/// needed) with a two-queue tap netdev and vhost, and a second netdev added later through its monitor.
/// </summary>
[Collection(LabHostFixture.Collection)]
public sealed class LabVhostTests(LabHostFixture lab) : IClassFixture<LabHostFixture>
{
    private static string Qemu(string name, string netdev) =>
        $"qemu-system-x86_64 -S -accel tcg -nodefaults -display none -m 64 -daemonize -pidfile /tmp/{name}.pid {netdev}";

    /// <summary>The workers the driver finds, in its order: (TID, form, Cpus_allowed_list, the rest of the line).</summary>
    private async Task<List<(int Tid, string Form, string Cpus, string Cgroup)>> ShowAsync(int pid) =>
        (await lab.RunAsync($"{LabHostFixture.Isola} host vhost show {pid}")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', 4)).Select(p => (int.Parse(p[0], CultureInfo.InvariantCulture), p[1], p[2], p.Length > 3 ? p[3] : "")).ToList();

    /// <summary>Every process whose comm is <c>vhost-PID</c>, straight from /proc (what the kernel says, not the driver): TID, PPid, start time.</summary>
    private async Task<List<(int Tid, int PPid, long Start)>> KernelSaysAsync(int pid) =>
        (await lab.RunAsync($"for d in /proc/[0-9]*; do [ \"$(cat $d/comm 2>/dev/null)\" = vhost-{pid} ] && echo ${{d#/proc/}} $(awk '/^PPid:/{{print $2}}' $d/status) $(cut -d' ' -f22 $d/stat); done; true"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))
            .Select(p => (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture), long.Parse(p[2], CultureInfo.InvariantCulture)))
            .OrderBy(w => w.Item1).ToList();

    private async Task<string> AllowedAsync(int tid) => (await lab.RunAsync($"awk '/^Cpus_allowed_list:/{{print $2}}' /proc/{tid}/status")).Trim();

    [SkippableFact]
    public async Task A_qemus_vhost_workers_are_found_one_per_queue_pair_in_creation_order_and_pinned()
    {
        var release = lab.Require().KernelRelease;
        var form = SimulatedQemu.MakesKernelThreads(release) ? "kernel-thread" : "qemu-thread";
        await lab.RunAsync("mkfifo /tmp/mon.in /tmp/mon.out && " + Qemu("q1",
            "-netdev tap,id=n0,ifname=vt0,script=no,downscript=no,vhost=on,queues=2 -device virtio-net-pci,netdev=n0,mq=on,vectors=6 " +
            "-chardev pipe,id=mon,path=/tmp/mon -mon chardev=mon,mode=readline"));
        var pid = int.Parse(await lab.RunAsync("cat /tmp/q1.pid"), CultureInfo.InvariantCulture);
        var tasks = (await lab.RunAsync($"ls /proc/{pid}/task")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToList();
        var workers = await ShowAsync(pid);
        var kernel = await KernelSaysAsync(pid);
        var status = await lab.RunAsync($"cat /proc/{workers[0].Tid}/status");
        var stat = await lab.RunAsync($"cat /proc/{workers[0].Tid}/stat");

        // One worker per queue pair, as the kernel made them (comm vhost-<QEMU's pid>), in the form of the lab's kernel.
        Assert.Equal(2, workers.Count);
        Assert.All(workers, w => Assert.Equal(form, w.Form));
        Assert.All(workers, w => Assert.Equal("0-1", w.Cpus));
        if (form == "kernel-thread")
        {
            // Kernel threads: kthreadd's children, each its own process, none of them among QEMU's tasks.
            Assert.Equal(workers.Select(w => w.Tid), kernel.Select(k => k.Tid));
            Assert.All(kernel, k => Assert.Equal(2, k.PPid));
            Assert.All(workers, w => Assert.DoesNotContain(w.Tid, tasks));
            // The simulated host lays a kernel-thread worker out as this kernel does: the same status fields in the same order, as many stat fields.
            var simulated = SimulatedKernelThread(release);
            Assert.Equal(Fields(status), Fields(simulated.Status));
            Assert.Equal(stat.Trim().Split(' ').Length, simulated.Stat.Trim().Split(' ').Length);
            Assert.Equal(stat.Trim().Split(' ')[8], simulated.Stat.Trim().Split(' ')[8]); // flags: PF_KTHREAD, no PF_NO_SETAFFINITY
        }
        // Creation order is TID order: the kernel's start times agree.
        Assert.Equal(kernel.OrderBy(k => k.Start).ThenBy(k => k.Tid).Select(k => k.Tid), workers.Select(w => w.Tid));

        // Pinning the first (queue 0's) moves it and only it.
        await lab.RunAsync($"{LabHostFixture.Isola} host vhost pin {pid} {workers[0].Tid} 1");
        Assert.Equal(("1", "0-1"), (await AllowedAsync(workers[0].Tid), await AllowedAsync(workers[1].Tid)));
        Assert.Equal(["1", "0-1"], (await ShowAsync(pid)).Select(w => w.Cpus));

        // A netdev added later (QEMU's monitor): its worker comes last, by TID and by start time, as the plan's order has it.
        await lab.RunAsync("echo 'netdev_add tap,id=n1,ifname=vt1,script=no,downscript=no,vhost=on' > /tmp/mon.in");
        await lab.RunAsync($"i=0; until [ $({LabHostFixture.Isola} host vhost show {pid} | wc -l) -ge 3 ]; do i=$((i+1)); [ $i -lt 300 ] || exit 1; sleep 0.1; done");
        var after = await ShowAsync(pid);
        var kernelAfter = await KernelSaysAsync(pid);
        await lab.RunAsync($"kill {pid}");
        Assert.Equal(workers.Select(w => w.Tid), after.Take(2).Select(w => w.Tid));
        Assert.Equal(3, after.Count);
        var added = kernelAfter.Single(k => k.Tid == after[2].Tid);
        Assert.True(added.Tid > after[1].Tid && kernelAfter.Where(k => k != added).All(k => k.Start <= added.Start), string.Join(", ", kernelAfter));
    }

    [SkippableFact]
    public async Task A_worker_stays_in_its_qemus_cpuset_cgroup_and_a_pin_outside_it_is_refused_saying_why()
    {
        lab.Require();
        // As libvirt does: QEMU runs in a cgroup whose cpuset is the emulator's CPUs (here CPU 0) before it makes its vhost devices.
        await lab.RunAsync("mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup; echo +cpuset > /sys/fs/cgroup/cgroup.subtree_control; " +
            "mkdir -p /sys/fs/cgroup/isola-emulator && echo 0 > /sys/fs/cgroup/isola-emulator/cpuset.cpus");
        await lab.RunAsync($"sh -c 'echo $$ > /sys/fs/cgroup/isola-emulator/cgroup.procs; exec {Qemu("q2", "-netdev tap,id=n0,ifname=vt2,script=no,downscript=no,vhost=on -device virtio-net-pci,netdev=n0")}'");
        var pid = int.Parse(await lab.RunAsync("cat /tmp/q2.pid"), CultureInfo.InvariantCulture);
        var worker = Assert.Single(await ShowAsync(pid));
        var taskset = await lab.Require().RunAsync($"taskset -p -c 1 {worker.Tid}", TimeSpan.FromMinutes(1));
        var refused = await lab.Require().RunAsync($"{LabHostFixture.Isola} host vhost pin {pid} {worker.Tid} 1", TimeSpan.FromMinutes(2));
        var allowed = await AllowedAsync(worker.Tid);
        await lab.RunAsync($"{LabHostFixture.Isola} host vhost pin {pid} {worker.Tid} 0");
        await lab.RunAsync($"kill {pid}");

        // The kernel attached the worker to its owner's cgroup when it was made: it starts on the cgroup's CPUs and stays in them.
        Assert.Equal("0", worker.Cpus);
        Assert.Equal("cgroup=/isola-emulator cpuset=0", worker.Cgroup);
        Assert.Equal(1, taskset.ExitCode);
        Assert.Contains("Invalid argument", taskset.Output, StringComparison.Ordinal);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"vhost worker {worker.Tid} cannot run on CPU 1: it is in cgroup /isola-emulator, whose cpuset allows only CPUs 0", refused.Output, StringComparison.Ordinal);
        Assert.Equal("0", allowed);
    }

    /// <summary>A kernel-thread worker as the simulated host writes it for this kernel release.</summary>
    private static (string Status, string Stat) SimulatedKernelThread(string release)
    {
        using var dir = new Support.TempDir();
        var kernel = Path.Join(dir.Path, "proc", "sys", "kernel");
        Directory.CreateDirectory(kernel);
        File.WriteAllText(Path.Join(kernel, "osrelease"), release + "\n");
        var qemu = new SimulatedQemu(dir.Path, Isola.Domain.Cpu.CpuSet.Range(0, 2));
        qemu.Start("vm", "<domain type='kvm'><vcpu>1</vcpu><devices><interface type='bridge'><model type='virtio'/></interface></devices></domain>");
        var task = Path.Join(dir.Path, "proc", $"{qemu.Workers("vm").Single().Tid}");
        return (File.ReadAllText(Path.Join(task, "status")), File.ReadAllText(Path.Join(task, "stat")));
    }

    private static List<string> Fields(string status) => status.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[0]).ToList();
}
