using Isola.Domain.Pci;
using Isola.Scheduling;

namespace Isola.Store.Documents;

/// <summary>One VF a port was bound to: the PF it hangs off (and its netdev), its address and index.</summary>
public sealed record BoundVf(PciAddress Pf, string? PfNetDev, PciAddress Vf, int VfIndex);

/// <summary>
/// A port's binding, stored with the port once its server is placed: the host and the devices the
/// port got (its VFs, or the whole PF of a direct-physical port); for an HA port, whether its two
/// legs are on distinct adapters.
/// </summary>
public sealed record PortBinding(string Host, IReadOnlyList<BoundVf> Vfs, PciAddress? Pf, HaLegs? HaLegs)
{
    /// <summary>The binding of port <paramref name="port"/> (by its name in the request) in a placement.</summary>
    public static PortBinding Of(Placement placement, string port) => new(
        placement.Host,
        [.. placement.Vfs.Where(v => v.Port == port).Select(v => new BoundVf(v.Pf, v.PfNetDev, v.Vf, v.VfIndex))],
        placement.Pfs.FirstOrDefault(x => x.Port == port)?.Pf,
        placement.HaLegsOf(port));
}
