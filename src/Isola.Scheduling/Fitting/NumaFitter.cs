using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Fitting;

/// <summary>
/// The exact fit of a request on one host. Each guest NUMA cell goes to a distinct host cell with
/// its pinned pCPUs (thread policy), its memory (page size) and, per pci_numa_affinity_policy, the
/// VFs of its ports. Every injective assignment of guest cells to host cells is tried (in
/// preference order, pruned by a per-pair fit table) before the host is rejected: a fit that
/// exists is found. Reads the host; changes nothing.
/// </summary>
public static class NumaFitter
{
    public static FitResult Fit(HostState host, RequestContext ctx)
    {
        if (ctx.FloatingVcpus > host.SharedUnitsFree)
            return new Rejection(RejectionCode.SharedCpus, $"{ctx.FloatingVcpus} shared vCPUs asked, {host.SharedUnitsFree} free");
        return ctx.Cells is null ? FitFloating(host, ctx) : FitNuma(host, ctx, ctx.Cells);
    }

    private static FitResult FitFloating(HostState host, RequestContext ctx)
    {
        if (host.SmallFreeMiB < ctx.FloatingMemMiB)
            return new Rejection(RejectionCode.Memory, $"{ctx.FloatingMemMiB} MiB asked, {host.SmallFreeMiB} MiB free");
        // Charge the memory to the cells with the most free first, so no cell is overdrawn.
        var charges = new List<MemoryCharge>();
        var left = ctx.FloatingMemMiB;
        foreach (var cell in host.Cells.OrderByDescending(c => c.SmallFreeMiB).ThenBy(c => c.Id))
        {
            var take = Math.Min(left, cell.SmallFreeMiB);
            if (take > 0)
                charges.Add(new MemoryCharge(cell.Id, take));
            left -= take;
        }
        var vfs = new List<VfAssignment>();
        var pfs = new List<PfAssignment>();
        Span<int> all = stackalloc int[host.Cells.Length];
        for (var i = 0; i < all.Length; i++)
            all[i] = host.Cells[i].Id;
        // Every bond on two adapters if that fits, else one card's two ports where a bond must.
        var share = 1.0;
        var rejection = ctx.PrefersDistinctAdapters ? VfAllocator.TryAllocate(host, ctx, all, vfs, pfs, out share, everyHaDistinct: true) : VfAllocator.NotTheLastWord;
        if (rejection is not null)
        {
            vfs.Clear();
            pfs.Clear();
            rejection = VfAllocator.TryAllocate(host, ctx, all, vfs, pfs, out share);
        }
        return rejection is not null ? rejection : HostFit.Of(host, ctx, null, [], [], charges, vfs, pfs, share);
    }

    private static FitResult FitNuma(HostState host, RequestContext ctx, IReadOnlyList<GuestCell> guest)
    {
        var cells = host.Cells;
        if (guest.Count > cells.Length)
            return new Rejection(RejectionCode.NumaCells, $"the guest has {guest.Count} cells, the host {cells.Length}");
        if (guest.Count == 1)
            return FitOneCell(host, ctx, guest);

        // fits[i, c]: page size guest cell i would use on host cell c, or 0 when it does not fit there.
        var pages = new long[guest.Count, cells.Length];
        for (var i = 0; i < guest.Count; i++)
        {
            Rejection? cellMiss = null;
            for (var c = 0; c < cells.Length; c++)
            {
                var (size, miss) = CellFit(host, cells[c], ctx, i, guest[i]);
                pages[i, c] = size;
                cellMiss ??= miss;
            }
            if (cellMiss is not null && !AnyFit(pages, i, cells.Length))
                return cellMiss;
        }

        var order = PreferredCellOrder(host, ctx);
        var share = 1.0;
        var assignment = new int[guest.Count];
        var used = new bool[cells.Length];
        Rejection? vfMiss = null;
        var vfs = new List<VfAssignment>();
        var pfs = new List<PfAssignment>();
        var triedSets = new HashSet<int>();
        // First a cell choice with every bond on two adapters, then one that takes one card's two ports where a bond must.
        for (var pass = ctx.PrefersDistinctAdapters ? 0 : 1; pass < 2; pass++)
        {
            triedSets.Clear();
            if (Search(0, everyHaDistinct: pass == 0))
                return Build(host, ctx, guest, assignment, pages, vfs, pfs, share);
        }
        return vfMiss ?? new Rejection(RejectionCode.NumaFit, $"each guest cell fits some host cell, but no {guest.Count} distinct host cells hold them all");

        bool Search(int i, bool everyHaDistinct)
        {
            if (i == guest.Count)
            {
                var mask = 0;
                foreach (var c in assignment)
                    mask |= 1 << c;
                // VFs depend only on which host cells the guest occupies, not on which guest cell is where.
                if (!triedSets.Add(mask))
                    return false;
                vfs.Clear();
                pfs.Clear();
                var hostCells = assignment.Select(c => cells[c].Id).ToArray();
                var miss = VfAllocator.TryAllocate(host, ctx, hostCells, vfs, pfs, out share, everyHaDistinct);
                if (!everyHaDistinct)
                    vfMiss ??= miss;
                return miss is null;
            }
            foreach (var c in order)
            {
                if (used[c] || pages[i, c] == 0)
                    continue;
                used[c] = true;
                assignment[i] = c;
                if (Search(i + 1, everyHaDistinct))
                    return true;
                used[c] = false;
            }
            return false;
        }
    }

