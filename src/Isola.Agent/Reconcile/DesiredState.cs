using Isola.Rendering.Vf;

namespace Isola.Agent.Reconcile;

/// <summary>The part of a server's host plan the agent applies today: its domain and its VFs.</summary>
public sealed record DesiredPlan(string Server, string Uuid, string DomainXml, IReadOnlyList<VfSettings> Vfs, Isola.Rendering.Isolation.IrqAffinityPlan? Irqs = null,
    Isola.Rendering.Isolation.HostIsolation? Isolation = null);

public sealed record DesiredPort(string Id, string Name, string Mac, string Status);

/// <summary>A server the host should hold, as <c>GET /v1/hosts/{name}/desired</c> gives it.</summary>
/// <param name="Plan">Null when the controller could not make it (<paramref name="PlanError"/> says why): the agent leaves the server as it is.</param>
/// <param name="PlanStamp">Changes exactly when the plan does (the host's inventory stamp): a plan fetched with this stamp is current.</param>
public sealed record DesiredServer(string Id, string Name, string Status, string PowerState, IReadOnlyList<DesiredPort> Ports, DesiredPlan? Plan,
    string? PlanStamp = null, string? PlanError = null);

/// <summary>What the host should hold, at a revision.</summary>
/// <param name="Network">What the host's Open vSwitch flows depend on (virtio ports, their networks and peers); null from a controller that does not send it.</param>
public sealed record DesiredHost(string Host, long Revision, IReadOnlyList<DesiredServer> Servers, Isola.Rendering.Flows.HostNetworkState? Network = null)
{
    /// <summary>The host-wide CPU isolation (the same in every plan); null when no server has a plan.</summary>
    public Isola.Rendering.Isolation.HostIsolation? Isolation => Servers.Select(s => s.Plan?.Isolation).FirstOrDefault(i => i is not null);
}

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
