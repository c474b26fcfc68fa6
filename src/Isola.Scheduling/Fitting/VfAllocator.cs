using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Fitting;

/// <summary>
/// Chooses the VFs and PFs of a request's SR-IOV ports on one host, given the host cells the guest
/// occupies. Balance rule: take from the pool with the most free VFs (ties: lowest PF address);
/// an HA bond takes one VF from each of the two best pools, which are on distinct PFs by
/// construction; a direct-physical port takes a wholly free PF, the smallest. Runs for every
/// candidate host, so it allocates nothing but its answer.
/// </summary>
internal static class VfAllocator
{
    /// <remarks>
    /// Taking HA pairs from the two pools with most free VFs, then single VFs, is exact: if any
    /// choice of pools works, it does. Preferring the guest's cells first (policy preferred) is not
    /// always, so that order is tried first and the count order after it.
    /// </remarks>
    /// <param name="freeShare">The mean share of free VFs in the pools the VFs came from, before taking (for VF balance).</param>
    public static Rejection? TryAllocate(HostState host, RequestContext ctx, ReadOnlySpan<int> guestHostCells,
        List<VfAssignment> vfs, List<PfAssignment> pfs, out double freeShare)
    {
        freeShare = 1;
        if (ctx.DevicePorts.Length == 0)
            return null;
        var policy = ctx.Compute.Cells is null ? PciNumaAffinityPolicy.Preferred : ctx.Compute.PciPolicy;
        if (ctx.Compute.Cells is not null && policy == PciNumaAffinityPolicy.Preferred &&
            Allocate(host, ctx, guestHostCells, policy, localityFirst: true, vfs, pfs, out freeShare) is null)
            return null;
        vfs.Clear();
        pfs.Clear();
        return Allocate(host, ctx, guestHostCells, policy, localityFirst: false, vfs, pfs, out freeShare);
    }

    /// <summary>The VF slots this request has taken so far, per pool: never the same VF twice.</summary>
    private ref struct Taken(Span<int> pools, Span<int> slots)
    {
        private readonly Span<int> _pools = pools;
        private readonly Span<int> _slots = slots;
        private int _count;

        public readonly bool Contains(int pool, int slot)
        {
            for (var i = 0; i < _count; i++)
            {
                if (_pools[i] == pool && _slots[i] == slot)
                    return true;
            }
            return false;
        }

        /// <summary>Taken slots of the pool a port of this kind could have used.</summary>
        public readonly int Suitable(VfPool pool, bool needNetDev)
        {
            var n = 0;
            for (var i = 0; i < _count; i++)
            {
                if (_pools[i] == pool.Id && (!needNetDev || pool.Vfs[_slots[i]].NetDev is not null))
                    n++;
            }
            return n;
        }

        public readonly int InPool(int pool)
        {
            var n = 0;
            for (var i = 0; i < _count; i++)
                n += _pools[i] == pool ? 1 : 0;
            return n;
        }

        public void Add(int pool, int slot)
        {
            _pools[_count] = pool;
            _slots[_count] = slot;
            _count++;
        }
    }

    private static Rejection? Allocate(HostState host, RequestContext ctx, ReadOnlySpan<int> cells, PciNumaAffinityPolicy policy,
        bool localityFirst, List<VfAssignment> vfs, List<PfAssignment> pfs, out double freeShare)
    {
        var pools = host.Pools;
        var most = Math.Max(2, ctx.TotalVfs);
        var taken = new Taken(most <= 64 ? stackalloc int[most] : new int[most], most <= 64 ? stackalloc int[most] : new int[most]);
        Span<bool> pfTaken = pools.Length <= 64 ? stackalloc bool[pools.Length] : new bool[pools.Length];
        var sockets = 0UL;
        foreach (var c in cells)
        {
            if (host.Cell(c) is { Socket: >= 0 and < 64 } cell)
                sockets |= 1UL << cell.Socket;
        }
        var shareSum = 0.0;
        freeShare = 1;
        foreach (var port in ctx.DevicePorts)
        {
            var physnet = port.Physnet!;
            var needNetDev = port.VnicType == VnicType.Macvtap;
            int onPhysnet = 0, allowed = 0, best = -1, second = -1, whole = -1, bestFree = 0, secondFree = 0;
            var freeOnPhysnet = false;
            for (var i = 0; i < pools.Length; i++)
            {
                var p = pools[i];
                if (p.Physnet != physnet)
                    continue;
                onPhysnet++;
                var free = pfTaken[i] ? 0 : p.Available(needNetDev) - taken.Suitable(p, needNetDev);
                freeOnPhysnet |= free > 0;
                if (!Allowed(p, policy, cells, sockets))
                    continue;
                allowed++;
                if (port.VnicType == VnicType.DirectPhysical)
                {
                    if (p.WhollyFree && taken.InPool(i) == 0 && !pfTaken[i] && (whole < 0 || WholeBefore(p, pools[whole], ctx.MacvtapPhysnets.Contains(physnet))))
                        whole = i;
                    continue;
                }
                if (free <= 0)
                    continue;
                if (best < 0 || Better(pools, cells, localityFirst, i, free, best, bestFree))
                {
                    (second, secondFree) = (best, bestFree);
                    (best, bestFree) = (i, free);
                }
                else if (second < 0 || Better(pools, cells, localityFirst, i, free, second, secondFree))
                {
                    (second, secondFree) = (i, free);
                }
            }
            if (onPhysnet == 0)
                return new Rejection(RejectionCode.NoPhysnet, $"no PF on {physnet} (port {port.Name})");
            if (port.VnicType == VnicType.Vdpa)
                return new Rejection(RejectionCode.NoVdpaDevice, $"no vDPA device on {physnet} (port {port.Name})");
            if (port.VnicType == VnicType.DirectPhysical)
            {
                if (whole < 0)
                    return new Rejection(RejectionCode.NoFreePf, $"no wholly free PF on {physnet} (port {port.Name})");
                pfTaken[whole] = true;
                var pool = pools[whole];
                pfs.Add(new PfAssignment(port.Name, physnet, pool.Pf.Address, pool.Pf.NetDev, pool.Cell));
                continue;
            }
            var found = (best >= 0 ? 1 : 0) + (second >= 0 ? 1 : 0);
            var need = port.Ha ? 2 : 1;
            if (found < need)
            {
                if (found == 0 && freeOnPhysnet && allowed < onPhysnet)
                    return new Rejection(RejectionCode.VfNumaAffinity, $"free VFs on {physnet} are outside the guest's NUMA cells (port {port.Name}, {policy.ToString().ToLowerInvariant()})");
                return port.Ha && found == 1
                    ? new Rejection(RejectionCode.HaDistinctPfs, $"only {pools[best].Pf.NetDev} has a free VF on {physnet} (HA port {port.Name})")
                    : new Rejection(RejectionCode.NoFreeVf, $"no free VF on {physnet} (port {port.Name})");
            }
            shareSum += Take(pools[best], bestFree, ref taken, port, needNetDev, vfs);
            if (need == 2)
                shareSum += Take(pools[second], secondFree, ref taken, port, needNetDev, vfs);
        }
        freeShare = vfs.Count == 0 ? 1 : shareSum / vfs.Count;
        return null;
    }

