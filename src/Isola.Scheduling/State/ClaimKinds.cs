using Isola.Scheduling.Requests;

namespace Isola.Scheduling.State;

/// <summary>
/// One kind of resource a placement names, with the three things the fleet asks of it: is it free
/// to take (null, or why not), is it held now (null, or what is not), and take it or give it back.
/// </summary>
internal sealed record ClaimKind(
    Func<HostState, Placement, string?> Free,
    Func<HostState, Placement, string?> Held,
    Action<HostState, Placement, bool> Move);

/// <summary>
/// The kinds of resource a placement takes, in the order a claim checks them: shared vCPUs, each
/// guest cell's pCPUs and memory, the emulator's pCPU, floating memory, VFs, whole PFs.
/// <see cref="FleetState"/> walks this table to check, to verify a release, and to apply.
/// </summary>
internal static class ClaimKinds
{
    public static readonly ClaimKind[] All =
    [
        new(
            Free: (host, p) => p.FloatingVcpus > host.SharedUnitsFree ? "shared CPU capacity is gone" : null,
            Held: (host, p) => host.SharedUnitsFree + p.FloatingVcpus > host.SharedUnitsTotal ? "its shared vCPUs are not held" : null,
            Move: (host, p, take) => host.SharedUnitsFree += take ? -p.FloatingVcpus : p.FloatingVcpus),
        new(CellsFree, CellsHeld, MoveCells),
        new(EmulatorFree, EmulatorHeld, MoveEmulator),
        new(FloatingFree, (_, _) => null, MoveFloating),
        new(VfsFree, VfsHeld, MoveVfs),
        new(PfsFree, (host, p) => p.Pfs.Any(x => host.PoolOf(x.Pf) is not { PfTaken: true }) ? "a PF is not held" : null, MovePfs),
    ];

    private static IEnumerable<int> CpusOf(CellPlacement cell) => cell.Pins.Select(x => x.Pcpu).Concat(cell.ReservedSiblings);

    private static IEnumerable<int> EmulatorCpus(Placement p) => p.EmulatorPins.Concat(p.EmulatorReserved);

    // The guest's first cell holds the emulator pCPU; null when there is none.
    private static CellCpus? EmulatorCell(HostState host, Placement p) =>
        p.EmulatorPins.Count > 0 ? host.Cell(p.Cells![0].HostCell)?.Cpus : null;

    private static string? CellsFree(HostState host, Placement p)
    {
        foreach (var cell in p.Cells ?? [])
        {
            var state = host.Cell(cell.HostCell);
            if (state is null)
                return $"host cell {cell.HostCell} does not exist";
            var cpus = CpusOf(cell).ToList();
            if (cpus.Where(c => !state.Cpus.Contains(c)).ToList() is { Count: > 0 } unknown)
                return $"pCPU {Isola.Domain.Cpu.CpuSet.Of(unknown)} is not a pinnable CPU of host cell {cell.HostCell}";
            if (!state.Cpus.AllFree(cpus))
                return $"pCPUs of host cell {cell.HostCell} are taken";
            if (PagesFree(state, cell.PageSizeKiB, cell.MemMiB) is { } miss)
                return miss;
        }
        return null;
    }

    private static string? PagesFree(CellState cell, long pageSizeKiB, long mib) =>
        pageSizeKiB <= MemPageSize.SmallKiB
            ? cell.SmallFreeMiB >= mib ? null : $"memory of host cell {cell.Id} is gone"
            : (long)cell.FreePages(pageSizeKiB) * pageSizeKiB / 1024 >= mib ? null : $"hugepages of host cell {cell.Id} are gone";

    private static string? CellsHeld(HostState host, Placement p)
    {
        foreach (var cell in p.Cells ?? [])
        {
            var cpus = host.Cell(cell.HostCell)?.Cpus;
            if (cpus is null || CpusOf(cell).Any(cpus.IsFree))
                return $"pCPUs of host cell {cell.HostCell} are not held";
        }
        return null;
    }

