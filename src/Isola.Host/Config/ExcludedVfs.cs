using Isola.Domain.Pci;

namespace Isola.Host.Config;

/// <summary>
/// One entry of <c>exclude_devices</c> with Neutron's meaning: <c>p2p1:0000:08:10.1;0000:08:10.3</c>
/// keeps those VFs of PF p2p1 away from guests (the host uses them itself).
/// </summary>
public sealed record ExcludedVfs(string Device, IReadOnlyList<PciAddress> Vfs)
{
    public const string Field = "exclude_devices";

    /// <summary>Parses "p2p1:0000:08:10.1;0000:08:10.3,p2p2:0000:08:10.5".</summary>
    public static IReadOnlyList<ExcludedVfs> ParseList(IEnumerable<string> entries, List<ConfigError> errors)
    {
        var byDevice = new Dictionary<string, List<PciAddress>>();
        foreach (var raw in entries.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var colon = raw.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !NetworkNames.IsNetDev(raw[..colon]))
            {
                errors.Add(new ConfigError(Field, $"'{raw}' is not <pf netdev>:<vf address>[;<vf address>...]"));
                continue;
            }
            var device = raw[..colon];
            var list = byDevice.TryGetValue(device, out var l) ? l : byDevice[device] = [];
            foreach (var text in raw[(colon + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (PciAddress.TryParse(text, out var address))
                    list.Add(address);
                else
                    errors.Add(new ConfigError(Field, $"'{text}' in '{raw}' is not a PCI address DDDD:BB:DD.F"));
            }
        }
        return byDevice.Select(kv => new ExcludedVfs(kv.Key, kv.Value.Distinct().Order().ToList())).ToList();
    }
}
