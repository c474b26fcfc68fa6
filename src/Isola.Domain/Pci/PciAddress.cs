using System.Globalization;

namespace Isola.Domain.Pci;

/// <summary>A PCI function address in the kernel's form "DDDD:BB:DD.F" (domain:bus:device.function).</summary>
public readonly record struct PciAddress(int Domain, int Bus, int Device, int Function) : IComparable<PciAddress>
{
    /// <summary>The PCIe routing ID (bus, device, function) that SR-IOV offsets and strides count in.</summary>
    public int RoutingId => (Bus << 8) | (Device << 3) | Function;

    /// <summary>
    /// Whether both are functions of one PCI device (same domain:bus:device): the ports of one
    /// multi-port adapter, which share its failure (0000:3b:00.0 and 0000:3b:00.1 are one card).
    /// </summary>
    public bool SameAdapterAs(PciAddress other) => Domain == other.Domain && Bus == other.Bus && Device == other.Device;

    public static PciAddress FromRoutingId(int domain, int routingId) =>
        new(domain, (routingId >> 8) & 0xff, (routingId >> 3) & 0x1f, routingId & 0x7);

    public static PciAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not a PCI address DDDD:BB:DD.F");

    public static bool TryParse(string? text, out PciAddress address)
    {
        address = default;
        if (text is null)
            return false;
        var s = text.Trim();
        // Short form "BB:DD.F" means domain 0000, as lspci prints it.
        if (s.Length == 7)
            s = "0000:" + s;
        if (s.Length != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.')
            return false;
        if (!TryHex(s.AsSpan(0, 4), out var domain) || !TryHex(s.AsSpan(5, 2), out var bus) ||
            !TryHex(s.AsSpan(8, 2), out var device) || !TryHex(s.AsSpan(11, 1), out var function))
            return false;
        if (device > 0x1f || function > 7)
            return false;
        address = new PciAddress(domain, bus, device, function);
        return true;
    }

    private static bool TryHex(ReadOnlySpan<char> text, out int value) =>
        int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);

    public int CompareTo(PciAddress other) =>
        Domain != other.Domain ? Domain.CompareTo(other.Domain) : RoutingId.CompareTo(other.RoutingId);

    public static bool operator <(PciAddress left, PciAddress right) => left.CompareTo(right) < 0;

    public static bool operator >(PciAddress left, PciAddress right) => left.CompareTo(right) > 0;

    public static bool operator <=(PciAddress left, PciAddress right) => left.CompareTo(right) <= 0;

    public static bool operator >=(PciAddress left, PciAddress right) => left.CompareTo(right) >= 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Domain:x4}:{Bus:x2}:{Device:x2}.{Function:x1}");
}
