using System.Globalization;
using Isola.Agent.Reconcile;
using Isola.Domain.Pci;
using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>The host IRQs each VF of interest has now (its msi_irqs), and the smp_affinity_list of each IRQ of interest.</summary>
public sealed record IrqReading(IReadOnlyDictionary<PciAddress, IReadOnlyList<int>> MsiIrqs, IReadOnlyDictionary<int, string> Affinity)
    : IReading<IrqReading>
{
    public static IrqReading None { get; } = new(new Dictionary<PciAddress, IReadOnlyList<int>>(), new Dictionary<int, string>());
}

/// <summary>
/// Interrupt steering (<c>/proc/irq/N/smp_affinity_list</c>, <c>sys/bus/pci/devices/VF/msi_irqs/</c>
/// under the host's root): once the domain runs or is paused, each IRQ of the plan — the known ones
/// and, per rule, the IRQs the VF has now (they appear when the guest enables MSI-X) — is steered to
/// its pCPU; the affinity before is written into the server's file first (the part
/// <see cref="Memory"/>) and put back when the server goes. An IRQ steered before and found elsewhere is drift.
/// </summary>
public sealed class IrqFacet : IHostFacet
{
    /// <summary>Steers an IRQ; <see cref="Before"/> is its affinity now, kept to restore it.</summary>
    public sealed record SteerIrq(string Id, int Irq, string Cpus, string Before, string? Drift) : Step(Id), IDriftStep;
    public sealed record RestoreIrq(string Id, int Irq, string Cpus) : Step(Id);

    /// <summary>The part of a server's file that holds each IRQ the agent steered and its affinity before.</summary>
    public const string Memory = "irqsBefore";

    /// <summary>The affinities the agent found before it steered a server's IRQs, by IRQ.</summary>
    public static IReadOnlyDictionary<int, string> Before(AppliedServer? server) => server?.Part<Dictionary<int, string>>(Memory) ?? [];

    /// <summary>Where each IRQ of a plan goes: the ones known beforehand and, per rule, the IRQs its VF has now.</summary>
    public static IEnumerable<IrqAssignment> Assignments(IrqAffinityPlan irqs, ActualHost actual)
    {
        var msi = actual.Get<IrqReading>().MsiIrqs;
        return irqs.Known.Concat(irqs.Rules.SelectMany(r => IrqAffinityPlan.Assign(r, msi.GetValueOrDefault(r.Vf) ?? []))).DistinctBy(a => a.Irq);
    }

    public Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var msi = new Dictionary<PciAddress, IReadOnlyList<int>>();
        foreach (var rule in read.Desired.Servers.SelectMany(s => s.Plan?.Irqs?.Rules ?? []))
            msi[rule.Vf] = read.Driver.MsiIrqs(rule.Vf);
        var irqs = read.Desired.Servers.SelectMany(s => s.Plan?.Irqs?.Known.Select(k => k.Irq) ?? []).Concat(msi.Values.SelectMany(v => v))
            .Concat(read.Applied.Values.SelectMany(r => Before(r).Keys)).Distinct();
        var affinity = new Dictionary<int, string>();
        foreach (var irq in irqs)
        {
            if (read.Driver.IrqAffinity(irq) is { } cpus)
                affinity[irq] = cpus;
        }
        return Task.FromResult<object?>(new IrqReading(msi, affinity));
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        // A plan from a controller before IRQ plans has none.
        if (server.Plan.Irqs is not { } irqs || !server.Started)
            yield break;
        var affinity = actual.Get<IrqReading>().Affinity;
        var saved = Before(server.Applied);
        foreach (var a in Assignments(irqs, actual))
        {
            var now = affinity.GetValueOrDefault(a.Irq);
            var want = a.Cpu.ToString(CultureInfo.InvariantCulture);
            if (now is null || now == want)
                continue;
            var before = saved.GetValueOrDefault(a.Irq);
            yield return new SteerIrq(server.Id, a.Irq, want, before ?? now, before is not null ? $"irq {a.Irq} ({a.Vf}): on {now} (want {want})" : null);
        }
    }

    public IEnumerable<Step> PlanTakeDown(AppliedServer gone, ActualHost actual)
    {
        var affinity = actual.Get<IrqReading>().Affinity;
        foreach (var (irq, before) in Before(gone))
        {
            if (affinity.GetValueOrDefault(irq) is { } now && now != before)
                yield return new RestoreIrq(gone.Id, irq, before);
        }
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        switch (step)
        {
            case SteerIrq s:
                // The affinity before is on disk before it is changed: a crash right after still restores it.
                var record = hands.Applied.Load()[s.Id];
                var before = new Dictionary<int, string>(Before(record));
                if (before.TryAdd(s.Irq, s.Before))
                    hands.Applied.Save(record.WithPart(Memory, before));
                hands.Driver.SetIrqAffinity(s.Irq, s.Cpus);
                return Task.CompletedTask;
            case RestoreIrq r:
                hands.Driver.SetIrqAffinity(r.Irq, r.Cpus);
                return Task.CompletedTask;
            default:
                throw HostFacets.NotMine(this, step);
        }
    }
}
