using System.Net;

namespace Isola.Server.Subnets;

/// <summary>An inclusive range of addresses of one subnet (an allocation pool).</summary>
internal sealed record AddressRange(UInt128 Start, UInt128 End)
{
    public bool Contains(UInt128 address) => Start <= address && address <= End;

    public bool Overlaps(AddressRange other) => Start <= other.End && other.Start <= End;

    /// <summary>Neutron's default pools: every host address of the prefix but the gateway (so one or two ranges).</summary>
    public static IReadOnlyList<AddressRange> Defaults(Cidr cidr, IPAddress? gateway)
    {
        var all = new AddressRange(cidr.FirstHost, cidr.LastHost);
        if (gateway is null || !all.Contains(Cidr.Number(gateway)))
            return [all];
        var g = Cidr.Number(gateway);
        var pools = new List<AddressRange>();
        if (g > all.Start)
            pools.Add(new AddressRange(all.Start, g - 1));
        if (g < all.End)
            pools.Add(new AddressRange(g + 1, all.End));
        return pools;
    }

    /// <summary>
    /// The lowest address of the pools (in address order) that is neither used nor the gateway;
    /// null when there is none. Looks at no more than used.Count + 2 addresses per pool.
    /// </summary>
    public static UInt128? LowestFree(IEnumerable<AddressRange> pools, IReadOnlySet<UInt128> used, UInt128? gateway)
    {
        foreach (var pool in pools.OrderBy(p => p.Start))
        {
            for (var a = pool.Start; ; a++)
            {
                if (!used.Contains(a) && a != gateway)
                    return a;
                if (a == pool.End)
                    break;
            }
        }
        return null;
    }
}
