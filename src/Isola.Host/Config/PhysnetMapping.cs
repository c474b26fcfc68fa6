namespace Isola.Host.Config;

/// <summary>
/// One entry of <c>physical_device_mappings</c> with Neutron's SR-IOV agent meaning:
/// <c>physnet2:p2p1</c> puts the VFs of PF netdev p2p1 on physical network physnet2. A physnet
/// may have several PFs; a PF belongs to one physnet.
/// </summary>
public sealed record PhysnetMapping(string Physnet, string Device)
{
    public const string Field = "physical_device_mappings";

    /// <summary>Parses "physnet2:p2p1,physnet3:p2p2" (entries may also be given one by one).</summary>
    public static IReadOnlyList<PhysnetMapping> ParseList(IEnumerable<string> entries, List<ConfigError> errors)
    {
        var result = new List<PhysnetMapping>();
        foreach (var raw in entries.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var parts = raw.Split(':');
            if (parts.Length != 2 || !NetworkNames.IsPhysnet(parts[0]) || !NetworkNames.IsNetDev(parts[1]))
            {
                errors.Add(new ConfigError(Field, $"'{raw}' is not <physnet>:<pf netdev> (physnet: letters, digits, '_', '-', '.'; netdev: 1-15 characters, no '/', ':' or space)"));
                continue;
            }
            var mapping = new PhysnetMapping(parts[0], parts[1]);
            var clash = result.FirstOrDefault(m => m.Device == mapping.Device);
            if (clash is not null && clash.Physnet != mapping.Physnet)
            {
                errors.Add(new ConfigError(Field, $"device {mapping.Device} is mapped to both {clash.Physnet} and {mapping.Physnet}; a PF belongs to one physnet"));
                continue;
            }
            if (clash is null)
                result.Add(mapping);
        }
        return result;
    }
}
