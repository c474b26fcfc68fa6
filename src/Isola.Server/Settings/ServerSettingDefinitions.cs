using System.Globalization;

namespace Isola.Server.Settings;

/// <summary>Every setting <c>isola serve</c> takes, in one table: adding a setting is adding a row (and its field in <see cref="ServerSettings"/>).</summary>
public static class ServerSettingDefinitions
{
    public static IReadOnlyList<SettingDefinition> All { get; } =
    [
        new("Store", "--store", "A SQLite file, or a PostgreSQL connection string (Host=...;Database=...;Username=...)", false,
            v => v.Trim().Length == 0 ? "must name a SQLite file or a PostgreSQL connection string" : null, (s, v) => s with { Store = v[0] }),
        new("Urls", "--urls", "Where to listen: http(s)://HOST:PORT, several separated by ';'", false, Urls, (s, v) => s with { Urls = v[0] }),
        new("VlanRanges", "--vlan-range", "VLANs networks get when none is given: physnet:first:last (repeatable)", true, VlanRange,
            (s, v) => s with { VlanRanges = v }),
        new("VniRanges", "--vni-range", "VXLAN VNIs networks get: first:last (repeatable)", true, v => Range(v, 16_777_215, "a VNI"),
            (s, v) => s with { VniRanges = v }),
        new("GreRanges", "--gre-range", "GRE keys networks get: first:last (repeatable)", true, v => Range(v, 4_294_967_295, "a GRE key"),
            (s, v) => s with { GreRanges = v }),
        new("Physnets", "--physnet", "Physical networks projects may put flat and vlan networks on, besides those of the VLAN ranges (repeatable)", true,
            v => Physnets.IsName(v) ? null : $"'{v}': {Physnets.Rule}", (s, v) => s with { Physnets = v }),
        new("BuildTimeoutSeconds", "--build-timeout", "Seconds a server may stay in BUILD before it goes to ERROR and gives back what it holds", false,
            Seconds, (s, v) => s with { BuildTimeoutSeconds = int.Parse(v[0], CultureInfo.InvariantCulture) }),
        new("ShutdownTimeoutSeconds", "--shutdown-timeout", "Seconds a stop, soft reboot or rebuild waits for the guest to shut down cleanly before powering it off", false,
            Seconds, (s, v) => s with { ShutdownTimeoutSeconds = int.Parse(v[0], CultureInfo.InvariantCulture) }),
        new("DataDir", "--data-dir", "Where the server keeps files, images under images/ (default: the SQLite store's directory; .isola with PostgreSQL)", false,
            v => v.Trim().Length == 0 ? "must name a directory" : null, (s, v) => s with { DataDir = v[0] }),
        new("MaxImageBytes", "--max-image-bytes", "The largest image upload: bytes, or with a K, M, G or T suffix (powers of 1024)", false,
            v => Bytes(v) is null ? $"'{v}' is not a size of 1 byte to {MaxImageBytes}T (e.g. 68719476736 or 64G)" : null,
            (s, v) => s with { MaxImageBytes = Bytes(v[0])!.Value }),
    ];

    /// <summary>Keys of the Isola section that belong to other parts (the agent's host configuration) and that the server leaves alone.</summary>
    public static IReadOnlyList<string> OthersKeys { get; } = ["Host"];

    private const int MaxBuildTimeout = 86_400;

    /// <summary>The largest image size a server takes, in TiB.</summary>
    private const long MaxImageBytes = 1024;

    /// <summary>"68719476736", "64G", "512M": bytes, or K/M/G/T (powers of 1024); null when it is not one (or is 0 or above 1024T).</summary>
    public static long? Bytes(string value)
    {
        var text = value.Trim();
        var shift = text.Length == 0 ? 0 : char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        if (shift > 0)
            text = text[..^1];
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > (MaxImageBytes << 40) >> shift)
            return null;
        return n << shift;
    }

    private static string? Urls(string value)
    {
        foreach (var url in value.Split(';', StringSplitOptions.TrimEntries))
        {
            // Kestrel takes * and + for every address.
            var parsed = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
            if (!Uri.TryCreate(parsed, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
                return $"'{url}' is not an http:// or https:// address (e.g. http://127.0.0.1:8780)";
        }
        return null;
    }

    private static string? VlanRange(string value)
    {
        var parts = value.Split(':');
        if (parts.Length != 3)
            return $"'{value}' is not physnet:first:last (e.g. physnet2:100:199)";
        if (!Physnets.IsName(parts[0]))
            return $"'{value}': the physnet {Physnets.Rule}";
        return Bounds(value, parts[1], parts[2], 4094, "a VLAN id");
    }

    private static string? Range(string value, long max, string what)
    {
        var parts = value.Split(':');
        return parts.Length != 2 ? $"'{value}' is not first:last (e.g. 5000:5999)" : Bounds(value, parts[0], parts[1], max, what);
    }

    private static string? Bounds(string value, string first, string last, long max, string what)
    {
        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var a) || !long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var b)
            || a < 1 || a > max || b < 1 || b > max)
            return $"'{value}': {what} is 1-{max.ToString(CultureInfo.InvariantCulture)}";
        return a > b ? $"'{value}': the first is above the last" : null;
    }

    private static string? Seconds(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s is >= 1 and <= MaxBuildTimeout
            ? null
            : $"'{value}' is not a whole number of seconds 1-{MaxBuildTimeout.ToString(CultureInfo.InvariantCulture)}";
}
