using Isola.Domain.Cpu;

namespace Isola.Domain.Topology;

/// <summary>One NUMA node (<c>/sys/devices/system/node/nodeN</c>).</summary>
/// <param name="Socket">The physical package its CPUs sit on; -1 for a cell without CPUs.</param>
/// <param name="MemTotalKiB">MemTotal from the node's meminfo.</param>
/// <param name="MemFreeKiB">MemFree from the node's meminfo.</param>
/// <param name="Distances">The node's <c>distance</c> row: distance to node 0, 1, ...</param>
public sealed record NumaCell(
    int Id,
    int Socket,
    CpuSet Cpus,
    long MemTotalKiB,
    long MemFreeKiB,
    IReadOnlyList<HugepagePool> Hugepages,
    IReadOnlyList<int> Distances);
