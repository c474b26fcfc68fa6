namespace Isola.Host.Config;

/// <summary>
/// What the operator says about a host's devices: which PFs serve which physnet, which VFs are
/// kept back, which devices may be handed out at all (an empty allow-list allows every device).
/// </summary>
public sealed record HostConfig(
    IReadOnlyList<PhysnetMapping> PhysicalDeviceMappings,
    IReadOnlyList<ExcludedVfs> ExcludeDevices,
    IReadOnlyList<DeviceMatcher> DeviceAllowList)
{
    public static HostConfig Empty { get; } = new([], [], []);

    /// <summary>Builds a configuration from its textual parts, reporting every error together.</summary>
    public static HostConfig Parse(
        IEnumerable<string> physicalDeviceMappings,
        IEnumerable<string> excludeDevices,
        IEnumerable<DeviceMatcher> allowList)
    {
        var errors = new List<ConfigError>();
        var mappings = PhysnetMapping.ParseList(physicalDeviceMappings, errors);
        var excluded = ExcludedVfs.ParseList(excludeDevices, errors);
        var allow = allowList.ToList();
        foreach (var matcher in allow)
            matcher.Validate(errors);
        return errors.Count > 0 ? throw new ConfigException(errors) : new HostConfig(mappings, excluded, allow);
    }

    public string? PhysnetOf(string? netDev) =>
        netDev is null ? null : PhysicalDeviceMappings.FirstOrDefault(m => m.Device == netDev)?.Physnet;
}
