using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Fitting;

/// <summary>
/// Chooses the VFs and PFs of a request's SR-IOV ports on one host, given the host cells the guest
/// occupies. Balance rule: take from the pool with the most free VFs (ties: lowest PF address);
/// an HA bond takes one VF from each of the two best pools, which are on distinct PFs by
/// construction; a direct-physical port takes a wholly free PF, the smallest.
/// </summary>
internal static class VfAllocator
{
    /// <remarks>
    /// Taking HA pairs from the two pools with most free VFs, then single VFs, is exact: if any
    /// choice of pools works, it does. Preferring the guest's cells first (policy preferred) is not
    /// always, so that order is tried first and the count order after it.
    /// </remarks>
    public static Rejection? TryAllocate(HostState host, RequestContext ctx, IReadOnlyCollection<int> guestHostCells,
        List<VfAssignment> vfs, List<PfAssignment> pfs)
    {
        if (ctx.DevicePorts.Length == 0)
            return null;
        var policy = ctx.Compute.Cells is null ? PciNumaAffinityPolicy.Preferred : ctx.Compute.PciPolicy;
        var locality = ctx.Compute.Cells is not null && policy == PciNumaAffinityPolicy.Preferred;
        if (locality && Allocate(host, ctx, guestHostCells, policy, localityFirst: true, vfs, pfs) is null)
            return null;
        vfs.Clear();
        pfs.Clear();
        return Allocate(host, ctx, guestHostCells, policy, localityFirst: false, vfs, pfs);
    }

    private static Rejection? Allocate(HostState host, RequestContext ctx, IReadOnlyCollection<int> guestHostCells, PciNumaAffinityPolicy policy,
        bool localityFirst, List<VfAssignment> vfs, List<PfAssignment> pfs)
    {
        var pools = host.Pools;
        var taken = new int[pools.Length];
        var pfTaken = new bool[pools.Length];
        var sockets = guestHostCells.Select(c => host.Cell(c)?.Socket ?? -1).ToHashSet();
        foreach (var port in ctx.DevicePorts)
        {
            var physnet = port.Physnet!;
            var needNetDev = port.VnicType == VnicType.Macvtap;
            var onPhysnet = pools.Where(p => p.Physnet == physnet).ToList();
            if (onPhysnet.Count == 0)
                return new Rejection(RejectionCode.NoPhysnet, $"no PF on {physnet} (port {port.Name})");
            if (port.VnicType == VnicType.Vdpa)
                return new Rejection(RejectionCode.NoVdpaDevice, $"no vDPA device on {physnet} (port {port.Name})");
            var allowed = onPhysnet.Where(p => Allowed(p, policy, guestHostCells, sockets)).ToList();
            int Free(VfPool p) => pfTaken[p.Id] ? 0 : p.Available(needNetDev) - taken[p.Id];
            var candidates = allowed.Where(p => Free(p) > 0)
                .OrderByDescending(p => localityFirst && p.Cell is { } c && guestHostCells.Contains(c))
                .ThenByDescending(Free).ThenBy(p => p.Pf.Address).ToList();

            if (port.VnicType == VnicType.DirectPhysical)
            {
                var pf = allowed.Where(p => p.WhollyFree && taken[p.Id] == 0 && !pfTaken[p.Id])
                    .OrderBy(p => p.Vfs.Count).ThenBy(p => p.Pf.Address).FirstOrDefault();
                if (pf is null)
                    return new Rejection(RejectionCode.NoFreePf, $"no wholly free PF on {physnet} (port {port.Name})");
                pfTaken[pf.Id] = true;
                pfs.Add(new PfAssignment(port.Name, physnet, pf.Pf.Address, pf.Pf.NetDev, pf.Cell));
                continue;
            }
            var need = port.Ha ? 2 : 1;
            if (candidates.Count < need)
            {
                if (candidates.Count == 0 && onPhysnet.Any(p => Free(p) > 0) && allowed.Count < onPhysnet.Count)
                    return new Rejection(RejectionCode.VfNumaAffinity, $"free VFs on {physnet} are outside the guest's NUMA cells (port {port.Name}, {policy.ToString().ToLowerInvariant()})");
                return port.Ha && candidates.Count == 1
                    ? new Rejection(RejectionCode.HaDistinctPfs, $"only {candidates[0].Pf.NetDev} has a free VF on {physnet} (HA port {port.Name})")
                    : new Rejection(RejectionCode.NoFreeVf, $"no free VF on {physnet} (port {port.Name})");
            }
            foreach (var pool in candidates.Take(need))
            {
                var slot = pool.Peek(taken[pool.Id], 1, needNetDev).First();
                taken[pool.Id]++;
                var vf = pool.Vfs[slot];
                vfs.Add(new VfAssignment(port.Name, physnet, pool.Pf.Address, pool.Pf.NetDev, pool.Cell, vf.Address, vf.Index, port.Mac));
            }
        }
        return null;
    }

    private static bool Allowed(VfPool pool, PciNumaAffinityPolicy policy, IReadOnlyCollection<int> cells, HashSet<int> sockets) => policy switch
    {
        PciNumaAffinityPolicy.Required => pool.Cell is { } c && cells.Contains(c),
        PciNumaAffinityPolicy.Legacy => pool.Cell is not { } c2 || cells.Contains(c2),
        PciNumaAffinityPolicy.Socket => pool.Socket >= 0 && sockets.Contains(pool.Socket),
        _ => true,
    };
}
