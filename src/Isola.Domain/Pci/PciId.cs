using System.Globalization;

namespace Isola.Domain.Pci;

/// <summary>A vendor:device pair as lspci -n and Nova's device_spec write it ("8086:10fb").</summary>
public readonly record struct PciId(ushort Vendor, ushort Device)
{
    public static PciId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"'{text}' is not a PCI id vendor:device (4 hex digits each)");

    public static bool TryParse(string? text, out PciId id)
    {
        id = default;
        var parts = text?.Trim().Split(':');
        if (parts is not { Length: 2 } || !TryParseHex16(parts[0], out var vendor) || !TryParseHex16(parts[1], out var device))
            return false;
        id = new PciId(vendor, device);
        return true;
    }

    /// <summary>Parses "10fb" or the sysfs form "0x10fb".</summary>
    public static bool TryParseHex16(string? text, out ushort value)
    {
        value = 0;
        var s = text?.Trim() ?? "";
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            s = s[2..];
        return s.Length is > 0 and <= 4 &&
               ushort.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Vendor:x4}:{Device:x4}");
}
