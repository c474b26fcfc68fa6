using System.Text.RegularExpressions;
using Isola.Domain.Pci;

namespace Isola.Host.Config;

/// <summary>
/// One entry of the device allow-list, in the spirit of Nova's <c>[pci] device_spec</c>: every
/// field given must match. <see cref="ProductId"/> matches the PF's device id or its VFs' device id
/// (so "8086:10ed" allows the PFs whose VFs are 82599 VFs); <see cref="Address"/> is a glob on the
/// PF address ("0000:08:00.*"); <see cref="DevName"/> is the PF netdev.
/// </summary>
public sealed record DeviceMatcher(string? VendorId = null, string? ProductId = null, string? Address = null, string? DevName = null)
{
    public const string Field = "device_allow_list";

    public bool Matches(PciAddress address, PciId id, ushort? vfDeviceId, string? netDev)
    {
        if (VendorId is not null && (!PciId.TryParseHex16(VendorId, out var v) || v != id.Vendor))
            return false;
        if (ProductId is not null && ProductId != "*" &&
            (!PciId.TryParseHex16(ProductId, out var p) || (p != id.Device && p != vfDeviceId)))
            return false;
        if (Address is not null && !Glob(Address).IsMatch(address.ToString()))
            return false;
        return DevName is null || DevName == netDev;
    }

    private static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern.ToLowerInvariant()).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);

    /// <summary>
    /// Parses the command-line short form: "8086:10fb" or "8086:*" (vendor:product), an address glob
    /// ("0000:08:00.*", "08:00.1") or a PF netdev name ("p2p1").
    /// </summary>
    public static DeviceMatcher? Parse(string text, List<ConfigError> errors)
    {
        var s = text.Trim();
        var parts = s.Split(':');
        if (parts.Length == 2 && PciId.TryParseHex16(parts[0], out _) && (parts[1] == "*" || PciId.TryParseHex16(parts[1], out _)) && !s.Contains('.', StringComparison.Ordinal))
            return new DeviceMatcher(VendorId: parts[0], ProductId: parts[1]);
        if (s.Contains('.', StringComparison.Ordinal) && parts.Length is 2 or 3)
            return new DeviceMatcher(Address: parts.Length == 2 ? "0000:" + s : s);
        if (NetworkNames.IsNetDev(s))
            return new DeviceMatcher(DevName: s);
        errors.Add(new ConfigError(Field, $"'{text}' is not vendor:product, a PCI address glob or a netdev name"));
        return null;
    }

    public void Validate(List<ConfigError> errors)
    {
        if (VendorId is null && ProductId is null && Address is null && DevName is null)
            errors.Add(new ConfigError(Field, "an entry must name at least one of vendorId, productId, address, devName"));
        if (VendorId is not null && !PciId.TryParseHex16(VendorId, out _))
            errors.Add(new ConfigError($"{Field}.vendorId", $"'{VendorId}' is not 4 hex digits"));
        if (ProductId is not null && ProductId != "*" && !PciId.TryParseHex16(ProductId, out _))
            errors.Add(new ConfigError($"{Field}.productId", $"'{ProductId}' is not 4 hex digits or '*'"));
        if (DevName is not null && !NetworkNames.IsNetDev(DevName))
            errors.Add(new ConfigError($"{Field}.devName", $"'{DevName}' is not a netdev name"));
    }
}
