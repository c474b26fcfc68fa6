using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Fitting;

/// <summary>
/// Chooses the VFs and PFs of a request's SR-IOV ports on one host, given the host cells the guest
/// occupies. A port may use the pools of its physnet that the NUMA policy allows and whose PF
/// driver can do what the port needs. Balance rule: take from the pool with the most free VFs
/// (ties: lowest PF address); an HA bond takes one VF from each of two pools (distinct PFs),
/// preferring two adapters over two ports of one card; a direct-physical port takes a wholly free
/// PF, the smallest. Runs for every candidate host, so it allocates nothing but its answer.
/// </summary>
internal static class VfAllocator
{
    /// <summary>
    /// The most pool choices one request tries, over every host it looks at (about 1 µs each).
    /// After that each host gets the first choices only (the greedy walk), so a request with many
    /// SR-IOV ports that fits nowhere cannot hold the scheduler.
    /// </summary>
    internal const int SearchBudget = 1 << 14;

    /// <summary>The answer of a try that is not the last word (every bond on two adapters did not fit): never shown.</summary>
    internal static readonly Rejection NotTheLastWord = new(RejectionCode.NoFreeVf, "");

    /// <remarks>
    /// The ports are placed in <see cref="RequestContext.DevicePorts"/> order, each taking its best
    /// choice; when a later port then finds nothing, the earlier ports' next choices are tried, so
    /// if any choice of pools works, one is found (within the request's <see cref="SearchBudget"/>).
    /// </remarks>
    /// <param name="everyHaDistinct">Every HA port's legs on two adapters, not only those that demand it:
    /// the fitter first asks this of every cell choice, then (when none fits) takes one card's two
    /// ports where it must. A miss then is not the last word and carries no reason.</param>
    /// <param name="freeShare">The mean share of free VFs in the pools the VFs came from, before taking (for VF balance).</param>
    public static Rejection? TryAllocate(HostState host, RequestContext ctx, ReadOnlySpan<int> guestHostCells,
        List<VfAssignment> vfs, List<PfAssignment> pfs, out double freeShare, bool everyHaDistinct = false)
    {
        freeShare = 1;
        if (ctx.DevicePorts.Length == 0)
            return null;
        var policy = ctx.Compute.Cells is null ? PciNumaAffinityPolicy.Preferred : ctx.Compute.PciPolicy;
        var localityFirst = ctx.Compute.Cells is not null && policy == PciNumaAffinityPolicy.Preferred;
        return Allocate(host, ctx, guestHostCells, policy, localityFirst, everyHaDistinct && ctx.PrefersDistinctAdapters, vfs, pfs, out freeShare);
    }

    private static Rejection? Allocate(HostState host, RequestContext ctx, ReadOnlySpan<int> cells, PciNumaAffinityPolicy policy,
        bool localityFirst, bool everyHaDistinct, List<VfAssignment> vfs, List<PfAssignment> pfs, out double freeShare)
    {
        freeShare = 1;
        var pools = host.Pools;
        var sockets = 0UL;
        foreach (var c in cells)
        {
            if (host.Cell(c) is { Socket: >= 0 and < 64 } cell)
                sockets |= 1UL << cell.Socket;
        }
        var rules = new PoolRules(pools, cells, policy, sockets);
        foreach (var port in ctx.DevicePorts)
        {
            if (rules.Precheck(port, port.HaDistinctAdapters || (everyHaDistinct && port.Ha)) is { } code)
                return everyHaDistinct ? NotTheLastWord : rules.Explain(code, port);
        }
        var most = Math.Max(2, ctx.TotalVfs);
        var taken = new Taken(most <= 64 ? stackalloc int[most] : new int[most], most <= 64 ? stackalloc int[most] : new int[most]);
        Span<double> shares = most <= 64 ? stackalloc double[most] : new double[most];
        Span<bool> pfTaken = pools.Length <= 64 ? stackalloc bool[pools.Length] : new bool[pools.Length];
        var search = new Search(rules, ctx, localityFirst, everyHaDistinct, taken, pfTaken, shares, vfs, pfs);
        if (!search.Place(0))
            return everyHaDistinct ? NotTheLastWord : search.Miss ?? NotTheLastWord;
        var sum = 0.0;
        for (var i = 0; i < vfs.Count; i++)
            sum += shares[i];
        freeShare = vfs.Count == 0 ? 1 : sum / vfs.Count;
        return null;
    }

