using System.Text.Json;

namespace Isola.Host.Config;

/// <summary>
/// The host configuration as it stands in a JSON file (the <c>Host</c> section of appsettings.json):
/// <code>
/// { "physicalDeviceMappings": ["physnet2:p2p1"], "excludeDevices": ["p2p1:0000:08:10.1"],
///   "deviceAllowList": [{ "vendorId": "8086", "productId": "10fb" }] }
/// </code>
/// </summary>
public sealed record HostConfigFile(
    IReadOnlyList<string>? PhysicalDeviceMappings,
    IReadOnlyList<string>? ExcludeDevices,
    IReadOnlyList<DeviceMatcher>? DeviceAllowList)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static HostConfigFile Load(string path)
    {
        using var stream = File.OpenRead(path);
        var root = JsonDocument.Parse(stream, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }).RootElement;
        // Accept the section alone or a whole appsettings.json with {"Isola": {"Host": {...}}}.
        if (root.TryGetProperty("Isola", out var isola) && isola.TryGetProperty("Host", out var host))
            root = host;
        try
        {
            return root.Deserialize<HostConfigFile>(Options) ?? new HostConfigFile(null, null, null);
        }
        catch (JsonException e)
        {
            throw new ConfigException([new ConfigError(e.Path ?? "$", e.Message)]);
        }
    }

    public HostConfig ToConfig() =>
        HostConfig.Parse(PhysicalDeviceMappings ?? [], ExcludeDevices ?? [], DeviceAllowList ?? []);
}