    /// <summary>Whether guest cell <paramref name="i"/> fits host cell <paramref name="cell"/>: the page size it would use, or why not.</summary>
    private static (long PageSizeKiB, Rejection? Miss) CellFit(HostState host, CellState cell, RequestContext ctx, int i, GuestCell g)
    {
        var pins = ctx.PinsPerCell[i];
        var policy = ctx.Compute.ThreadPolicy;
        if (pins > 0 && !cell.Cpus.CanPin(pins, policy))
        {
            return policy == CpuThreadPolicy.Require && host.ThreadsPerCore == 1
                ? (0, new Rejection(RejectionCode.ThreadPolicy, "the host has no SMT"))
                : (0, new Rejection(RejectionCode.DedicatedCpus,
                    $"guest cell {i} pins {pins} pCPUs ({policy.ToString().ToLowerInvariant()}); best host cell has {host.Cells.Max(c => policy == CpuThreadPolicy.Prefer ? c.Cpus.FreeThreads : c.Cpus.FreeFullCores)} free {(policy == CpuThreadPolicy.Prefer ? "threads" : "whole cores")}"));
        }
        var size = PageSize(cell, ctx.Compute.PageSize, g.MemMiB);
        if (size > 0)
            return (size, null);
        var hugepages = ctx.Compute.PageSize.Kind is PageSizeKind.Explicit or PageSizeKind.Large;
        return (0, hugepages
            ? new Rejection(RejectionCode.Hugepages, $"guest cell {i} needs {g.MemMiB} MiB of {ctx.Compute.PageSize} pages")
            : new Rejection(RejectionCode.Memory, $"guest cell {i} needs {g.MemMiB} MiB; best host cell has {host.Cells.Max(c => c.SmallFreeMiB)} MiB free"));
    }

    /// <summary>The page size a guest cell of <paramref name="mib"/> would use on this host cell; 0 when none fits.</summary>
    public static long PageSize(CellState cell, MemPageSize request, long mib)
    {
        bool Huge(long size) => mib % (size / 1024) == 0 && (long)cell.FreePages(size) * size / 1024 >= mib;
        switch (request.Kind)
        {
            case PageSizeKind.Explicit:
                return Huge(request.SizeKiB) ? request.SizeKiB : 0;
            case PageSizeKind.Large or PageSizeKind.Any:
                for (var s = cell.PageSizesKiB.Length - 1; s >= 0; s--)
                {
                    if (Huge(cell.PageSizesKiB[s]))
                        return cell.PageSizesKiB[s];
                }
                return request.Kind == PageSizeKind.Any && cell.SmallFreeMiB >= mib ? MemPageSize.SmallKiB : 0;
            default:
                return cell.SmallFreeMiB >= mib ? MemPageSize.SmallKiB : 0;
        }
    }

