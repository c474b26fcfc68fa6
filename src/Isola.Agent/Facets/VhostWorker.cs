using Isola.Domain.Cpu;

namespace Isola.Agent.Facets;

/// <summary>How the kernel made a vhost-net worker; both carry the comm <c>vhost-QEMUPID</c>.</summary>
public enum VhostWorkerForm
{
    /// <summary>A thread of the QEMU process (<c>vhost_task</c>, kernels 6.4 and later): <c>proc/PID/task/TID/</c>.</summary>
    QemuThread,

    /// <summary>A kernel thread, a child of kthreadd (pid 2; kernels before 6.4): <c>proc/TID/</c>, not among QEMU's tasks.</summary>
    KernelThread,
}

/// <summary>
/// The CPUs a task's cpuset cgroup lets it run on (<c>cpuset.effective_cpus</c> on cgroup v1,
/// <c>cpuset.cpus.effective</c> on v2): <c>sched_setaffinity</c> (taskset) keeps only CPUs in it and
/// refuses a CPU list with none of them (EINVAL).
/// </summary>
/// <param name="Cgroup">The task's cpuset cgroup as <c>proc/TID/cpuset</c> names it.</param>
/// <param name="Cpus">The CPUs that cgroup allows.</param>
public sealed record CpusetLimit(string Cgroup, CpuSet Cpus);

/// <summary>A vhost-net worker and the CPUs it may run on now (<c>Cpus_allowed_list</c>).</summary>
/// <param name="Form">Where it was found: among QEMU's tasks or as a kernel thread.</param>
/// <param name="Cpuset">Its cpuset cgroup's CPUs; null when the host shows no cpuset for it (no cgroup file system under the root).</param>
public sealed record VhostWorker(int Tid, string Cpus, VhostWorkerForm Form = VhostWorkerForm.QemuThread, CpusetLimit? Cpuset = null);
