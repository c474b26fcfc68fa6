using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>
/// Which vhost-net worker serves which queue of which virtio port. QEMU opens one vhost-net device
/// per queue pair of each vhost interface, in the order of the domain's <c>&lt;interface&gt;</c>
/// elements and then their queues, and the kernel creates each device's worker when QEMU takes it
/// (<c>VHOST_SET_OWNER</c>, which returns only once the worker exists) — a thread of QEMU on kernels 6.4
/// and later, a kernel thread before: either way a new task, whose id the kernel takes from the one pid
/// space in increasing order. So the workers' TIDs rise in creation order (assumed: no wrap-around of
/// the kernel's pid_max while QEMU starts; the two forms never mix in one QEMU). The plan lists its
/// pins in the same order: ports as the domain XML has them, then queues. So the n-th pin goes with
/// the n-th worker by TID. Pairing needs exactly one worker per pin; anything else (a domain just
/// starting, a device QEMU opened that the plan does not know) pairs nothing rather than guess.
/// </summary>
public static class VhostPairing
{
    /// <summary>Each pin with its worker, or null when the workers cannot be told apart.</summary>
    public static IReadOnlyList<(VhostPin Pin, VhostWorker Worker)>? Pair(IReadOnlyList<VhostPin> pins, QemuProcess? qemu)
    {
        if (qemu is null || qemu.Vhost.Count != pins.Count)
            return null;
        // Ports in the plan's order (the domain's), queues ascending within each.
        var ordered = pins.GroupBy(p => p.Port, StringComparer.Ordinal).SelectMany(g => g.OrderBy(p => p.Queue));
        return ordered.Zip(qemu.Vhost.OrderBy(w => w.Tid)).ToList();
    }

    /// <summary>Whether a worker runs where its pin says.</summary>
    public static bool Holds(VhostPin pin, VhostWorker worker) => worker.Cpus == Cpus(pin);

    /// <summary>A pin's CPU as taskset and /proc write it.</summary>
    public static string Cpus(VhostPin pin) => pin.Cpu.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A worker as the agent names it: <c>vhost-4000 task 4002</c> (a thread of QEMU) or <c>vhost-4000 kernel thread 4002</c>.</summary>
    public static string Name(int qemuPid, VhostWorker worker) =>
        $"vhost-{qemuPid} {(worker.Form == VhostWorkerForm.KernelThread ? "kernel thread" : "task")} {worker.Tid}";

    /// <summary>
    /// Why the kernel would refuse to put a worker on its pin's CPU, or null: the CPU is outside the
    /// worker's cpuset cgroup. A worker is in the cgroups of the QEMU thread that took its device (a
    /// kernel thread is attached to them, <c>vhost_attach_cgroups</c>; a thread of QEMU inherits them),
    /// and libvirt runs QEMU in the domain's emulator cgroup, whose cpuset is <c>&lt;emulatorpin&gt;</c>.
    /// </summary>
    public static string? Refusal(int qemuPid, VhostPin pin, VhostWorker worker) =>
        CgroupRefusal(worker, pin.Cpu) is { } why ? $"{Name(qemuPid, worker)} ({pin.Port} queue {pin.Queue}) {why}: not pinned" : null;

    /// <summary>Why a worker's cpuset cgroup keeps it off <paramref name="cpu"/> (<c>cannot run on CPU 5: ...</c>); null when it does not (or is not known).</summary>
    public static string? CgroupRefusal(VhostWorker worker, int cpu) =>
        worker.Cpuset is { } limit && !limit.Cpus.Contains(cpu)
            ? $"cannot run on CPU {cpu}: it is in cgroup {limit.Cgroup}, whose cpuset allows only CPUs {limit.Cpus}, and the kernel refuses an " +
              "affinity outside it (EINVAL). A vhost worker is in the cgroups of the QEMU thread that made it, which libvirt keeps in the domain's " +
              "emulator cgroup (its cpuset is the <emulatorpin> CPUs)"
            : null;

    /// <summary>Why a started domain's workers cannot be pinned (for the cycle's failures); null when they can.</summary>
    public static string? Unpaired(string domain, IReadOnlyList<VhostPin> pins, QemuProcess? qemu) => qemu switch
    {
        _ when pins.Count == 0 => null,
        null => $"{domain}: no QEMU pid in run/libvirt/qemu/{domain}.pid: its vhost workers are not pinned",
        _ when qemu.Vhost.Count != pins.Count =>
            $"{domain}: {qemu.Vhost.Count} vhost worker(s) named vhost-{qemu.Pid} (threads of QEMU or kernel threads) for {pins.Count} queue pair(s): not pinned",
        _ => null,
    };
}
