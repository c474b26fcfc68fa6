using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Tests.Scheduling;

/// <summary>
/// Says whether a request fits a host by trying everything: every injective map of guest cells
/// to host cells and every choice of pools for every VF. Written apart from the scheduler, from the
/// rules alone, so the two can disagree: a port's pools are those of its physnet the NUMA policy
/// allows whose PF driver can do what it needs (the shared table); an HA port's two pools differ,
/// and are on two adapters (PCI domain:bus:device) when it demands so.
/// </summary>
internal static class BruteForceOracle
{
    /// <param name="everyHaDistinct">Whether it fits with every HA port's legs on two adapters, demanded or not.</param>
    public static bool Fits(HostState host, PlacementRequest request, bool everyHaDistinct = false)
    {
        var c = request.Compute;
        if (c.SharedVcpus > host.SharedUnitsFree)
            return false;
        if (c.Cells is null)
            return host.Cells.Sum(x => x.SmallFreeMiB) >= c.RamMiB && VfsFit(host, request, host.Cells.Select(x => x.Id).ToList(), anyCell: true, everyHaDistinct);
        var cells = c.Cells;
        if (cells.Count > host.Cells.Length)
            return false;
        foreach (var map in Permutations(Enumerable.Range(0, host.Cells.Length).ToList(), cells.Count))
        {
            var ok = true;
            for (var i = 0; i < cells.Count && ok; i++)
            {
                var pins = cells[i].DedicatedVcpus.Count + (i == 0 ? c.EmulatorPcpus : 0);
                ok = CpusFit(host, host.Cells[map[i]].Id, pins, c.ThreadPolicy) && MemoryFits(host.Cells[map[i]], c.PageSize, cells[i].MemMiB);
            }
            if (ok && VfsFit(host, request, map.Select(m => host.Cells[m].Id).ToList(), anyCell: false, everyHaDistinct))
                return true;
        }
        return false;
    }

    private static bool CpusFit(HostState host, int cellId, int pins, CpuThreadPolicy policy)
    {
        if (pins == 0)
            return true;
        var topo = host.Topology;
        var cell = host.Cell(cellId)!;
        var dedicated = topo.Cpus.Where(x => x.Cell == cellId && host.DedicatedCpus.Contains(x.Id)).ToList();
        var free = dedicated.Count(x => cell.Cpus.IsFree(x.Id));
        var cores = dedicated.GroupBy(x => x.Siblings.ToString()).ToList();
        var fullCores = cores.Count(g => g.All(x => cell.Cpus.IsFree(x.Id)));
        // require: threads of whole free cores that have (pinnable) siblings.
        var smtThreads = cores.Where(g => g.Count() > 1 && g.All(x => cell.Cpus.IsFree(x.Id))).Sum(g => g.Count());
        return policy switch
        {
            CpuThreadPolicy.Isolate => fullCores >= pins,
            CpuThreadPolicy.Require => smtThreads >= pins,
            _ => free >= pins,
        };
    }

    private static bool MemoryFits(CellState cell, MemPageSize size, long mib)
    {
        bool Huge(long kib) => mib % (kib / 1024) == 0 && (long)cell.FreePages(kib) * kib / 1024 >= mib;
        return size.Kind switch
        {
            PageSizeKind.Explicit => Huge(size.SizeKiB),
            PageSizeKind.Large => cell.PageSizesKiB.Any(Huge),
            PageSizeKind.Any => cell.PageSizesKiB.Any(Huge) || cell.SmallFreeMiB >= mib,
            _ => cell.SmallFreeMiB >= mib,
        };
    }

    private static bool VfsFit(HostState host, PlacementRequest request, List<int> guestCells, bool anyCell, bool everyHaDistinct)
    {
        var policy = anyCell ? PciNumaAffinityPolicy.Preferred : request.Compute.PciPolicy;
        var sockets = guestCells.Select(id => host.Cell(id)!.Socket).ToHashSet();
        bool Allowed(VfPool p) => policy switch
        {
            PciNumaAffinityPolicy.Required => p.Cell is { } c && guestCells.Contains(c),
            PciNumaAffinityPolicy.Legacy => p.Cell is null || guestCells.Contains(p.Cell.Value),
            PciNumaAffinityPolicy.Socket => p.Cell is { } c2 && sockets.Contains(host.Cell(c2)!.Socket),
            _ => true,
        };
        var ports = request.Ports.Where(p => p.NeedsDevice).ToList();
        var used = new int[host.Pools.Length];
        var whole = new bool[host.Pools.Length];
        return Choose(0);

        bool Choose(int k)
        {
            if (k == ports.Count)
                return true;
            var port = ports[k];
            var pools = host.Pools.Where(p => p.Physnet == port.Physnet && Allowed(p) && VfDriverCapabilities.For(p.Pf.Driver).Can(port.Needs)).ToList();
            var distinct = port.HaDistinctAdapters || everyHaDistinct;
            if (port.VnicType == VnicType.DirectPhysical)
            {
                foreach (var p in pools.Where(p => p.WhollyFree && used[p.Id] == 0 && !whole[p.Id]))
                {
                    whole[p.Id] = true;
                    if (Choose(k + 1))
                        return true;
                    whole[p.Id] = false;
                }
                return false;
            }
            // The scenarios' pools are uniform (all VFs with a host netdev, or all on vfio-pci), so a count per pool is exact.
            var needNetDev = port.VnicType == VnicType.Macvtap;
            bool Has(VfPool p) => !p.PfTaken && !whole[p.Id] && (needNetDev ? p.FreeWithNetDev : p.Free) - used[p.Id] > 0;
            if (!port.Ha)
            {
                foreach (var p in pools.Where(Has))
                {
                    used[p.Id]++;
                    if (Choose(k + 1))
                        return true;
                    used[p.Id]--;
                }
                return false;
            }
            foreach (var a in pools.Where(Has))
            {
                foreach (var b in pools.Where(b => b.Id > a.Id && Has(b) && !(distinct && OneCard(a, b))))
                {
                    used[a.Id]++;
                    used[b.Id]++;
                    if (Choose(k + 1))
                        return true;
                    used[a.Id]--;
                    used[b.Id]--;
                }
            }
            return false;
        }
    }

    private static bool OneCard(VfPool a, VfPool b) =>
        (a.Pf.Address.Domain, a.Pf.Address.Bus, a.Pf.Address.Device) == (b.Pf.Address.Domain, b.Pf.Address.Bus, b.Pf.Address.Device);

    private static IEnumerable<int[]> Permutations(List<int> items, int k)
    {
        if (k == 0)
        {
            yield return [];
            yield break;
        }
        foreach (var first in items)
        {
            foreach (var rest in Permutations(items.Where(i => i != first).ToList(), k - 1))
                yield return [first, .. rest];
        }
    }

    /// <summary>The pCPUs of the host's cell <paramref name="cell"/> that may be pinned.</summary>
    public static CpuSet DedicatedOn(HostState host, int cell) =>
        CpuSet.Of(host.Topology.Cpus.Where(x => x.Cell == cell && host.DedicatedCpus.Contains(x.Id)).Select(x => x.Id));
}
