using System.Globalization;
using Isola.Domain.Pci;
using Isola.Scheduling;

namespace Isola.Rendering.Isolation;

/// <summary>
/// Both ends of every MSI-X vector of one device a server uses (a VF or a whole PF passed through, a
/// macvtap VF the host driver keeps): queue <c>q</c> is handled in the guest by vCPU
/// <c>Queues[q mod n].Vcpu</c>, and its host IRQ fires on the pCPU that vCPU is pinned to,
/// <c>Queues[q mod n].Pcpu</c> (pCPU = pin(affinity(virq))). The misc vector (mailbox, link, async
/// events) goes to <see cref="Misc"/>: in the guest the server's first vCPU, on the host a
/// housekeeping (reserved) CPU of the device's NUMA cell, never a dedicated one.
/// </summary>
/// <param name="Driver">The driver whose MSI-X layout the device's vectors follow (<see cref="VectorLayout"/>): the guest's for a device passed through.</param>
/// <param name="Passthrough">True: the host sees the vectors as vfio-pci's, once the guest enables MSI-X; false: the host driver's own (macvtap).</param>
public sealed record IrqRule(string Port, PciAddress Device, string Driver, bool Passthrough, IReadOnlyList<VcpuPin> Queues, VcpuPin Misc)
{
    /// <summary>The pCPUs the device's queue vectors go to (written into plans too: an agent of the release before reads it, and must find one).</summary>
    public Domain.Cpu.CpuSet Targets => Domain.Cpu.CpuSet.Of(Queues.Select(q => q.Pcpu));
}

/// <summary>One vector of a device on the host now: its IRQ and the name its driver gave it (the last column of <c>/proc/interrupts</c>; null until requested).</summary>
public sealed record HostVector(int Irq, string? Name);

/// <summary>Host IRQ <see cref="Irq"/> gets <c>smp_affinity_list</c> = <see cref="Cpu"/>; <see cref="Serves"/> says what it is ("queue 0", "misc").</summary>
/// <param name="Passthrough">A vfio-pci vector: it goes with the domain, so there is nothing to put back (its number may be another device's by then).</param>
public sealed record IrqAssignment(int Irq, PciAddress Device, int Cpu, string Serves, bool Passthrough = false);

/// <summary>The vhost thread of queue pair <see cref="Queue"/> of a virtio port runs on <see cref="Cpu"/>.</summary>
public sealed record VhostPin(string Port, int Queue, int Cpu);

/// <summary>
/// The guest end of one NIC's vectors: the NIC at guest PCI address <see cref="Address"/> has queue
/// <c>q</c>'s interrupts on vCPU <c>QueueVcpus[q mod n]</c> and its other vectors (config, control,
/// mailbox) on <see cref="MiscVcpu"/>. Written on the config drive for the guest to apply at boot.
/// </summary>
public sealed record GuestIrqMap(string Port, string Address, IReadOnlyList<int> QueueVcpus, int MiscVcpu)
{
    /// <summary>The line of the config drive's <c>isola/irq-affinity</c>: <c>ADDRESS QUEUE-VCPUS MISC-VCPU</c>.</summary>
    public string Line => string.Create(CultureInfo.InvariantCulture, $"{Address} {string.Join(',', QueueVcpus)} {MiscVcpu}");
}

/// <summary>
/// Where a VM's device interrupts and vhost threads run, at both ends. A device's MSI-X IRQs appear on
/// the host only once their driver requests them (the guest enabling MSI-X for a device passed
/// through; the host driver opening the netdev for macvtap) and get new numbers each time, so the plan
/// holds rules; <see cref="Assign"/> turns a rule and the vectors found then into assignments (the
/// agent does this every cycle). <see cref="Guest"/> is the guest's end, for the config drive.
/// </summary>
public sealed record IrqAffinityPlan(IReadOnlyList<IrqRule> Rules, IReadOnlyList<GuestIrqMap> Guest, IReadOnlyList<VhostPin> Vhost)
{
    /// <summary>Always empty: an agent of the release before reads it (the IRQs it steered by number), and finds nothing to steer instead of failing.</summary>
    public IReadOnlyList<int> Known => [];

    /// <summary>
    /// Where each vector of a rule's device goes, by what it serves (<see cref="VectorLayout"/>): queue q
    /// to the pCPU of its vCPU, the misc vector to the housekeeping CPU. Vectors whose names say
    /// nothing (not requested yet, or a driver Isola does not know) are taken for queues in ascending IRQ order.
    /// </summary>
    public static IReadOnlyList<IrqAssignment> Assign(IrqRule rule, IReadOnlyList<HostVector> vectors, string? netdev = null)
    {
        // A rule of an earlier release's plan (port, vf, targets) has neither: nothing this agent can tell apart.
        if (rule.Queues is not { Count: > 0 } || rule.Driver is null)
            return [];
        var layout = VectorLayout.Of(rule.Driver);
        var lastEntry = vectors.Select(v => v.Name is null ? null : VectorLayout.VfioEntryOf(v.Name)).Max() ?? -1;
        var result = new List<IrqAssignment>();
        var unnamed = 0;
        var ordered = vectors.OrderBy(v => v.Irq).ToList();
        // Names that do not tell the vectors apart (igbvf names all three after a netdev of 11 characters or more):
        // the driver requested them in entry order, so the entry is the rank of the IRQ number.
        var ambiguous = ordered.Count > 1 && ordered.All(v => v.Name is not null && v.Name == ordered[0].Name) && VectorLayout.VfioEntryOf(ordered[0].Name!) is null;
        foreach (var (vector, rank) in ordered.Select((v, i) => (v, i)))
        {
            var role = vector.Name is null ? null : ambiguous ? layout.OfEntry(rank, ordered.Count - 1) : layout.OfName(vector.Name, netdev, lastEntry);
            if (role is null && layout.Misc == MiscEntry.None)
                role = new VectorRole(unnamed++);
            else if (role is null)
                continue;
            var cpu = role.IsMisc ? rule.Misc.Pcpu : rule.Queues[role.Queue % rule.Queues.Count].Pcpu;
            result.Add(new IrqAssignment(vector.Irq, rule.Device, cpu, role.ToString(), rule.Passthrough));
        }
        return result;
    }
}
