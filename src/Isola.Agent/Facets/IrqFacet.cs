using System.Globalization;
using Isola.Agent.Reconcile;
using Isola.Domain.Pci;
using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>
/// The vectors each device of interest has now (its <c>msi_irqs</c>, with the names <c>/proc/interrupts</c>
/// gives them), the netdev of each device the host driver keeps, and the <c>smp_affinity_list</c> of each IRQ of interest.
/// </summary>
/// <param name="DefaultAffinity">The affinity a newly requested IRQ gets (<c>/proc/irq/default_smp_affinity</c> as a list); null when unknown.</param>
public sealed record IrqReading(
    IReadOnlyDictionary<PciAddress, IReadOnlyList<HostVector>> Vectors, IReadOnlyDictionary<PciAddress, string> NetDevs, IReadOnlyDictionary<int, string> Affinity,
    string? DefaultAffinity = null)
    : IReading<IrqReading>
{
    public static IrqReading None { get; } = new(new Dictionary<PciAddress, IReadOnlyList<HostVector>>(), new Dictionary<PciAddress, string>(), new Dictionary<int, string>());
}

/// <summary>
/// Interrupt steering, the host's end (<c>/proc/irq/N/smp_affinity_list</c>, <c>/proc/interrupts</c>,
/// <c>sys/bus/pci/devices/BDF/msi_irqs/</c> under the host's root): once the domain runs or is paused,
/// every vector each rule's device has now — they appear when the guest enables MSI-X, and come back
/// with new numbers when it enables it again (a driver reload, a reboot) — is steered by what it serves
/// (<see cref="IrqAffinityPlan.Assign"/>): a queue's to the pCPU of its vCPU, the misc vector to a
/// housekeeping CPU. Each cycle reads them again, so new numbers are steered in the next cycle. The
/// affinity before of a host driver's vector (macvtap) is written into the server's file first (the
/// part <see cref="Memory"/>) and put back when the server goes; a vfio-pci vector goes with the domain
/// (its number may be another device's afterwards), so it is only remembered (<see cref="SteeredMemory"/>)
/// to tell drift from a new vector. An IRQ steered before and found elsewhere is drift.
/// </summary>
public sealed class IrqFacet : IHostFacet
{
    /// <summary>
    /// Steers an IRQ; <see cref="Before"/> is its affinity now, kept to restore it (<see cref="Restore"/>: a host driver's
    /// vector; a vfio-pci one goes with the domain). <see cref="Live"/>: the server's vectors now (null: all); what the
    /// server's file remembers of others is dropped (their numbers may be another device's by now).
    /// </summary>
    public sealed record SteerIrq(string Id, int Irq, string Cpus, string Before, string? Drift, bool Restore = true, IReadOnlyList<int>? Live = null) : Step(Id), IDriftStep
    {
        /// <summary>What the step does; <see cref="Live"/> is bookkeeping and left out.</summary>
        public bool Equals(SteerIrq? other) => other is not null && (Id, Irq, Cpus, Before, Drift, Restore) == (other.Id, other.Irq, other.Cpus, other.Before, other.Drift, other.Restore);

        public override int GetHashCode() => HashCode.Combine(Id, Irq, Cpus, Before, Drift, Restore);
    }
    public sealed record RestoreIrq(string Id, int Irq, string Cpus) : Step(Id);

    /// <summary>The part of a server's file that holds each IRQ the agent steered and its affinity before.</summary>
    public const string Memory = "irqsBefore";

    /// <summary>The part that holds the vfio-pci vectors the agent steered (nothing to restore: only to tell drift from a new vector).</summary>
    public const string SteeredMemory = "irqsSteered";

    /// <summary>The affinities the agent found before it steered a server's IRQs, by IRQ.</summary>
    public static IReadOnlyDictionary<int, string> Before(AppliedServer? server) => server?.Part<Dictionary<int, string>>(Memory) ?? [];

    /// <summary>The vfio-pci vectors the agent steered for a server.</summary>
    public static IReadOnlyList<int> Steered(AppliedServer? server) => server?.Part<List<int>>(SteeredMemory) ?? [];

    /// <summary>Where each vector of a plan's devices goes now.</summary>
    public static IEnumerable<IrqAssignment> Assignments(IrqAffinityPlan irqs, ActualHost actual)
    {
        var reading = actual.Get<IrqReading>();
        return irqs.Rules.SelectMany(r => IrqAffinityPlan.Assign(r, reading.Vectors.GetValueOrDefault(r.Device) ?? [], reading.NetDevs.GetValueOrDefault(r.Device)))
            .DistinctBy(a => a.Irq);
    }

    public Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var rules = read.Desired.Servers.SelectMany(s => s.Plan?.Irqs?.Rules ?? []).ToList();
        var names = rules.Count > 0 ? read.Driver.InterruptNames() : new Dictionary<int, string>();
        var vectors = new Dictionary<PciAddress, IReadOnlyList<HostVector>>();
        var netdevs = new Dictionary<PciAddress, string>();
        foreach (var rule in rules)
        {
            vectors[rule.Device] = read.Driver.MsiIrqs(rule.Device).Select(irq => new HostVector(irq, names.GetValueOrDefault(irq))).ToList();
            if (!rule.Passthrough && read.Driver.NetDevOf(rule.Device) is { } netdev)
                netdevs[rule.Device] = netdev;
        }
        var irqs = vectors.Values.SelectMany(v => v.Select(h => h.Irq)).Concat(read.Applied.Values.SelectMany(r => Before(r).Keys)).Distinct();
        var affinity = new Dictionary<int, string>();
        foreach (var irq in irqs)
        {
            if (read.Driver.IrqAffinity(irq) is { } cpus)
                affinity[irq] = cpus;
        }
        return Task.FromResult<object?>(new IrqReading(vectors, netdevs, affinity, rules.Count > 0 ? read.Driver.DefaultIrqAffinity() : null));
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        // A plan from a controller before IRQ plans has none.
        if (server.Plan.Irqs is not { } irqs || !server.Started)
            yield break;
        var reading = actual.Get<IrqReading>();
        var saved = Before(server.Applied);
        var steered = Steered(server.Applied);
        var assignments = Assignments(irqs, actual).ToList();
        var live = assignments.Select(a => a.Irq).Order().ToList();
        foreach (var a in assignments)
        {
            var now = reading.Affinity.GetValueOrDefault(a.Irq);
            var want = a.Cpu.ToString(CultureInfo.InvariantCulture);
            if (now is null || now == want)
                continue;
            var before = saved.GetValueOrDefault(a.Irq);
            // Steered before and elsewhere now is drift; at the kernel's default it is a vector requested again
            // (a guest reboot, a driver reload), often under its old number: new, not moved.
            var moved = (a.Passthrough ? steered.Contains(a.Irq) : before is not null) && now != reading.DefaultAffinity;
            yield return new SteerIrq(server.Id, a.Irq, want, before ?? now, moved ? $"irq {a.Irq} ({a.Device} {a.Serves}): on {now} (want {want})" : null,
                !a.Passthrough, live);
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
                bool Live(int irq) => s.Live is null || s.Live.Contains(irq);
                if (s.Restore)
                {
                    var before = Before(record).Where(b => Live(b.Key)).ToDictionary(b => b.Key, b => b.Value);
                    before.TryAdd(s.Irq, s.Before);
                    hands.Applied.Save(record.WithPart(Memory, before));
                }
                else
                {
                    hands.Applied.Save(record.WithPart(SteeredMemory, Steered(record).Where(Live).Append(s.Irq).Distinct().Order().ToList()));
                }
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