    /// <summary>
    /// Host cells in the order to try: cells with free VFs on the request's physnets first (when its
    /// VFs must be NUMA-local), then by the strategy (spread: most free pCPUs; pack: fewest), then id.
    /// </summary>
    private static int[] PreferredCellOrder(HostState host, RequestContext ctx)
    {
        var n = host.Cells.Length;
        var order = new int[n];
        Span<long> vfs = stackalloc long[n];
        var localVfs = ctx.DevicePorts.Length > 0 && ctx.Compute.PciPolicy != PciNumaAffinityPolicy.Preferred;
        for (var c = 0; c < n; c++)
        {
            order[c] = c;
            if (!localVfs)
                continue;
            foreach (var pool in host.Pools)
            {
                if (pool.Cell == host.Cells[c].Id && ctx.VfDemand.ContainsKey(pool.Physnet))
                    vfs[c] += pool.Free;
            }
            vfs[c] = Math.Min(vfs[c], ctx.TotalVfs);
        }
        var pack = ctx.Request.Strategy == Strategy.Pack;
        // Insertion sort: a host has a handful of cells.
        for (var i = 1; i < n; i++)
        {
            var x = order[i];
            var j = i - 1;
            while (j >= 0 && Before(x, order[j], host, vfs, pack))
            {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = x;
        }
        return order;
    }

    private static bool Before(int a, int b, HostState host, ReadOnlySpan<long> vfs, bool pack)
    {
        if (vfs[a] != vfs[b])
            return vfs[a] > vfs[b];
        CellState ca = host.Cells[a], cb = host.Cells[b];
        if (ca.Cpus.FreeThreads != cb.Cpus.FreeThreads)
            return pack ? ca.Cpus.FreeThreads < cb.Cpus.FreeThreads : ca.Cpus.FreeThreads > cb.Cpus.FreeThreads;
        if (ca.SmallFreeMiB != cb.SmallFreeMiB)
            return pack ? ca.SmallFreeMiB < cb.SmallFreeMiB : ca.SmallFreeMiB > cb.SmallFreeMiB;
        return ca.Id < cb.Id;
    }

    private static bool AnyFit(long[,] pages, int i, int cells)
    {
        for (var c = 0; c < cells; c++)
        {
            if (pages[i, c] > 0)
                return true;
        }
        return false;
    }

    /// <summary>
    /// One guest cell: the first host cell, in preference order, that fits with its VFs — with every
    /// bond on two adapters if some cell allows that, else with one card's two ports where a bond must.
    /// </summary>
    private static FitResult FitOneCell(HostState host, RequestContext ctx, IReadOnlyList<GuestCell> guest)
    {
        var order = PreferredCellOrder(host, ctx);
        Rejection? cpuOrMemory = null;
        Rejection? vfMiss = null;
        List<VfAssignment>? vfs = null;
        List<PfAssignment>? pfs = null;
        Span<int> chosen = stackalloc int[1];
        // Page size per host cell: -1 until worked out, 0 when the guest cell does not fit there.
        Span<long> sizes = stackalloc long[host.Cells.Length];
        sizes.Fill(-1);
        for (var pass = ctx.PrefersDistinctAdapters ? 0 : 1; pass < 2; pass++)
        {
            foreach (var c in order)
            {
                // Pass 0 asks the VFs first: most cells fail it at once (one card there), before their CPUs are looked at.
                if (sizes[c] == 0 || (pass == 1 && !Fits(c, sizes, ref cpuOrMemory)))
                    continue;
                vfs ??= [];
                pfs ??= [];
                vfs.Clear();
                pfs.Clear();
                chosen[0] = host.Cells[c].Id;
                var vfRejection = VfAllocator.TryAllocate(host, ctx, chosen, vfs, pfs, out var share, everyHaDistinct: pass == 0);
                if (vfRejection is null && (pass == 1 || Fits(c, sizes, ref cpuOrMemory)))
                {
                    var pages = new long[1, host.Cells.Length];
                    pages[0, c] = sizes[c];
                    return Build(host, ctx, guest, [c], pages, vfs, pfs, share);
                }
                if (pass == 1)
                    vfMiss ??= vfRejection;
            }
        }
        return vfMiss ?? cpuOrMemory!;

        bool Fits(int c, Span<long> sizes, ref Rejection? cpuOrMemory)
        {
            if (sizes[c] < 0)
            {
                var (size, miss) = CellFit(host, host.Cells[c], ctx, 0, guest[0]);
                sizes[c] = size;
                cpuOrMemory ??= miss;
            }
            return sizes[c] > 0;
        }
    }

    private static HostFit Build(HostState host, RequestContext ctx, IReadOnlyList<GuestCell> guest, int[] assignment, long[,] pages,
        List<VfAssignment> vfs, List<PfAssignment> pfs, double share)
    {
        var placements = new List<CellPlacement>(guest.Count);
        var emulatorPins = new List<int>();
        var emulatorReserved = new List<int>();
        var policy = ctx.Compute.ThreadPolicy;
        int broken = 0, touched = 0;
        for (var i = 0; i < guest.Count; i++)
        {
            var cell = host.Cells[assignment[i]];
            var pinned = new List<int>(ctx.PinsPerCell[i]);
            var reserved = new List<int>();
            if (ctx.PinsPerCell[i] > 0 && !cell.Cpus.TryPick(ctx.PinsPerCell[i], policy, pinned, reserved))
                throw new InvalidOperationException("a cell that fit could not pick its pCPUs");
            (var b, var t) = cell.Cpus.CoreUse(pinned, reserved);
            broken += b;
            touched += t;
            var g = guest[i];
            if (i == 0 && ctx.Compute.EmulatorPcpus > 0)
            {
                var emulator = pinned[g.DedicatedVcpus.Count];
                emulatorPins.Add(emulator);
                foreach (var sibling in cell.Cpus.SiblingsOf(emulator))
                {
                    if (reserved.Remove(sibling))
                        emulatorReserved.Add(sibling);
                }
            }
            var pins = new List<VcpuPin>(g.DedicatedVcpus.Count);
            for (var k = 0; k < g.DedicatedVcpus.Count; k++)
                pins.Add(new VcpuPin(g.DedicatedVcpus[k], pinned[k]));
            placements.Add(new CellPlacement(g.Id, cell.Id, pins, reserved, g.SharedVcpus, g.MemMiB, pages[i, assignment[i]]));
        }
        return HostFit.Of(host, ctx, placements, emulatorPins, emulatorReserved, [], vfs, pfs, share, broken, touched);
    }
}
