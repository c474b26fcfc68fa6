using System.Globalization;
using System.Xml.Linq;
using Isola.Domain.Cpu;
using Isola.Host.Commands;

namespace Isola.Host.Simulation;

/// <summary>
/// The QEMU processes of a simulated host's started domains, as a Linux host shows them under its
/// root: <c>run/libvirt/qemu/NAME.pid</c> (written by libvirt), <c>proc/PID/task/TID/{comm,stat,status}</c>
/// for the main thread and a vCPU thread per vCPU, and one vhost-net worker per vhost-net device libvirt opens (see <see cref="VhostQueues"/>)
/// (comm <c>vhost-PID</c>) in the form the simulated kernel makes it: the release in the root's
/// <c>proc/sys/kernel/osrelease</c>, read when QEMU starts (as <c>uname -r</c> would say it; no file: a
/// current kernel). From 6.4 a worker is a thread of the QEMU process (<c>proc/PID/task/TID/</c>);
/// before 6.4 it is a kernel thread, kthreadd's child: <c>proc/TID/</c> and <c>proc/TID/task/TID/</c>
/// with <c>PPid: 2</c>, not among QEMU's tasks (and kthreadd itself, <c>proc/2/</c>). The files are
/// the truth: <c>taskset -p -c LIST TID</c> rewrites a task's <c>Cpus_allowed_list</c>, and so may a test.
/// </summary>
public sealed class SimulatedQemu
{
    private readonly string _root;
    private readonly CpuSet _cpus;
    private readonly bool _vhostNet;
    private readonly Dictionary<string, int> _pids = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _tasks = [];
    private readonly HashSet<int> _kernelThreads = [];
    private readonly Lock _lock = new();
    private int _nextPid = 4000;

    /// <param name="root">The simulated host's root directory (never the real <c>/</c>).</param>
    /// <param name="cpus">The host's CPUs: every new task may run on all of them.</param>
    /// <param name="vhostNet">Whether the host has <c>/dev/vhost-net</c> (libvirt then gives a virtio interface vhost by default).</param>
    public SimulatedQemu(string root, CpuSet cpus, bool vhostNet = true)
    {
        _vhostNet = vhostNet;
        if (Path.GetFullPath(root) == Path.GetPathRoot(Path.GetFullPath(root)))
            throw new ArgumentException("a simulated host keeps its processes under a root of its own, not /", nameof(root));
        _root = root;
        _cpus = cpus;
    }

    /// <summary>A vhost-net worker of a domain's QEMU, the CPUs it may run on, and whether it is a kernel thread (kernels before 6.4).</summary>
    public sealed record Worker(int Tid, string Cpus, bool KernelThread = false);

