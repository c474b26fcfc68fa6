using System.Globalization;
using System.Xml.Linq;
using Isola.Domain.Cpu;
using Isola.Host.Commands;

namespace Isola.Host.Simulation;

/// <summary>
/// The QEMU processes of a simulated host's started domains, as a Linux host shows them under its
/// root: <c>run/libvirt/qemu/NAME.pid</c> (written by libvirt) and <c>proc/PID/task/TID/{comm,status}</c>
/// for the main thread, one vhost-net worker per virtio queue pair (comm <c>vhost-PID</c>, a task of
/// the QEMU process as on kernels 6.4 and later) and a vCPU thread per vCPU. The files are the truth:
/// <c>taskset -p -c LIST TID</c> rewrites a task's <c>Cpus_allowed_list</c>, and so may a test.
/// </summary>
public sealed class SimulatedQemu
{
    private readonly string _root;
    private readonly CpuSet _cpus;
    private readonly Dictionary<string, int> _pids = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _tasks = [];
    private readonly Lock _lock = new();
    private int _nextPid = 4000;

    /// <param name="root">The simulated host's root directory (never the real <c>/</c>).</param>
    /// <param name="cpus">The host's CPUs: every new task may run on all of them.</param>
    public SimulatedQemu(string root, CpuSet cpus)
    {
        if (Path.GetFullPath(root) == Path.GetPathRoot(Path.GetFullPath(root)))
            throw new ArgumentException("a simulated host keeps its processes under a root of its own, not /", nameof(root));
        _root = root;
        _cpus = cpus;
    }

    /// <summary>A vhost-net worker of a domain's QEMU and the CPUs it may run on.</summary>
    public sealed record Worker(int Tid, string Cpus);

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
                .Select(tid => new Worker(tid, AffinityOf(pid, tid) ?? "")).ToList();
        }
    }

    /// <summary>Starts a domain's QEMU: its pid file and its tasks, one vhost worker per queue pair of each vhost interface in the XML.</summary>
    public int Start(string domain, string xml)
    {
        lock (_lock)
        {
            var pid = _nextPid;
            var doc = XDocument.Parse(xml);
            var queues = doc.Root?.Element("devices")?.Elements("interface")
                .Select(i => i.Element("driver"))
                .Where(d => (string?)d?.Attribute("name") == "vhost")
                .Sum(d => int.TryParse((string?)d!.Attribute("queues"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1) ?? 0;
            var vcpus = int.TryParse(doc.Root?.Element("vcpu")?.Value, CultureInfo.InvariantCulture, out var v) ? v : 1;
            var tid = pid;
            AddTask(pid, tid++, "qemu-system-x86");
            for (var q = 0; q < queues; q++)
                AddTask(pid, tid++, VhostComm(pid));
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

    /// <summary>The domain's QEMU is gone (destroyed, crashed): its pid file and its /proc entries go with it.</summary>
    public void Stop(string domain)
    {
        lock (_lock)
        {
            if (!_pids.Remove(domain, out var pid))
                return;
            foreach (var tid in _tasks.Where(t => t.Value == pid).Select(t => t.Key).ToList())
                _tasks.Remove(tid);
            var dir = Path.Join(_root, "proc", pid.ToString(CultureInfo.InvariantCulture));
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
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

    private string PidFile(string domain) => Path.Join(_root, "run", "libvirt", "qemu", domain + ".pid");

    private string TaskFile(int pid, int tid, string name) =>
        Path.Join(_root, "proc", pid.ToString(CultureInfo.InvariantCulture), "task", tid.ToString(CultureInfo.InvariantCulture), name);

    private void AddTask(int pid, int tid, string comm)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(TaskFile(pid, tid, "comm"))!);
        File.WriteAllText(TaskFile(pid, tid, "comm"), comm + "\n");
        _tasks[tid] = pid;
        SetAffinity(pid, tid, _cpus);
    }

    private void SetAffinity(int pid, int tid, CpuSet cpus)
    {
        var comm = File.ReadAllText(TaskFile(pid, tid, "comm")).Trim();
        File.WriteAllText(TaskFile(pid, tid, "status"), string.Create(CultureInfo.InvariantCulture,
            $"Name:\t{comm}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t{pid}\nPid:\t{tid}\nPPid:\t1\nThreads:\t{_tasks.Count(t => t.Value == pid)}\nCpus_allowed_list:\t{cpus}\nMems_allowed_list:\t0\n"));
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
