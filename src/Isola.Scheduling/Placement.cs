using Isola.Domain.Pci;

namespace Isola.Scheduling;

/// <summary>vCPU <see cref="Vcpu"/> runs on host pCPU <see cref="Pcpu"/>.</summary>
public readonly record struct VcpuPin(int Vcpu, int Pcpu);

/// <summary>Where one guest NUMA cell went.</summary>
/// <param name="Pins">One per dedicated vCPU of the cell.</param>
/// <param name="ReservedSiblings">Threads kept from everyone by cpu_thread_policy=isolate.</param>
/// <param name="SharedVcpus">The cell's vCPUs that float over the host's shared pCPUs.</param>
/// <param name="PageSizeKiB">4 for small pages.</param>
public sealed record CellPlacement(
    int GuestCell,
    int HostCell,
    IReadOnlyList<VcpuPin> Pins,
    IReadOnlyList<int> ReservedSiblings,
    IReadOnlyList<int> SharedVcpus,
    long MemMiB,
    long PageSizeKiB);

/// <summary>A VF given to a port. Both VFs of an HA port carry the port's MAC.</summary>
public sealed record VfAssignment(string Port, string Physnet, PciAddress Pf, string? PfNetDev, int? HostCell, PciAddress Vf, int VfIndex, string Mac);

/// <summary>How the two legs of an HA port sit: on two adapters, or on two ports of one adapter (which share its failure).</summary>
public enum HaLegs
{
    DistinctAdapters,
    SameAdapter,
}

/// <summary>A whole PF given to a direct-physical port.</summary>
public sealed record PfAssignment(string Port, string Physnet, PciAddress Pf, string? NetDev, int? HostCell);

/// <summary>Floating (non-NUMA-bound) small-page memory charged to a host cell.</summary>
public sealed record MemoryCharge(int HostCell, long MiB);

/// <summary>
/// The scheduler's answer for one server: the host and every resource on it. It is a plan: the
/// fleet state changes only when <see cref="State.FleetState.TryClaim"/> commits it.
/// </summary>
/// <param name="HostGeneration">The host's generation the plan was made on; a claim on a newer one fails.</param>
/// <param name="Cells">Null for a guest without NUMA topology.</param>
/// <param name="EmulatorPins">The pCPU of isolated emulator threads (emulator_threads_policy=isolate).</param>
/// <param name="EmulatorReserved">Its siblings, kept free by thread policy isolate.</param>
/// <param name="FloatingVcpus">vCPUs charged to the host's shared capacity.</param>
/// <param name="FloatingMemory">Memory of a guest without NUMA topology, by the cell charged.</param>
public sealed record Placement(
    string Server,
    string Host,
    long HostGeneration,
    IReadOnlyList<CellPlacement>? Cells,
    IReadOnlyList<int> EmulatorPins,
    IReadOnlyList<int> EmulatorReserved,
    int FloatingVcpus,
    IReadOnlyList<MemoryCharge> FloatingMemory,
    IReadOnlyList<VfAssignment> Vfs,
    IReadOnlyList<PfAssignment> Pfs,
    string? Group,
    double Score)
{
    /// <summary>How the legs of HA port <paramref name="port"/> sit; null for a port that did not get two VFs.</summary>
    public HaLegs? HaLegsOf(string port)
    {
        var legs = Vfs.Where(v => v.Port == port).Take(3).ToList();
        return legs.Count != 2 ? null : legs[0].Pf.SameAdapterAs(legs[1].Pf) ? HaLegs.SameAdapter : HaLegs.DistinctAdapters;
    }

    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<int> AllPinned =>
        (Cells ?? []).SelectMany(c => c.Pins.Select(p => p.Pcpu).Concat(c.ReservedSiblings)).Concat(EmulatorPins).Concat(EmulatorReserved);
}
