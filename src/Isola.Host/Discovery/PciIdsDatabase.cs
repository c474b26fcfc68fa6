using System.Globalization;
using Isola.Domain.Pci;

namespace Isola.Host.Discovery;

/// <summary>
/// Vendor and device names from the pci.ids file (<c>/usr/share/misc/pci.ids</c>, Debian package
/// pci.ids). Format: a vendor line "8086  Intel Corporation", its device lines indented by one tab
/// "\t10fb  82599ES ...", subsystem lines by two tabs; the device class section starts at "C ".
/// </summary>
public sealed class PciIdsDatabase
{
    public const string DefaultPath = "usr/share/misc/pci.ids";

    private readonly Dictionary<ushort, string> _vendors = [];
    private readonly Dictionary<PciId, string> _devices = [];

    public static PciIdsDatabase Empty { get; } = new();

    public static PciIdsDatabase Parse(TextReader reader)
    {
        var db = new PciIdsDatabase();
        ushort? vendor = null;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
                continue;
            if (line.StartsWith("C ", StringComparison.Ordinal))
                break;
            if (line.StartsWith("\t\t", StringComparison.Ordinal))
                continue;
            var indented = line[0] == '\t';
            var body = indented ? line[1..] : line;
            if (body.Length < 6 || body[4] != ' ' || !ushort.TryParse(body.AsSpan(0, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id))
                continue;
            var name = body[5..].Trim();
            if (!indented)
            {
                vendor = id;
                db._vendors[id] = name;
            }
            else if (vendor is { } v)
            {
                db._devices[new PciId(v, id)] = name;
            }
        }
        return db;
    }

    public static PciIdsDatabase Load(HostRoot root)
    {
        var file = root.Resolve(DefaultPath);
        if (!File.Exists(file))
            return Empty;
        using var reader = new StreamReader(file);
        return Parse(reader);
    }

    public string? VendorName(ushort vendor) => _vendors.GetValueOrDefault(vendor);

    public string? DeviceName(PciId id) => _devices.GetValueOrDefault(id);
}
