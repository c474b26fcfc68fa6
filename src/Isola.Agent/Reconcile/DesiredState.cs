using Isola.Rendering.Vf;

namespace Isola.Agent.Reconcile;

/// <summary>A vhost-net worker (a task named <c>vhost-QEMUPID</c>) and the CPUs it may run on (<c>Cpus_allowed_list</c>).</summary>
public sealed record VhostWorker(int Tid, string Cpus);

/// <summary>A running or paused domain's QEMU process and its vhost workers, in TID order.</summary>
public sealed record QemuProcess(int Pid, IReadOnlyList<VhostWorker> Vhost);

/// <summary>What the host holds: its domains' states (virsh's words) and the VF settings its PFs hold.</summary>
/// <param name="MsiIrqs">The host IRQs each VF of interest has now (its msi_irqs).</param>
/// <param name="IrqAffinity">smp_affinity_list of each IRQ of interest.</param>
/// <param name="Qemu">The QEMU process of each started domain whose plan pins vhost workers, by domain name.</param>
/// <param name="DomainFiles">The domains whose XML the agent keeps in its state directory (the file it defined them from), by name.</param>
public sealed record ActualHost(IReadOnlyDictionary<string, string> Domains, IReadOnlyDictionary<(string Pf, int Vf), Isola.Domain.Pci.VfState> Vfs,
    IReadOnlyDictionary<Isola.Domain.Pci.PciAddress, IReadOnlyList<int>>? MsiIrqs = null, IReadOnlyDictionary<int, string>? IrqAffinity = null,
    string? Irqbalance = null, IReadOnlyDictionary<string, string?>? HostFiles = null, IReadOnlyDictionary<string, QemuProcess>? Qemu = null,
    IReadOnlySet<string>? DomainFiles = null);

/// <summary>The vhost workers the agent pinned in a domain's current QEMU process (a new process starts a new list).</summary>
public sealed record PinnedVhost(int QemuPid, IReadOnlyList<int> Tids);

/// <summary>
/// What the agent has put on the host for a server, kept on disk before it acts: a restarted agent
/// knows what to take down even when the server left the desired state meanwhile.
/// </summary>
/// <param name="IrqsBefore">Each IRQ the agent steered and its affinity before: restored when the server goes.</param>
/// <param name="Vhost">The vhost workers pinned so far: one of them found elsewhere later was moved behind the agent's back (drift). Nothing to undo: they end with QEMU.</param>
public sealed record AppliedServer(string Id, string Domain, IReadOnlyList<VfSettings> Vfs, IReadOnlyDictionary<int, string>? IrqsBefore = null,
    PinnedVhost? Vhost = null);
