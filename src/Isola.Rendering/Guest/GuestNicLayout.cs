using System.Globalization;
using System.Text;

namespace Isola.Rendering.Guest;

/// <summary>One NIC the guest sees: which port (and which member of an HA bond) and where.</summary>
/// <param name="Member">0 or 1 for the two VFs of an HA bond; 0 otherwise.</param>
/// <param name="Bus">The guest PCI bus: the NIC sits alone behind pcie-root-port <c>Bus</c>, slot 0.</param>
/// <param name="GuestName">The name systemd's predictable naming gives it in the guest: <c>enp{Bus}s0</c>.</param>
/// <param name="Id">The name the network config gives it (a valid interface name, unique in the guest).</param>
public sealed record GuestNic(PortSpec Port, int Member, int Bus, string GuestName, string Id);

/// <summary>
/// Puts every NIC of the guest behind its own PCIe root port, in port order, so its guest name is
/// known in advance. The two VFs of an HA bond share a MAC, so the network config matches them by
/// name, not by MAC; the layout is what makes that possible.
/// </summary>
public static class GuestNicLayout
{
    public static IReadOnlyList<GuestNic> Of(IReadOnlyList<PortSpec> ports)
    {
        var nics = new List<GuestNic>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var port in ports)
        {
            var members = port.Ha ? 2 : 1;
            var baseId = Unique(InterfaceName(port.Name, port.Ha ? 12 : 15), ids);
            for (var m = 0; m < members; m++)
            {
                var bus = nics.Count + 1;
                var id = port.Ha ? Unique($"{baseId}{m}", ids) : baseId;
                nics.Add(new GuestNic(port, m, bus, string.Create(CultureInfo.InvariantCulture, $"enp{bus}s0"), id));
            }
        }
        return nics;
    }

    /// <summary>The NIC's PCI address in the guest: function 0 of the only slot on its root port's bus.</summary>
    public static string Address(GuestNic nic) => string.Create(CultureInfo.InvariantCulture, $"0000:{nic.Bus:x2}:00.0");

    /// <summary>The bond's interface name for an HA port.</summary>
    public static string BondName(IReadOnlyList<GuestNic> nics, PortSpec port) => nics.First(n => n.Port == port).Id[..^1];

    /// <summary>Letters, digits, '-' and '_' of the port name, at most <paramref name="max"/> characters.</summary>
    private static string InterfaceName(string port, int max)
    {
        var sb = new StringBuilder();
        foreach (var c in port.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
                sb.Append(c);
            if (sb.Length == max)
                break;
        }
        if (sb.Length == 0 || !char.IsAsciiLetter(sb[0]))
            sb.Insert(0, 'p');
        return sb.Length > max ? sb.ToString(0, max) : sb.ToString();
    }

    private static string Unique(string name, HashSet<string> used)
    {
        var candidate = name;
        for (var n = 2; !used.Add(candidate); n++)
            candidate = name[..Math.Min(name.Length, 12)] + n.ToString(CultureInfo.InvariantCulture);
        return candidate;
    }
}
