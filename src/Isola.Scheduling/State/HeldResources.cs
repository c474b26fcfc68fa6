using System.Globalization;
using Isola.Domain.Cpu;
using Isola.Domain.Topology;
using Isola.Scheduling.Requests;

namespace Isola.Scheduling.State;

/// <summary>Something committed placements hold that an inventory would not have.</summary>
/// <param name="Servers">The ids of the servers that hold it.</param>
/// <param name="Kind">What it is: <c>cell</c>, <c>pcpu</c>, <c>vf</c>, <c>pf</c>, <c>hugepages</c>, <c>memory</c>, <c>shared-cpus</c>, or <c>placement</c>.</param>
/// <param name="Item">Which: the pCPUs, the VF or PF address, the cell (and page size).</param>
/// <param name="Field">Where in the inventory document it is missing (<c>host.cpus</c>, <c>host.devices[0].vfs</c>, <c>host.cells[1].hugepages</c>).</param>
public sealed record HeldConflict(IReadOnlyList<string> Servers, string Kind, string Item, string Field, string Message);

/// <summary>
/// Whether a new inventory of a host still has what the servers placed on it hold: their cells and
/// pinned pCPUs, their VFs and whole PFs, their hugepages and memory per cell, their shared vCPUs.
/// A host's inventory may only change under its servers in ways that keep all of that.
/// </summary>
public static class HeldResources
{
    /// <summary>What <paramref name="held"/> (each server's id and its placement) holds that a host of <paramref name="inventory"/> lacks; empty when it has it all.</summary>
    public static IReadOnlyList<HeldConflict> Lacking(HostTopology inventory, IReadOnlyList<(string Id, Placement Placement)> held, SchedulingOptions options)
    {
        var placements = held.Select(h => h.Placement).ToList();
        var host = HostState.Create(0, inventory.Hostname, inventory, options, heldVfs: placements.SelectMany(p => p.Vfs.Select(v => v.Vf)).ToHashSet());
        var found = new List<HeldConflict>();
        // Memory by (cell, page size): who holds how much.
        var memory = new SortedDictionary<(int Cell, long PageKiB), List<(string Id, string Server, long MiB)>>();
        void Charge(int cell, long pageKiB, string id, string server, long mib)
        {
            if (!memory.TryGetValue((cell, pageKiB), out var list))
                memory[(cell, pageKiB)] = list = [];
            list.Add((id, server, mib));
        }
        foreach (var (id, p) in held)
        {
            var server = $"server {p.Server} ({id})";
            var cells = p.Cells ?? [];
            for (var i = 0; i < cells.Count; i++)
            {
                var cell = cells[i];
                var cpus = cell.Pins.Select(x => x.Pcpu).Concat(cell.ReservedSiblings);
                if (i == 0)
                    cpus = cpus.Concat(p.EmulatorPins).Concat(p.EmulatorReserved);
                if (host.Cell(cell.HostCell) is not { } state)
                {
                    found.Add(new([id], "cell", Num(cell.HostCell), "host.cells", $"{server} is placed on NUMA cell {cell.HostCell}, which the inventory lacks"));
                    continue;
                }
                var missing = cpus.Where(c => !state.Cpus.Contains(c)).ToList();
                if (missing.Count > 0)
                {
                    var set = CpuSet.Of(missing).ToString();
                    found.Add(new([id], "pcpu", set, "host.cpus",
                        $"{server} holds pCPU {set} of cell {cell.HostCell}, which the inventory lacks (not an online pinnable CPU of that cell)"));
                }
                Charge(cell.HostCell, cell.PageSizeKiB, id, server, cell.MemMiB);
            }
            foreach (var charge in p.FloatingMemory)
                Charge(charge.HostCell, MemPageSize.SmallKiB, id, server, charge.MiB);
            foreach (var vf in p.Vfs)
            {
                var pool = host.PoolOf(vf.Pf);
                if (pool is null)
                    found.Add(new([id], "vf", vf.Vf.ToString(), "host.devices",
                        $"{server} holds VF {vf.Vf} of PF {vf.Pf}, which the inventory lacks (no allowed SR-IOV PF there on a physnet)"));
                else if (pool.SlotOf(vf.Vf) < 0)
                    found.Add(new([id], "vf", vf.Vf.ToString(), $"{DeviceAt(inventory, vf.Pf)}.vfs",
                        $"{server} holds VF {vf.Vf} of PF {vf.Pf}, which the inventory lacks (not an assignable VF of that PF)"));
            }
            foreach (var pf in p.Pfs.Where(x => host.PoolOf(x.Pf) is null))
                found.Add(new([id], "pf", pf.Pf.ToString(), "host.devices", $"{server} holds PF {pf.Pf}, which the inventory lacks (no allowed SR-IOV PF there on a physnet)"));
        }
        foreach (var ((cellId, pageKiB), holders) in memory)
        {
            if (host.Cell(cellId) is not { } cell)
                continue; // said above
            var want = holders.Sum(h => h.MiB);
            var small = pageKiB <= MemPageSize.SmallKiB;
            var have = small ? cell.SmallFreeMiB : (long)cell.FreePages(pageKiB) * pageKiB / 1024;
            if (want <= have)
                continue;
            var who = string.Join(", ", holders.GroupBy(h => h.Server).Select(g => $"{g.Key} {g.Sum(h => h.MiB)} MiB"));
            var at = CellAt(inventory, cellId);
            found.Add(small
                ? new(Servers(holders), "memory", $"cell {cellId}", $"{at}.memTotalKiB",
                    $"servers hold {want} MiB of small-page memory on cell {cellId} ({who}); the inventory has {have} MiB for guests there")
                : new(Servers(holders), "hugepages", $"cell {cellId} {PageName(pageKiB)}", $"{at}.hugepages",
                    $"servers hold {want * 1024 / pageKiB} {PageName(pageKiB)} pages on cell {cellId} ({who}); the inventory has {cell.FreePages(pageKiB)}"));
        }
        var floating = held.Where(h => h.Placement.FloatingVcpus > 0).ToList();
        var shared = floating.Sum(h => h.Placement.FloatingVcpus);
        if (shared > host.SharedUnitsTotal)
            found.Add(new(floating.Select(h => h.Id).Distinct().ToList(), "shared-cpus", Num(shared), "host.cpus",
                $"servers hold {shared} shared vCPUs ({string.Join(", ", floating.Select(h => $"server {h.Placement.Server} ({h.Id}): {h.Placement.FloatingVcpus}"))}); the inventory's shared CPUs take {host.SharedUnitsTotal}"));
        // The fleet's own test is the last word: whatever it refuses that is not named above (two placements naming one pCPU).
        if (found.Count == 0 && FleetState.Misfit(inventory, placements, options) is { } misfit)
            found.Add(new(held.Select(h => h.Id).Distinct().ToList(), "placement", "", "host", misfit));
        return found;
    }

    private static List<string> Servers(List<(string Id, string Server, long MiB)> holders) => holders.Select(h => h.Id).Distinct().ToList();

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string PageName(long kib) => kib >= 1048576 && kib % 1048576 == 0 ? $"{kib / 1048576}G" : $"{kib / 1024}M";

    private static string CellAt(HostTopology inventory, int id)
    {
        for (var i = 0; i < inventory.Cells.Count; i++)
        {
            if (inventory.Cells[i].Id == id)
                return $"host.cells[{i}]";
        }
        return "host.cells";
    }

    private static string DeviceAt(HostTopology inventory, Isola.Domain.Pci.PciAddress pf)
    {
        for (var i = 0; i < inventory.Devices.Count; i++)
        {
            if (inventory.Devices[i].Address == pf)
                return $"host.devices[{i}]";
        }
        return "host.devices";
    }
}
