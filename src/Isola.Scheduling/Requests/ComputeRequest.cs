namespace Isola.Scheduling.Requests;

/// <summary><c>hw:mem_page_size</c>.</summary>
public enum PageSizeKind
{
    /// <summary>Not given: small pages, and no NUMA binding unless something else asks for one.</summary>
    Default,
    Small,
    /// <summary>The largest hugepage size that fits.</summary>
    Large,
    /// <summary>Hugepages if they fit, else small pages.</summary>
    Any,
    /// <summary>Exactly <see cref="MemPageSize.SizeKiB"/>.</summary>
    Explicit,
}

public readonly record struct MemPageSize(PageSizeKind Kind, long SizeKiB = 0)
{
    public const long SmallKiB = 4;

    public override string ToString() => Kind == PageSizeKind.Explicit ? $"{SizeKiB}KiB" : Kind.ToString().ToLowerInvariant();
}

/// <summary>One guest NUMA cell: which vCPUs it holds (pinned and floating) and its memory.</summary>
public sealed record GuestCell(int Id, IReadOnlyList<int> DedicatedVcpus, IReadOnlyList<int> SharedVcpus, long MemMiB)
{
    public int VcpuCount => DedicatedVcpus.Count + SharedVcpus.Count;
}

/// <summary>
/// What a flavor asks of a host, checked and normalised (<see cref="ExtraSpecs.Parse"/>).
/// <see cref="Cells"/> is null for a guest without NUMA topology (shared CPUs, default pages):
/// its vCPUs and memory float over the host.
/// </summary>
public sealed record ComputeRequest(
    int Vcpus,
    long RamMiB,
    CpuPolicy CpuPolicy,
    CpuThreadPolicy ThreadPolicy,
    EmulatorThreadsPolicy EmulatorPolicy,
    IReadOnlyList<GuestCell>? Cells,
    MemPageSize PageSize,
    bool LockedMemory,
    PciNumaAffinityPolicy PciPolicy)
{
    public int DedicatedVcpus => Cells?.Sum(c => c.DedicatedVcpus.Count) ?? 0;

    public int SharedVcpus => Vcpus - DedicatedVcpus;

    /// <summary>pCPUs the emulator threads need of their own (one with emulator_threads_policy=isolate).</summary>
    public int EmulatorPcpus => EmulatorPolicy == EmulatorThreadsPolicy.Isolate ? 1 : 0;
}
