using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>
/// Which vhost-net worker serves which queue of which virtio port. QEMU opens one vhost-net device
/// per queue pair of each vhost interface, in the order of the domain's <c>&lt;interface&gt;</c>
/// elements and then their queues, and the kernel creates each device's worker when QEMU takes it
/// (<c>VHOST_SET_OWNER</c>): the workers' TIDs rise in that order (assumed: TIDs are handed out in
/// increasing order until the kernel's pid_max wraps around). The plan lists its pins in the same
/// order: ports as the domain XML has them, then queues. So the n-th pin goes with the n-th worker
/// by TID. Pairing needs exactly one worker per pin; anything else (a domain just starting, a kernel
/// before 6.4 whose vhost workers are kernel threads and not QEMU's tasks) pairs nothing rather than guess.
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

    /// <summary>Why a started domain's workers cannot be pinned (for the cycle's failures); null when they can.</summary>
    public static string? Unpaired(string domain, IReadOnlyList<VhostPin> pins, QemuProcess? qemu) => qemu switch
    {
        _ when pins.Count == 0 => null,
        null => $"{domain}: no QEMU pid in run/libvirt/qemu/{domain}.pid: its vhost workers are not pinned",
        _ when qemu.Vhost.Count != pins.Count =>
            $"{domain}: {qemu.Vhost.Count} vhost worker(s) (tasks vhost-{qemu.Pid} of QEMU) for {pins.Count} queue pair(s): not pinned " +
            "(kernels before 6.4 run vhost workers as kernel threads, which the agent does not pin)",
        _ => null,
    };
}
