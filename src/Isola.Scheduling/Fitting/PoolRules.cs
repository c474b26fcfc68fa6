using Isola.Domain.Pci;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Fitting;

/// <summary>
/// Which of a host's pools a port may use, with the guest on <see cref="Cells"/>: its physnet, the
/// NUMA policy, a PF driver that can do what it needs. The checks allocate nothing; only the
/// words of a rejection do.
/// </summary>
internal readonly ref struct PoolRules(VfPool[] pools, ReadOnlySpan<int> cells, PciNumaAffinityPolicy policy, ulong sockets)
{
    public VfPool[] Pools { get; } = pools;

    public ReadOnlySpan<int> Cells { get; } = cells;

    public bool Usable(VfPool pool, PortRequest port) => pool.Physnet == port.Physnet && Allowed(pool) && pool.Serves(port.Needs);

    /// <summary>
    /// What rules the port out on this host whatever the other ports take: no PF on its physnet, no
    /// vDPA device, no PF driver that can do what it needs, (<paramref name="distinct"/>) only one adapter.
    /// </summary>
    public RejectionCode? Precheck(PortRequest port, bool distinct)
    {
        int onPhysnet = 0, capable = 0, usable = 0, firstUsable = -1;
        var adapters = 1;
        for (var i = 0; i < Pools.Length; i++)
        {
            var p = Pools[i];
            if (p.Physnet != port.Physnet)
                continue;
            onPhysnet++;
            if (!p.Serves(port.Needs))
                continue;
            capable++;
            if (!Allowed(p))
                continue;
            usable++;
            if (firstUsable < 0)
                firstUsable = i;
            else if (!p.Pf.Address.SameAdapterAs(Pools[firstUsable].Pf.Address))
                adapters = 2;
        }
        if (onPhysnet == 0)
            return RejectionCode.NoPhysnet;
        if (port.Kind.Device == PortDevice.VdpaDevice)
            return RejectionCode.NoVdpaDevice;
        if (port.Kind.Device == PortDevice.WholePf)
            return null;
        var need = port.Ha ? 2 : 1;
        if (capable < need && capable < onPhysnet)
            return RejectionCode.VfDriverCapability;
        return port.Ha && distinct && usable >= 2 && adapters < 2 ? RejectionCode.HaDistinctAdapters : null;
    }

    /// <summary>The words for what <see cref="Precheck"/> found.</summary>
    public Rejection Explain(RejectionCode code, PortRequest port) => code switch
    {
        RejectionCode.NoPhysnet => new(code, $"no PF on {port.Physnet} (port {port.Name})"),
        RejectionCode.NoVdpaDevice => new(code, $"no vDPA device on {port.Physnet} (port {port.Name})"),
        RejectionCode.VfDriverCapability => DriverCannot(port),
        RejectionCode.HaDistinctAdapters => new(code,
            $"the PFs on {port.Physnet} it may use are all ports of one adapter ({Adapter(FirstUsable(port).Pf.Address)}) (HA port {port.Name} demands distinct adapters)"),
        _ => new(code, $"port {port.Name}"),
    };

    /// <summary>Too few free VFs for the port among the pools it may use (<paramref name="found"/> with one; <paramref name="only"/> when one).</summary>
    public Rejection Short(PortRequest port, int found, VfPool? only = null)
    {
        var needNetDev = port.Kind.NeedsNetDev;
        var elsewhere = false;
        foreach (var p in Pools)
            elsewhere |= p.Physnet == port.Physnet && p.Serves(port.Needs) && !Allowed(p) && p.Available(needNetDev) > 0;
        var capable = port.Needs == VfNeeds.None ? "" : $" whose driver can {VfDriverCapabilities.Describe(port.Needs)}";
        if (found == 0 && elsewhere)
            return new(RejectionCode.VfNumaAffinity, $"free VFs on {port.Physnet}{capable} are outside the guest's NUMA cells (port {port.Name}, {policy.ToString().ToLowerInvariant()})");
        return port.Ha && only is not null
            ? new(RejectionCode.HaDistinctPfs, $"only {only.Pf.NetDev ?? only.Pf.Address.ToString()} has a free VF on {port.Physnet}{capable} (HA port {port.Name})")
            : new(RejectionCode.NoFreeVf, $"no free VF on {port.Physnet}{capable} (port {port.Name})");
    }

    /// <summary>An HA port that demands distinct adapters finds free VFs on one adapter only.</summary>
    public Rejection OneAdapter(PortRequest port) =>
        new(RejectionCode.HaDistinctAdapters, $"the free VFs on {port.Physnet} it may use are all on one adapter (HA port {port.Name} demands distinct adapters)");

    private Rejection DriverCannot(PortRequest port)
    {
        var lacking = VfNeeds.None;
        var drivers = new SortedSet<string>(StringComparer.Ordinal);
        var capable = new List<VfPool>();
        foreach (var p in Pools)
        {
            if (p.Physnet != port.Physnet)
                continue;
            if (p.Serves(port.Needs))
            {
                capable.Add(p);
                continue;
            }
            lacking |= p.Driver.Lacks(port.Needs);
            drivers.Add(p.Driver.Driver);
        }
        var what = VfDriverCapabilities.Describe(lacking);
        return new(RejectionCode.VfDriverCapability, capable.Count == 0
            ? $"no PF on {port.Physnet} whose driver can {what} (port {port.Name}; {string.Join(", ", drivers)} cannot)"
            : $"only {capable[0].Pf.NetDev ?? capable[0].Pf.Address.ToString()} on {port.Physnet} has a driver that can {what} (HA port {port.Name} needs two; {string.Join(", ", drivers)} cannot)");
    }

    private VfPool FirstUsable(PortRequest port)
    {
        foreach (var p in Pools)
        {
            if (Usable(p, port))
                return p;
        }
        throw new InvalidOperationException($"no pool for port {port.Name}");
    }

    private static string Adapter(PciAddress a) => a.ToString()[..^2];

    private bool Allowed(VfPool pool)
    {
        var cells = Cells;
        return policy switch
        {
            PciNumaAffinityPolicy.Required => pool.Cell is { } c && cells.IndexOf(c) >= 0,
            PciNumaAffinityPolicy.Legacy => pool.Cell is not { } c2 || cells.IndexOf(c2) >= 0,
            PciNumaAffinityPolicy.Socket => pool.Socket is >= 0 and < 64 && (sockets & (1UL << pool.Socket)) != 0,
            _ => true,
        };
    }
}
