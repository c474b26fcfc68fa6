using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Domain.Topology;

namespace Isola.Scheduling.State;

/// <summary>
/// What one host can still take, in the scheduler's memory. Mutated only by
/// <see cref="FleetState"/>'s claim and release; every change bumps <see cref="Generation"/>.
/// </summary>
public sealed class HostState
{
    private HostState(int index, string name, HostTopology topology, string? zone, IReadOnlySet<string> aggregates, CellState[] cells,
        int sharedUnits, VfPool[] pools, CpuSet dedicated)
    {
        Index = index;
        Name = name;
        Topology = topology;
        AvailabilityZone = zone;
        Aggregates = aggregates;
        Cells = cells;
        SharedUnitsTotal = SharedUnitsFree = sharedUnits;
        Pools = pools;
        DedicatedCpus = dedicated;
        Physnets = pools.Select(p => p.Physnet).Distinct().Order(StringComparer.Ordinal).ToArray();
        ThreadsPerCore = cells.Length == 0 ? 1 : cells.Max(c => c.Cpus.ThreadsPerCore);
    }

    public int Index { get; }

    public string Name { get; }

    public HostTopology Topology { get; }

    public string? AvailabilityZone { get; }

    public IReadOnlySet<string> Aggregates { get; }

    public long Generation { get; internal set; }

    /// <summary>Taken out of scheduling by an operator (what it holds stays).</summary>
    public bool Disabled { get; internal set; }

    /// <summary>Its agent reported once and has fallen silent: out of scheduling until it reports again (what it holds stays).</summary>
    public bool AgentDown { get; internal set; }

    /// <summary>
    /// Why the fleet cannot use what the store says of this host (a stored placement that does not fit
    /// its inventory, an inventory row that cannot be read); null when it can. Such a host takes no new
    /// servers and holds nothing in this view until the store's word for it fits again.
    /// </summary>
    public string? Unusable { get; internal set; }

    public CellState[] Cells { get; }

    public VfPool[] Pools { get; }

    public string[] Physnets { get; }

    /// <summary>The pCPUs guests may pin: the kernel's isolated CPUs, else all but the first core of each socket.</summary>
    public CpuSet DedicatedCpus { get; }

    /// <summary>Floating vCPU capacity: shared pCPUs times the allocation ratio.</summary>
    public int SharedUnitsTotal { get; }

    public int SharedUnitsFree { get; internal set; }

    public int ThreadsPerCore { get; }

    public int FreeDedicatedThreads
    {
        get
        {
            var n = 0;
            foreach (var cell in Cells)
                n += cell.Cpus.FreeThreads;
            return n;
        }
    }

    public int MaxCellFreeThreads
    {
        get
        {
            var max = 0;
            foreach (var cell in Cells)
                max = Math.Max(max, cell.Cpus.FreeThreads);
            return max;
        }
    }

    public long SmallFreeMiB
    {
        get
        {
            long n = 0;
            foreach (var cell in Cells)
                n += cell.SmallFreeMiB;
            return n;
        }
    }

    public int FreeVfs(string physnet, bool needNetDev)
    {
        var n = 0;
        foreach (var pool in Pools)
        {
            if (pool.Physnet == physnet)
                n += pool.Available(needNetDev);
        }
        return n;
    }

    public CellState? Cell(int id)
    {
        foreach (var cell in Cells)
        {
            if (cell.Id == id)
                return cell;
        }
        return null;
    }

    public VfPool? PoolOf(Isola.Domain.Pci.PciAddress pf)
    {
        foreach (var pool in Pools)
        {
            if (pool.Pf.Address == pf)
                return pool;
        }
        return null;
    }

    /// <summary>
    /// A host's capacity from its inventory: what the host has for guests, not what is free at the
    /// moment of discovery (the agent registers live discovery while the guests placed here run, and
    /// their hugepages and memory are in use then). Hugepages: each pool's <c>total</c>. Small-page
    /// memory per cell: <c>memTotalKiB</c> less the cell's hugepage pools less
    /// <see cref="SchedulingOptions.ReservedMemoryPerCellMiB"/> (the host's own share). Committed
    /// placements are then taken from it.
    /// </summary>
    /// <param name="heldVfs">VFs that committed placements hold: in their pools even though their MAC is set (Isola set it).</param>
    public static HostState Create(int index, string name, HostTopology topology, SchedulingOptions options, string? zone = null, IReadOnlySet<string>? aggregates = null,
        IReadOnlySet<PciAddress>? heldVfs = null)
    {
        var online = topology.Cpus.Where(c => c.Online).ToList();
        var (dedicated, shared) = HostCpuSets.Of(topology);
        var cells = topology.Cells.Select(cell =>
        {
            var cores = online.Where(c => c.Cell == cell.Id && dedicated.Contains(c.Id))
                .GroupBy(c => c.Siblings.ToString())
                .Select(g => (IReadOnlyList<int>)g.Select(c => c.Id).ToList());
            var pools = cell.Hugepages.Where(h => h.Total > 0).OrderBy(h => h.PageSizeKiB).ToList();
            var hugeMiB = pools.Sum(p => p.PageSizeKiB * p.Total) / 1024;
            var small = Math.Max(0, (cell.MemTotalKiB / 1024) - hugeMiB - options.ReservedMemoryPerCellMiB);
            return new CellState(cell.Id, cell.Socket, new CellCpus(cores), small,
                pools.Select(p => p.PageSizeKiB).ToArray(), pools.Select(p => p.Total).ToArray());
        }).ToArray();
        var vfPools = new List<VfPool>();
        foreach (var pf in topology.Devices.Where(d => d.Kind == DeviceKind.Network && d.Physnet is not null && d.Allowed))
        {
            // A VF whose MAC is already set is in use on the host by something Isola did not place.
            var vfs = pf.AssignableVfs.Where(v => v.State is null || v.State.Mac == VfState.ZeroMac || heldVfs?.Contains(v.Address) == true).ToList();
            var socket = pf.NumaNode is { } n ? topology.Cells.FirstOrDefault(c => c.Id == n)?.Socket ?? -1 : -1;
            vfPools.Add(new VfPool(vfPools.Count, pf, pf.Physnet!, socket, vfs));
        }
        return new HostState(index, name, topology, zone, aggregates ?? new HashSet<string>(), cells,
            (int)Math.Floor(shared.Count * options.CpuAllocationRatio), vfPools.ToArray(), dedicated);
    }

    /// <summary>The full free state, for checking that a release restores exactly what the claim took.</summary>
    public string Fingerprint() =>
        $"{SharedUnitsFree}#{string.Join('#', Cells.Select(c => c.Fingerprint()))}#{string.Join('#', Pools.Select(p => p.Fingerprint()))}";
}
