using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Host.Commands;
using Isola.Rendering.Vf;
using Isola.Tests.Support;

namespace Isola.Tests.Agent;

/// <summary>The Linux driver: the exact argv it runs, and what it does with a failure, a timeout or garbage.</summary>
public sealed class HostDriverTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ScriptedCommandRunner _runner = new();

    private HostDriver Driver() => new(_runner, _dir.Sub("root"), _dir.Path);

    public void Dispose() => _dir.Dispose();

    private static readonly VfSettings Vf = new("p1", "ens1f0", "i40e", PciAddress.Parse("0000:3b:00.0"), PciAddress.Parse("0000:3b:02.0"), 3,
        new VfState("fa:16:3e:00:00:01", 100, 2, "802.1Q", SpoofCheck: true, Trust: false, VfLinkState.Enable, 1000, 0));

    [Fact]
    public async Task A_pf_that_is_up_without_a_carrier_is_not_waited_for_its_vf_rate_is_refused_at_once()
    {
        foreach (var argv in VfCommands.Program(Vf).SkipLast(1))
            _runner.Answer(argv, "");
        _runner.Answer(VfCommands.Program(Vf)[^1], new CommandResult(2, "", "RTNETLINK answers: Invalid argument"));
        // Admin up, no link (a pulled cable): no wait, so one such VF cannot hold the agent's cycle.
        _runner.Answer(["ip", "-d", "-j", "link", "show", "dev", "ens1f0"], """[{"ifname":"ens1f0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"operstate":"DOWN"}]""");
        await Assert.ThrowsAsync<DriverException>(() => Driver().ProgramVfAsync(Vf));
        Assert.Equal(1, _runner.Calls.Count(c => c.Contains("show"))); // read once, never polled
    }

    [Fact]
    public async Task A_vf_is_programmed_one_concern_per_command_in_order()
    {
        foreach (var argv in VfCommands.Program(Vf))
            _runner.Answer(argv, "");
        // The PF is read first: it was up, so the rates need not wait for its link.
        _runner.Answer(["ip", "-d", "-j", "link", "show", "dev", "ens1f0"], """[{"ifname":"ens1f0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP"}]""");
        await Driver().ProgramVfAsync(Vf);
        Assert.Equal(
        [
            "ip -d -j link show dev ens1f0",
            "ip link set dev ens1f0 up",
            "ip link set dev ens1f0 vf 3 mac fa:16:3e:00:00:01",
            "ip link set dev ens1f0 vf 3 vlan 100 qos 2 proto 802.1Q",
            "ip link set dev ens1f0 vf 3 spoofchk on",
            "ip link set dev ens1f0 vf 3 trust off",
            "ip link set dev ens1f0 vf 3 state enable",
            "ip link set dev ens1f0 vf 3 max_tx_rate 1000 min_tx_rate 0",
        ], _runner.Calls.Select(c => string.Join(' ', c)));
    }

    [Fact]
    public async Task Domains_are_driven_through_virsh_with_the_uri()
    {
        string[] define = ["virsh", "-c", "qemu:///system", "define", Path.Join(_dir.Path, "domains", "isola-1.xml.new")];
        _runner.Answer(define, "Domain 'isola-1' defined\n")
            .Answer(["virsh", "-c", "qemu:///system", "start", "--paused", "isola-1"], "")
            .Answer(["virsh", "-c", "qemu:///system", "resume", "isola-1"], "")
            .Answer(["virsh", "-c", "qemu:///system", "list", "--all"],
                " Id   Name      State\n-------------------------\n 3    isola-1   running\n -    other     shut off\n\n");
        var driver = Driver();
        await driver.DefineAsync("isola-1", "<domain><name>isola-1</name></domain>");
        Assert.Equal("<domain><name>isola-1</name></domain>", File.ReadAllText(Path.Join(_dir.Path, "domains", "isola-1.xml")));
        await driver.StartPausedAsync("isola-1");
        await driver.ResumeAsync("isola-1");
        Assert.Equal(new Dictionary<string, string> { ["isola-1"] = "running", ["other"] = "shut off" }, await driver.DomainsAsync());
    }

    [Theory]
    [InlineData(2, "RTNETLINK answers: Operation not permitted", "exited 2: RTNETLINK answers: Operation not permitted")]
    [InlineData(CommandResult.TimedOut, "", "exited 124")]
    [InlineData(CommandResult.NotFound, "ip: not found", "exited 127")]
    public async Task A_failed_command_is_a_driver_error_naming_the_command(int exit, string stderr, string expected)
    {
        _runner.Answer(VfCommands.PfUp("ens1f0"), "").Answer(VfCommands.Mac("ens1f0", 3, "fa:16:3e:00:00:01"), new CommandResult(exit, "", stderr));
        var e = await Assert.ThrowsAsync<DriverException>(() => Driver().ProgramVfAsync(Vf));
        Assert.Contains("`ip link set dev ens1f0 vf 3 mac fa:16:3e:00:00:01` " + expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(3, _runner.Calls.Count); // the PF read, the PF up, the refused command, nothing after it
    }

    [Fact]
    public async Task A_vhost_worker_is_pinned_with_taskset()
    {
        _runner.Answer(["taskset", "-p", "-c", "5", "4001"], "pid 4001's current affinity list: 0-15\npid 4001's new affinity list: 5\n");
        await Driver().PinTaskAsync(4001, "5");
        Assert.Equal(["taskset -p -c 5 4001"], _runner.Calls.Select(c => string.Join(' ', c)));
    }

    [Theory]
    [InlineData(1, "taskset: failed to get pid 4001's affinity: No such process", "exited 1: taskset: failed to get pid 4001's affinity: No such process")]
    [InlineData(CommandResult.TimedOut, "", "exited 124")]
    public async Task A_failed_taskset_is_a_driver_error_naming_the_command(int exit, string stderr, string expected)
    {
        _runner.Answer(["taskset", "-p", "-c", "5", "4001"], new CommandResult(exit, "", stderr));
        var e = await Assert.ThrowsAsync<DriverException>(() => Driver().PinTaskAsync(4001, "5"));
        Assert.Contains("`taskset -p -c 5 4001` " + expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_vhost_workers_are_the_qemu_tasks_named_after_its_pid_in_tid_order()
    {
        var root = _dir.Sub("root");
        void Task(int tid, string comm, string cpus)
        {
            var dir = Path.Join(root, "proc", "9990", "task", tid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Join(dir, "comm"), comm + "\n");
            File.WriteAllText(Path.Join(dir, "status"), $"Name:\t{comm}\nTgid:\t9990\nCpus_allowed_list:\t{cpus}\nMems_allowed_list:\t0\n");
        }
        Directory.CreateDirectory(Path.Join(root, "run", "libvirt", "qemu"));
        File.WriteAllText(Path.Join(root, "run", "libvirt", "qemu", "isola-1.pid"), "9990");
        Task(9990, "qemu-system-x86", "0-15");
        Task(10001, "vhost-9990", "7");
        Task(9995, "vhost-9990", "0-15");
        Task(9996, "CPU 0/KVM", "3");
        Task(9997, "vhost-1234", "0-15"); // not this QEMU's
        var driver = Driver();
        Assert.Equal(9990, driver.QemuPid("isola-1"));
        Assert.Null(driver.QemuPid("isola-2"));
        Assert.Equal(new[] { new VhostWorker(9995, "0-15"), new VhostWorker(10001, "7") }, driver.VhostWorkers(9990));
        Assert.Empty(driver.VhostWorkers(4242));
        File.WriteAllText(Path.Join(root, "run", "libvirt", "qemu", "isola-1.pid"), "not a pid");
        Assert.Null(driver.QemuPid("isola-1"));
    }

    /// <summary>A task's files as Linux 6.1 shows them (the fields the driver reads; <c>LabVhostTests</c> checks the full layout on the real kernel).</summary>
    private static void ProcTask(string dir, int tgid, int tid, int ppid, string comm, string cpus, string? cpuset = "/")
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Join(dir, "comm"), comm + "\n");
        File.WriteAllText(Path.Join(dir, "stat"), $"{tid} ({comm}) S {ppid} 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 812 0 0\n");
        File.WriteAllText(Path.Join(dir, "status"), $"Name:\t{comm}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{tgid}\nNgid:\t0\nPid:\t{tid}\nPPid:\t{ppid}\n" +
            $"Threads:\t1\nCpus_allowed:\t3\nCpus_allowed_list:\t{cpus}\nMems_allowed_list:\t0\n");
        if (cpuset is not null)
            File.WriteAllText(Path.Join(dir, "cpuset"), cpuset + "\n");
    }

    [Fact]
    public void Before_6_4_the_vhost_workers_are_kthreadds_children_named_after_qemus_pid()
    {
        var root = _dir.Sub("root");
        var proc = Path.Join(root, "proc");
        // QEMU 180 and its own threads; its workers 184 and 185 are kernel threads (proc/N, PPid 2), not among its tasks.
        foreach (var tid in new[] { 180, 181, 186 })
            ProcTask(Path.Join(proc, "180", "task", $"{tid}"), 180, tid, 1, tid == 180 ? "qemu-system-x86" : "CPU 0/TCG", "0-1");
        ProcTask(Path.Join(proc, "185"), 185, 185, 2, "vhost-180", "0-1");
        ProcTask(Path.Join(proc, "184"), 184, 184, 2, "vhost-180", "1");
        ProcTask(Path.Join(proc, "2"), 2, 2, 0, "kthreadd", "0-1");
        ProcTask(Path.Join(proc, "190"), 190, 190, 2, "vhost-999", "0-1"); // another QEMU's
        ProcTask(Path.Join(proc, "191"), 191, 191, 1, "vhost-180", "0-1"); // a user's process that only took the name
        var workers = Driver().VhostWorkers(180);
        Assert.Equal([(184, "1"), (185, "0-1")], workers.Select(w => (w.Tid, w.Cpus)));
        Assert.All(workers, w => Assert.Equal(VhostWorkerForm.KernelThread, w.Form));
        // Both QEMUs' workers in one pass over proc/.
        var both = Driver().VhostWorkers([180, 999]);
        Assert.Equal([184, 185], both[180].Select(w => w.Tid));
        Assert.Equal([190], both[999].Select(w => w.Tid));
    }

    [Fact]
    public void A_workers_cpuset_is_read_from_cgroup_v1_or_v2_and_v2s_nearest_ancestor_with_the_controller()
    {
        var root = _dir.Sub("root");
        var proc = Path.Join(root, "proc");
        var emulator = "/machine.slice/machine-qemu\\x2d1\\x2disola\\x2d1.scope/libvirt/emulator";
        ProcTask(Path.Join(proc, "300", "task", "300"), 300, 300, 1, "qemu-system-x86", "4", emulator);
        ProcTask(Path.Join(proc, "300", "task", "304"), 300, 304, 1, "vhost-300", "4", emulator);
        ProcTask(Path.Join(proc, "400", "task", "400"), 400, 400, 1, "qemu-system-x86", "0-15", "/user.slice/session-1.scope");
        ProcTask(Path.Join(proc, "401"), 401, 401, 2, "vhost-400", "0-15", "/user.slice/session-1.scope");
        // No cgroup file system under the root: nothing known.
        Assert.Null(Assert.Single(Driver().VhostWorkers(300)).Cpuset);
        // cgroup v2: the emulator's own cpuset; a cgroup without the cpuset controller takes its nearest ancestor's (the root's here).
        var v2 = Path.Join(root, "sys", "fs", "cgroup");
        Directory.CreateDirectory(v2 + emulator);
        File.WriteAllText(Path.Join(v2 + emulator, "cpuset.cpus.effective"), "4\n");
        File.WriteAllText(Path.Join(v2, "cpuset.cpus.effective"), "0-15\n");
        Directory.CreateDirectory(Path.Join(v2, "user.slice", "session-1.scope"));
        Assert.Equal(new CpusetLimit(emulator, CpuSet.Of(4)), Assert.Single(Driver().VhostWorkers(300)).Cpuset);
        var worker = Assert.Single(Driver().VhostWorkers(400));
        Assert.Equal((VhostWorkerForm.KernelThread, new CpusetLimit("/user.slice/session-1.scope", CpuSet.Range(0, 16))), (worker.Form, worker.Cpuset));
        // cgroup v1: the cpuset hierarchy's cpuset.effective_cpus.
        Directory.Delete(v2, recursive: true);
        Directory.CreateDirectory(Path.Join(v2, "cpuset") + emulator);
        File.WriteAllText(Path.Join(Path.Join(v2, "cpuset") + emulator, "cpuset.effective_cpus"), "4-5\n");
        Assert.Equal(CpuSet.Of(4, 5), Assert.Single(Driver().VhostWorkers(300)).Cpuset?.Cpus);
    }

    [Fact]
    public async Task Garbage_from_virsh_is_a_driver_error()
    {
        _runner.Answer(["virsh", "-c", "qemu:///system", "list", "--all"], "error: failed to connect to the hypervisor");
        await Assert.ThrowsAsync<DriverException>(() => Driver().DomainsAsync());
    }

    [Fact]
    public async Task Garbage_from_ip_is_a_driver_error_not_a_crash()
    {
        _runner.Answer(["ip", "-d", "-j", "link", "show", "dev", "ens1f0"], "Segmentation fault (core dumped)");
        var e = await Assert.ThrowsAsync<DriverException>(() => Driver().VfStatesAsync("ens1f0"));
        Assert.Contains("not ip's JSON", e.Message, StringComparison.Ordinal);
    }
}