    /// <summary>The depth-first walk over the ports: each takes its best choice first, the next ones after a later port fails.</summary>
    private ref struct Search(PoolRules rules, RequestContext ctx, bool localityFirst, bool everyHaDistinct, Taken taken, Span<bool> pfTaken,
        Span<double> shares, List<VfAssignment> vfs, List<PfAssignment> pfs)
    {
        private readonly PoolRules _rules = rules;
        private readonly RequestContext _ctx = ctx;
        private readonly PortRequest[] _ports = ctx.DevicePorts;
        private readonly Span<bool> _pfTaken = pfTaken;
        private readonly Span<double> _shares = shares;
        private Taken _taken = taken;

        /// <summary>Why the first choice failed (the best choices' first dead end): what the host is short of.</summary>
        public Rejection? Miss { get; private set; }

        public bool Place(int k)
        {
            if (k == _ports.Length)
                return true;
            var port = _ports[k];
            var pools = _rules.Pools;
            Span<int> order = pools.Length <= 64 ? stackalloc int[pools.Length] : new int[pools.Length];
            Span<int> free = pools.Length <= 64 ? stackalloc int[pools.Length] : new int[pools.Length];
            if (port.Kind.Device == PortDevice.WholePf)
                return PlaceWhole(k, port, order);
            var needNetDev = port.Kind.NeedsNetDev;
            var n = 0;
            for (var i = 0; i < pools.Length; i++)
            {
                var p = pools[i];
                if (!_rules.Usable(p, port))
                    continue;
                var f = _pfTaken[i] ? 0 : p.Available(needNetDev) - _taken.Suitable(p, needNetDev);
                if (f <= 0)
                    continue;
                // Insertion in preference order: a host has a handful of pools.
                var j = n++;
                while (j > 0 && Better(pools, _rules.Cells, localityFirst, i, f, order[j - 1], free[j - 1]))
                {
                    order[j] = order[j - 1];
                    free[j] = free[j - 1];
                    j--;
                }
                (order[j], free[j]) = (i, f);
            }
            if (!port.Ha)
            {
                if (n == 0)
                    Miss ??= _rules.Short(port, 0);
                for (var c = 0; c < n && _ctx.TakeChoice(first: c == 0); c++)
                {
                    Take(pools[order[c]], free[c], port, needNetDev);
                    if (Place(k + 1))
                        return true;
                    Untake();
                }
                return false;
            }
            var distinct = port.HaDistinctAdapters || everyHaDistinct;
            var pairs = 0;
            var stop = false;
            // Pass 0: the two legs on two adapters; pass 1: two ports of one adapter, when the port allows it.
            for (var pass = 0; pass < (distinct ? 1 : 2) && !stop; pass++)
            {
                for (var a = 0; a < n && !stop; a++)
                {
                    for (var b = a + 1; b < n && !stop; b++)
                    {
                        var same = pools[order[a]].Pf.Address.SameAdapterAs(pools[order[b]].Pf.Address);
                        if (same != (pass == 1))
                            continue;
                        if (!_ctx.TakeChoice(first: pairs++ == 0))
                        {
                            stop = true;
                            break;
                        }
                        Take(pools[order[a]], free[a], port, needNetDev);
                        Take(pools[order[b]], free[b], port, needNetDev);
                        if (Place(k + 1))
                            return true;
                        Untake();
                        Untake();
                    }
                }
            }
            if (pairs == 0)
                Miss ??= n >= 2 ? _rules.OneAdapter(port) : _rules.Short(port, n, n == 1 ? pools[order[0]] : null);
            return false;
        }

        /// <summary>A direct-physical port: a wholly free PF, in <see cref="WholeBefore"/> order.</summary>
        private bool PlaceWhole(int k, PortRequest port, scoped Span<int> order)
        {
            var pools = _rules.Pools;
            var keepNetDevs = false;
            foreach (var other in _ports)
                keepNetDevs |= other.Kind.NeedsNetDev && other.Physnet == port.Physnet;
            var n = 0;
            for (var i = 0; i < pools.Length; i++)
            {
                var p = pools[i];
                if (!_rules.Usable(p, port) || !p.WhollyFree || _pfTaken[i] || _taken.InPool(i) > 0)
                    continue;
                var j = n++;
                while (j > 0 && WholeBefore(p, pools[order[j - 1]], keepNetDevs))
                {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = i;
            }
            if (n == 0)
                Miss ??= new Rejection(RejectionCode.NoFreePf, $"no wholly free PF on {port.Physnet} (port {port.Name})");
            for (var c = 0; c < n && _ctx.TakeChoice(first: c == 0); c++)
            {
                var pool = pools[order[c]];
                _pfTaken[order[c]] = true;
                pfs.Add(new PfAssignment(port.Name, port.Physnet!, pool.Pf.Address, pool.Pf.NetDev, pool.Cell));
                if (Place(k + 1))
                    return true;
                pfs.RemoveAt(pfs.Count - 1);
                _pfTaken[order[c]] = false;
            }
            return false;
        }

        /// <summary>
        /// Takes the pool's next free VF for the port, lowest index first; a port that needs no host
        /// netdev takes one without a netdev when there is one, leaving those with a netdev to macvtap
        /// ports. Keeps the pool's free share before (for VF balance).
        /// </summary>
        private void Take(VfPool pool, int free, PortRequest port, bool needNetDev)
        {
            var slot = -1;
            for (var pass = needNetDev ? 1 : 0; pass < 2 && slot < 0; pass++)
            {
                for (var i = 0; i < pool.Vfs.Count && slot < 0; i++)
                {
                    var hasNetDev = pool.Vfs[i].NetDev is not null;
                    if (pool.IsFree(i) && !_taken.Contains(pool.Id, i) && (pass == 1 ? !needNetDev || hasNetDev : !hasNetDev))
                        slot = i;
                }
            }
            _taken.Add(pool.Id, slot);
            _shares[vfs.Count] = (double)free / pool.Vfs.Count;
            var vf = pool.Vfs[slot];
            vfs.Add(new VfAssignment(port.Name, port.Physnet!, pool.Pf.Address, pool.Pf.NetDev, pool.Cell, vf.Address, vf.Index, port.Mac));
        }

        private void Untake()
        {
            vfs.RemoveAt(vfs.Count - 1);
            _taken.Pop();
        }
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

        public void Pop() => _count--;
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
}