    /// <summary>
    /// Takes the pool's next free VF for the port, lowest index first; a port that needs no host
    /// netdev takes one without a netdev when there is one, leaving those with a netdev to macvtap
    /// ports. Returns the pool's free share before.
    /// </summary>
    private static double Take(VfPool pool, int free, ref Taken taken, PortRequest port, bool needNetDev, List<VfAssignment> vfs)
    {
        var share = (double)free / pool.Vfs.Count;
        var slot = -1;
        for (var pass = needNetDev ? 1 : 0; pass < 2 && slot < 0; pass++)
        {
            for (var i = 0; i < pool.Vfs.Count && slot < 0; i++)
            {
                var hasNetDev = pool.Vfs[i].NetDev is not null;
                if (pool.IsFree(i) && !taken.Contains(pool.Id, i) && (pass == 1 ? !needNetDev || hasNetDev : !hasNetDev))
                    slot = i;
            }
        }
        taken.Add(pool.Id, slot);
        var vf = pool.Vfs[slot];
        vfs.Add(new VfAssignment(port.Name, port.Physnet!, pool.Pf.Address, pool.Pf.NetDev, pool.Cell, vf.Address, vf.Index, port.Mac));
        return share;
    }

    /// <summary>
    /// Which wholly free PF a direct-physical port takes: not one whose VFs have host netdevs when
    /// macvtap ports of the request need those; then the one with the fewest VFs; then the lowest address.
    /// </summary>
    private static bool WholeBefore(VfPool a, VfPool b, bool keepNetDevs)
    {
        if (keepNetDevs && (a.FreeWithNetDev > 0) != (b.FreeWithNetDev > 0))
            return a.FreeWithNetDev == 0;
        return a.Vfs.Count != b.Vfs.Count ? a.Vfs.Count < b.Vfs.Count : a.Pf.Address < b.Pf.Address;
    }

    /// <summary>Whether pool <paramref name="a"/> comes before <paramref name="b"/>: (local first,) more free, lower PF address.</summary>
    private static bool Better(VfPool[] pools, ReadOnlySpan<int> cells, bool localityFirst, int a, int freeA, int b, int freeB)
    {
        if (localityFirst)
        {
            var la = pools[a].Cell is { } ca && cells.IndexOf(ca) >= 0;
            var lb = pools[b].Cell is { } cb && cells.IndexOf(cb) >= 0;
            if (la != lb)
                return la;
        }
        return freeA != freeB ? freeA > freeB : pools[a].Pf.Address < pools[b].Pf.Address;
    }

    private static bool Allowed(VfPool pool, PciNumaAffinityPolicy policy, ReadOnlySpan<int> cells, ulong sockets) => policy switch
    {
        PciNumaAffinityPolicy.Required => pool.Cell is { } c && cells.IndexOf(c) >= 0,
        PciNumaAffinityPolicy.Legacy => pool.Cell is not { } c2 || cells.IndexOf(c2) >= 0,
        PciNumaAffinityPolicy.Socket => pool.Socket is >= 0 and < 64 && (sockets & (1UL << pool.Socket)) != 0,
        _ => true,
    };
}
