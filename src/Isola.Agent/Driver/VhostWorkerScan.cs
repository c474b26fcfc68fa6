using System.Globalization;
using Isola.Agent.Facets;
using Isola.Domain.Cpu;

namespace Isola.Agent.Driver;

/// <summary>
/// Finds the vhost-net workers of QEMU processes in a host's <c>proc/</c> (under its root), in either
/// form the kernel makes them. The kernel names a worker <c>vhost-%d</c> after the pid (<c>current-&gt;pid</c>,
/// the calling thread's id) of the task that took the vhost device (<c>VHOST_SET_OWNER</c>): QEMU's main
/// thread, whose id is QEMU's pid. "vhost-" and a pid below the kernel's limit of 4194304 fit the 15
/// characters of a task's comm, so the name is never cut short.
/// <list type="bullet">
/// <item>Since 6.4 (<c>vhost_task_create</c>) a worker is a thread of the QEMU process:
/// <c>proc/PID/task/TID/</c> with that comm.</item>
/// <item>Before 6.4 (<c>kthread_create(vhost_worker, dev, "vhost-%d", current-&gt;pid)</c>) it is a kernel
/// thread, a child of kthreadd: <c>proc/TID/</c> with that comm and <c>PPid: 2</c>, not among QEMU's tasks.</item>
/// </list>
/// Both are looked for on every kernel (a kernel may make either). A task that ends while being read is left out.
/// </summary>
internal static class VhostWorkerScan
{
    /// <summary>The kthreadd pid: every kernel thread but itself and init's is its child.</summary>
    private const string Kthreadd = "2";

    /// <summary>Each QEMU pid's vhost workers in TID order (an empty list for a pid that has none or is gone).</summary>
    public static IReadOnlyDictionary<int, IReadOnlyList<VhostWorker>> Find(string root, IReadOnlyCollection<int> pids)
    {
        var proc = Path.Join(root, "proc");
        var found = pids.Distinct().ToDictionary(p => p, _ => new List<VhostWorker>());
        foreach (var (pid, workers) in found)
        {
            foreach (var task in Directories(Path.Join(proc, Text(pid), "task")))
            {
                if (Tid(task) is { } tid && Worker(root, task, tid, pid, VhostWorkerForm.QemuThread) is { } worker)
                    workers.Add(worker);
            }
        }
        if (found.Count > 0)
        {
            foreach (var dir in Directories(proc))
            {
                if (Tid(dir) is not { } tid || ReadFile(Path.Join(dir, "comm"))?.Trim() is not { } comm || Owner(comm) is not { } pid ||
                    !found.TryGetValue(pid, out var workers) || tid == pid)
                    continue;
                if (Worker(root, dir, tid, pid, VhostWorkerForm.KernelThread) is { } worker && workers.All(w => w.Tid != tid))
                    workers.Add(worker);
            }
        }
        return found.ToDictionary(f => f.Key, f => (IReadOnlyList<VhostWorker>)f.Value.OrderBy(w => w.Tid).ToList());
    }

    /// <summary>The task in <paramref name="dir"/> as a worker of QEMU <paramref name="pid"/>; null when it is not one (or ended).</summary>
    private static VhostWorker? Worker(string root, string dir, int tid, int pid, VhostWorkerForm form)
    {
        if (ReadFile(Path.Join(dir, "comm"))?.Trim() != "vhost-" + Text(pid) || ReadFile(Path.Join(dir, "status")) is not { } status)
            return null;
        var fields = status.Split('\n').Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.Ordinal);
        // A process of that name that is no kernel thread (anyone can name a process vhost-1234) is not a worker.
        if (form == VhostWorkerForm.KernelThread && fields.GetValueOrDefault("PPid") != Kthreadd)
            return null;
        return fields.TryGetValue("Cpus_allowed_list", out var cpus) ? new VhostWorker(tid, cpus, form, Cpuset(root, dir)) : null;
    }

    /// <summary>
    /// The CPUs the task's cpuset cgroup allows (<c>proc/TID/cpuset</c> names the cgroup): cgroup v1's
    /// <c>sys/fs/cgroup/cpuset/CG/cpuset.effective_cpus</c>, else v2's <c>sys/fs/cgroup/CG/cpuset.cpus.effective</c>
    /// of the cgroup or (v2: the cpuset controller is not enabled below some level) its nearest ancestor
    /// that has one; null when neither is there.
    /// </summary>
    private static CpusetLimit? Cpuset(string root, string dir)
    {
        if (ReadFile(Path.Join(dir, "cpuset"))?.Trim() is not { Length: > 0 } cgroup || !cgroup.StartsWith('/'))
            return null;
        var mount = Path.Join(root, "sys", "fs", "cgroup");
        for (var at = cgroup; ; at = at[..Math.Max(at.LastIndexOf('/'), 1)])
        {
            foreach (var file in new[] { Path.Join(mount, "cpuset", at, "cpuset.effective_cpus"), Path.Join(mount, at, "cpuset.cpus.effective") })
            {
                if (ReadFile(file) is { } text && CpuSet.TryParse(text, out var cpus, out _))
                    return new CpusetLimit(cgroup, cpus);
            }
            if (at == "/")
                return null;
        }
    }

    /// <summary>The QEMU pid a worker's comm names (<c>vhost-PID</c>); null for any other comm.</summary>
    private static int? Owner(string comm) =>
        comm.StartsWith("vhost-", StringComparison.Ordinal) && int.TryParse(comm.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;

    private static int? Tid(string dir) =>
        int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var tid) && tid > 0 ? tid : null;

    private static string Text(int pid) => pid.ToString(CultureInfo.InvariantCulture);

    private static IEnumerable<string> Directories(string dir)
    {
        try
        {
            return Directory.GetDirectories(dir);
        }
        catch (DirectoryNotFoundException)
        {
            return []; // no such process (any more)
        }
    }

    private static string? ReadFile(string file)
    {
        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            return null; // the task ended meanwhile, or the host has no such file
        }
    }
}