    private static void MoveCells(HostState host, Placement p, bool take)
    {
        foreach (var cell in p.Cells ?? [])
        {
            var state = host.Cell(cell.HostCell)!;
            if (take)
            {
                state.Cpus.Take(CpusOf(cell));
                state.TakeMemory(cell.PageSizeKiB, cell.MemMiB);
            }
            else
            {
                state.Cpus.Free(CpusOf(cell));
                state.ReleaseMemory(cell.PageSizeKiB, cell.MemMiB);
            }
        }
    }

    private static string? EmulatorFree(HostState host, Placement p) =>
        EmulatorCell(host, p) is { } cpus && !cpus.AllFree(EmulatorCpus(p)) ? "the emulator pCPU is taken" : null;

    private static string? EmulatorHeld(HostState host, Placement p) =>
        p.EmulatorPins.Count > 0 && EmulatorCpus(p).Any(EmulatorCell(host, p)!.IsFree) ? "the emulator pCPU is not held" : null;

    private static void MoveEmulator(HostState host, Placement p, bool take)
    {
        if (EmulatorCell(host, p) is not { } cpus)
            return;
        if (take)
            cpus.Take(EmulatorCpus(p));
        else
            cpus.Free(EmulatorCpus(p));
    }

    private static string? FloatingFree(HostState host, Placement p)
    {
        foreach (var charge in p.FloatingMemory)
        {
            if ((host.Cell(charge.HostCell)?.SmallFreeMiB ?? 0) < charge.MiB)
                return $"memory of host cell {charge.HostCell} is gone";
        }
        return null;
    }

    private static void MoveFloating(HostState host, Placement p, bool take)
    {
        foreach (var charge in p.FloatingMemory)
        {
            var cell = host.Cell(charge.HostCell)!;
            if (take)
                cell.TakeMemory(MemPageSize.SmallKiB, charge.MiB);
            else
                cell.ReleaseMemory(MemPageSize.SmallKiB, charge.MiB);
        }
    }

    private static string? VfsFree(HostState host, Placement p)
    {
        foreach (var vf in p.Vfs)
        {
            var pool = host.PoolOf(vf.Pf);
            var slot = pool?.SlotOf(vf.Vf) ?? -1;
            if (pool is null || slot < 0)
                return $"VF {vf.Vf} is not an assignable VF of the host";
            if (!pool.IsFree(slot))
                return $"VF {vf.Vf} is taken";
        }
        return null;
    }

    private static string? VfsHeld(HostState host, Placement p)
    {
        foreach (var vf in p.Vfs)
        {
            var pool = host.PoolOf(vf.Pf);
            var slot = pool?.SlotOf(vf.Vf) ?? -1;
            if (pool is null || slot < 0 || pool.IsFree(slot))
                return $"VF {vf.Vf} is not held";
        }
        return null;
    }

    private static void MoveVfs(HostState host, Placement p, bool take)
    {
        foreach (var vf in p.Vfs)
        {
            var pool = host.PoolOf(vf.Pf)!;
            if (take)
                pool.Take(pool.SlotOf(vf.Vf));
            else
                pool.Release(pool.SlotOf(vf.Vf));
        }
    }

    private static string? PfsFree(HostState host, Placement p)
    {
        foreach (var pf in p.Pfs)
        {
            if (host.PoolOf(pf.Pf) is not { } pool)
                return $"PF {pf.Pf} is not an SR-IOV PF of the host on a physnet";
            if (!pool.WhollyFree)
                return $"PF {pf.Pf} is not wholly free";
        }
        return null;
    }

    private static void MovePfs(HostState host, Placement p, bool take)
    {
        foreach (var pf in p.Pfs)
        {
            var pool = host.PoolOf(pf.Pf)!;
            if (take)
                pool.TakePf();
            else
                pool.ReleasePf();
        }
    }
}
