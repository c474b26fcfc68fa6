using Isola.Domain.Cpu;
using Isola.Domain.Pci;

namespace Isola.Rendering.Isolation;

/// <summary>The host IRQs of one assigned VF go to these pCPUs, spread one IRQ per pCPU in turn.</summary>
public sealed record IrqRule(string Port, PciAddress Vf, CpuSet Targets);

/// <summary>Host IRQ <see cref="Irq"/> gets <c>smp_affinity_list</c> = <see cref="Cpu"/>.</summary>
public sealed record IrqAssignment(int Irq, PciAddress Vf, int Cpu);

/// <summary>The vhost thread of queue pair <see cref="Queue"/> of a virtio port runs on <see cref="Cpu"/>.</summary>
public sealed record VhostPin(string Port, int Queue, int Cpu);

/// <summary>
/// Where a VM's device interrupts and vhost threads run. A VF's MSI-X IRQs appear on the host only
/// once the guest enables MSI-X, so the plan holds rules; <see cref="Assign"/> turns a rule and the
/// IRQ numbers found then into assignments (the agent does this after start, and again when they change).
/// <see cref="Known"/> holds the assignments for IRQs the inventory already lists.
/// </summary>
public sealed record IrqAffinityPlan(IReadOnlyList<IrqRule> Rules, IReadOnlyList<IrqAssignment> Known, IReadOnlyList<VhostPin> Vhost)
{
    /// <summary>IRQ i of the VF goes to target i mod n, in ascending IRQ order.</summary>
    public static IReadOnlyList<IrqAssignment> Assign(IrqRule rule, IEnumerable<int> irqs) =>
        rule.Targets.IsEmpty ? [] : irqs.Order().Select((irq, i) => new IrqAssignment(irq, rule.Vf, rule.Targets[i % rule.Targets.Count])).ToList();
}
