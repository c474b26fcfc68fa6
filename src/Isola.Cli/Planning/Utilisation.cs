using Isola.Scheduling.State;

namespace Isola.Cli.Planning;

/// <summary>How full a host is: pinnable pCPUs, shared capacity, hugepages and VFs, per cell and per PF.</summary>
internal sealed record HostUtilisation(
    string Host,
    string? Zone,
    int PinnedUsed,
    int PinnedTotal,
    int SharedUsed,
    int SharedTotal,
    IReadOnlyList<CellUtilisation> Cells,
    IReadOnlyList<PfUtilisation> Pfs)
{
    public static HostUtilisation Of(HostState h) => new(
        h.Name, h.AvailabilityZone,
        h.DedicatedCpus.Count - h.FreeDedicatedThreads, h.DedicatedCpus.Count,
        h.SharedUnitsTotal - h.SharedUnitsFree, h.SharedUnitsTotal,
        h.Cells.Select(c =>
        {
            var topo = h.Topology.Cells.First(x => x.Id == c.Id);
            return new CellUtilisation(c.Id, c.Cpus.TotalThreads - c.Cpus.FreeThreads, c.Cpus.TotalThreads,
                c.PageSizesKiB.Select(size =>
                {
                    var total = topo.Hugepages.First(p => p.PageSizeKiB == size).Total;
                    return new PageUtilisation(size, total - c.FreePages(size), total);
                }).ToList(), c.SmallFreeMiB);
        }).ToList(),
        h.Pools.Select(p => new PfUtilisation(p.Pf.Address.ToString(), p.Pf.NetDev, p.Physnet, p.Cell,
            p.PfTaken ? p.Vfs.Count : p.Vfs.Count - p.Free, p.Vfs.Count, p.PfTaken)).ToList());
}

internal sealed record CellUtilisation(int Cell, int PinnedUsed, int PinnedTotal, IReadOnlyList<PageUtilisation> Hugepages, long SmallFreeMiB);

/// <summary>Pages of one size: used by placements, of the cell's pool (the inventory's total).</summary>
internal sealed record PageUtilisation(long PageSizeKiB, int Used, int Total);

internal sealed record PfUtilisation(string Pf, string? NetDev, string Physnet, int? Cell, int VfsUsed, int VfsTotal, bool WholePfTaken);