    /// <summary>
    /// Whether a kernel of this release (<c>6.1.0-27-amd64</c>, <c>5.14.0-427.el9.x86_64</c>) runs vhost
    /// workers as kernel threads: every release before 6.4 (vhost_task since 6.4). Unreadable: no.
    /// </summary>
    public static bool MakesKernelThreads(string? release)
    {
        var parts = (release ?? "").Trim().Split('.', '-');
        return parts.Length >= 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var major) &&
            int.TryParse(parts[1], CultureInfo.InvariantCulture, out var minor) && (major, minor).CompareTo((6, 4)) < 0;
    }

    /// <summary>The pid of a started domain's QEMU; null when it has none.</summary>
    public int? Pid(string domain)
    {
        lock (_lock)
            return _pids.TryGetValue(domain, out var pid) ? pid : null;
    }

    /// <summary>A started domain's vhost workers in TID order, with their affinity as /proc shows it now.</summary>
    public IReadOnlyList<Worker> Workers(string domain)
    {
        lock (_lock)
        {
            if (!_pids.TryGetValue(domain, out var pid))
                return [];
            return _tasks.Where(t => t.Value == pid && File.ReadAllText(TaskFile(pid, t.Key, "comm")).Trim() == VhostComm(pid)).Select(t => t.Key).Order()
                .Select(tid => new Worker(tid, AffinityOf(pid, tid) ?? "", _kernelThreads.Contains(tid))).ToList();
        }
    }

    /// <summary>
    /// Starts a domain's QEMU: its pid file and its tasks, one vhost worker per queue pair of each vhost
    /// interface in the XML (a thread of QEMU or a kernel thread, as the root's kernel release says).
    /// </summary>
    public int Start(string domain, string xml)
    {
        lock (_lock)
        {
            var pid = _nextPid;
            var doc = XDocument.Parse(xml);
            var queues = doc.Root is null ? 0 : VhostQueues(doc.Root);
            var vcpus = int.TryParse(doc.Root?.Element("vcpu")?.Value, CultureInfo.InvariantCulture, out var v) ? v : 1;
            var kernelThreads = MakesKernelThreads(ReadRoot("proc/sys/kernel/osrelease"));
            var tid = pid;
            AddTask(pid, tid++, "qemu-system-x86");
            // The netdevs (and so their vhost devices) come before the machine and its vCPUs; ids rise in creation order.
            for (var q = 0; q < queues; q++)
            {
                if (kernelThreads)
                    _kernelThreads.Add(tid);
                AddTask(pid, tid++, VhostComm(pid));
            }
            for (var c = 0; c < vcpus; c++)
                AddTask(pid, tid++, string.Create(CultureInfo.InvariantCulture, $"CPU {c}/KVM"));
            _nextPid = tid + 100;
            _pids[domain] = pid;
            var pidFile = PidFile(domain);
            Directory.CreateDirectory(Path.GetDirectoryName(pidFile)!);
            File.WriteAllText(pidFile, pid.ToString(CultureInfo.InvariantCulture));
            return pid;
        }
    }

    /// <summary>
    /// How many vhost-net devices libvirt opens for a domain (and so how many workers its QEMU's netdevs
    /// make), as libvirt's <c>qemuInterfaceOpenVhostNet</c> decides: only for a KVM domain (a TCG one,
    /// <c>type='qemu'</c>, gets none), per tap-backed interface (bridge, network, ethernet, direct: macvtap)
    /// unless its driver says <c>name='qemu'</c>; without a driver name only for a virtio model on a host with
    /// <c>/dev/vhost-net</c>. One per queue pair: the driver's <c>queues</c>, else 1.
    /// </summary>
    private int VhostQueues(XElement domain)
    {
        if ((string?)domain.Attribute("type") != "kvm")
            return 0;
        var taps = (domain.Element("devices")?.Elements("interface") ?? []).Where(i => (string?)i.Attribute("type") is "bridge" or "network" or "ethernet" or "direct");
        return taps.Sum(i =>
        {
            var driver = i.Element("driver");
            var name = (string?)driver?.Attribute("name");
            var vhost = name == "vhost" || (name is null && (string?)i.Element("model")?.Attribute("type") == "virtio" && _vhostNet);
            return !vhost ? 0 : int.TryParse((string?)driver?.Attribute("queues"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;
        });
    }

    /// <summary>The domain's QEMU is gone (destroyed, crashed): its pid file and its /proc entries go with it.</summary>
    public void Stop(string domain)
    {
        lock (_lock)
        {
            if (!_pids.Remove(domain, out var pid))
                return;
            foreach (var tid in _tasks.Where(t => t.Value == pid).Select(t => t.Key).ToList())
            {
                _tasks.Remove(tid);
                // A kernel-thread worker ends with its device, when QEMU closes it.
                if (_kernelThreads.Remove(tid))
                    DeleteDirectory(Path.Join(_root, "proc", Text(tid)));
            }
            DeleteDirectory(Path.Join(_root, "proc", Text(pid)));
            File.Delete(PidFile(domain));
        }
    }

    /// <summary>Moves a task to other CPUs behind the agent's back (an operator's taskset, a tuning script).</summary>
    public void Tamper(int tid, string cpus)
    {
        lock (_lock)
            SetAffinity(_tasks[tid], tid, CpuSet.Parse(cpus));
    }

    /// <summary><c>taskset -p -c LIST TID</c>, answered as util-linux's taskset does.</summary>
    public CommandResult Taskset(string list, string tidText)
    {
        lock (_lock)
        {
            if (!int.TryParse(tidText, CultureInfo.InvariantCulture, out var tid) || tid <= 0)
                return Fail($"taskset: invalid PID argument: '{tidText}'");
            if (!_tasks.TryGetValue(tid, out var pid))
                return Fail($"taskset: failed to get pid {tid}'s affinity: No such process");
            if (!CpuSet.TryParse(list, out var cpus, out _) || cpus.IsEmpty)
                return Fail($"taskset: failed to parse CPU list: {list}");
            var before = AffinityOf(pid, tid);
            if (!cpus.IsSubsetOf(_cpus))
                return new CommandResult(1, $"pid {tid}'s current affinity list: {before}\n", $"taskset: failed to set pid {tid}'s affinity: Invalid argument\n");
            SetAffinity(pid, tid, cpus);
            return new CommandResult(0, $"pid {tid}'s current affinity list: {before}\npid {tid}'s new affinity list: {cpus}\n", "");
        }
    }

    private static string VhostComm(int pid) => string.Create(CultureInfo.InvariantCulture, $"vhost-{pid}");

    private static string Text(int id) => id.ToString(CultureInfo.InvariantCulture);

    private string PidFile(string domain) => Path.Join(_root, "run", "libvirt", "qemu", domain + ".pid");

    /// <summary>A task's first directory: <c>proc/PID/task/TID</c> for a thread of QEMU, <c>proc/TID</c> for a kernel thread.</summary>
    private string TaskFile(int pid, int tid, string name) => Path.Join(TaskDirectories(pid, tid)[0], name);

    /// <summary>Every directory the kernel shows a task in: a kernel thread is a process of its own (<c>proc/TID</c>, and its one task <c>proc/TID/task/TID</c>).</summary>
    private string[] TaskDirectories(int pid, int tid) => _kernelThreads.Contains(tid)
        ? [Path.Join(_root, "proc", Text(tid)), Path.Join(_root, "proc", Text(tid), "task", Text(tid))]
        : [Path.Join(_root, "proc", Text(pid), "task", Text(tid))];

    private string? ReadRoot(string path)
    {
        var file = Path.Join(_root, path);
        return File.Exists(file) ? File.ReadAllText(file) : null;
    }

    private static void DeleteDirectory(string dir)
    {
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
    }

    private void AddTask(int pid, int tid, string comm)
    {
        foreach (var dir in TaskDirectories(pid, tid))
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Join(dir, "comm"), comm + "\n");
        }
        _tasks[tid] = pid;
        if (_kernelThreads.Contains(tid))
            AddKthreadd();
        SetAffinity(pid, tid, _cpus);
    }

    /// <summary>kthreadd (pid 2), the parent of every kernel thread, as <c>proc/2/</c> shows it.</summary>
    private void AddKthreadd()
    {
        var dir = Path.Join(_root, "proc", "2");
        if (Directory.Exists(dir))
            return;
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Join(dir, "comm"), "kthreadd\n");
        File.WriteAllText(Path.Join(dir, "stat"), Stat(2, "kthreadd", 0, 1));
        File.WriteAllText(Path.Join(dir, "status"), Status("kthreadd", 2, 2, 0, 1, _cpus));
    }

    private void SetAffinity(int pid, int tid, CpuSet cpus)
    {
        var comm = File.ReadAllText(TaskFile(pid, tid, "comm")).Trim();
        // A kernel thread is its own thread group of one, a child of kthreadd; a thread of QEMU is in QEMU's group (QEMU is libvirtd's child: PPid 1 here).
        var (tgid, ppid, threads) = _kernelThreads.Contains(tid) ? (tid, 2, 1) : (pid, 1, _tasks.Count(t => t.Value == pid));
        foreach (var dir in TaskDirectories(pid, tid))
        {
            File.WriteAllText(Path.Join(dir, "stat"), Stat(tid, comm, ppid, threads));
            File.WriteAllText(Path.Join(dir, "status"), Status(comm, tgid, tid, ppid, threads, cpus));
        }
    }

    /// <summary><c>proc/N/stat</c> as Linux 6.1 writes it: pid, (comm), state, ppid, pgrp, session, tty, tpgid, flags, ..., num_threads (20th), ..., starttime (22nd), ...</summary>
    private static string Stat(int tid, string comm, int ppid, int threads)
    {
        // Kernel threads carry PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC (0x208040, as the lab's 6.1 shows them) and pgrp and session 0.
        var (flags, group) = ppid is 0 or 2 ? (0x208040, 0) : (0x400100, 1);
        // starttime: ids rise with creation here, and so does the start time.
        return string.Create(CultureInfo.InvariantCulture,
            $"{tid} ({comm}) S {ppid} {group} {group} 0 -1 {flags} 0 0 0 0 0 0 0 0 20 0 {threads} 0 {tid} 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    }

    /// <summary><c>proc/N/status</c> with the fields of Linux 6.1, in its order (what a kernel thread shows; a thread of QEMU shows the same fields).</summary>
    private static string Status(string comm, int tgid, int tid, int ppid, int threads, CpuSet cpus) => string.Create(CultureInfo.InvariantCulture,
        $"Name:\t{comm}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{tgid}\nNgid:\t0\nPid:\t{tid}\nPPid:\t{ppid}\nTracerPid:\t0\n" +
        $"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t64\nGroups:\t \nNStgid:\t{tgid}\nNSpid:\t{tid}\nNSpgid:\t0\nNSsid:\t0\n" +
        $"Threads:\t{threads}\nSigQ:\t0/7827\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n" +
        $"SigIgn:\tffffffffffffffff\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n" +
        $"CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n" +
        $"Speculation_Store_Bypass:\tvulnerable\nSpeculationIndirectBranch:\talways enabled\nCpus_allowed:\t{Mask(cpus)}\nCpus_allowed_list:\t{cpus}\n" +
        $"Mems_allowed:\t00000001\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n");

    /// <summary>A CPU set as the kernel's hex mask: 32-bit groups, most significant first, comma-separated (<c>Cpus_allowed:</c>).</summary>
    private static string Mask(CpuSet cpus)
    {
        var words = new uint[cpus.IsEmpty ? 1 : cpus.Max() / 32 + 1];
        foreach (var cpu in cpus)
            words[cpu / 32] |= 1u << (cpu % 32);
        return string.Join(',', words.Reverse().Select((w, i) => i == 0 ? w.ToString("x", CultureInfo.InvariantCulture) : w.ToString("x8", CultureInfo.InvariantCulture)));
    }

    private string? AffinityOf(int pid, int tid)
    {
        var file = TaskFile(pid, tid, "status");
        return File.Exists(file)
            ? File.ReadLines(file).FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))?["Cpus_allowed_list:".Length..].Trim()
            : null;
    }

    private static CommandResult Fail(string message) => new(1, "", message + "\n");
}
