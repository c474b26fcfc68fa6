using System.Globalization;

namespace Isola.Server.Settings;

/// <summary>
/// The server's configuration: where the store is, where to listen, the segment ranges networks are
/// given from, the build timeout. <see cref="ServerConfiguration"/> reads it from flags, ISOLA__*
/// environment variables and the "Isola" section of appsettings.json, checked by the rules of
/// <see cref="ServerSettingDefinitions"/>.
/// </summary>
/// <param name="Store">A SQLite file path (default ./.isola/isola.db) or a PostgreSQL connection string.</param>
/// <param name="VlanRanges">"physnet:first:last" entries, e.g. physnet2:100:199.</param>
/// <param name="VniRanges">"first:last" VXLAN VNIs.</param>
/// <param name="GreRanges">"first:last" GRE keys.</param>
/// <param name="BuildTimeoutSeconds">How long a server may stay in BUILD (ports not ACTIVE, not resumed) before it goes to ERROR and gives back what it holds.</param>
/// <param name="Physnets">Physical networks members may put flat and vlan networks on, besides those of <paramref name="VlanRanges"/> (Neutron's flat_networks); admins may name any.</param>
/// <param name="DataDir">Where the server keeps files (images under <c>images/</c>); null: the SQLite store's directory, or <c>.isola</c> with PostgreSQL.</param>
/// <param name="MaxImageBytes">The largest image upload, in bytes.</param>
/// <param name="ShutdownTimeoutSeconds">How long a stop, soft reboot or rebuild asks the guest to shut down cleanly (ACPI) before its domain is powered off (Nova's shutdown_timeout).</param>
public sealed record ServerSettings(
    string Store = ".isola/isola.db",
    string Urls = "http://127.0.0.1:8780",
    IReadOnlyList<string>? VlanRanges = null,
    IReadOnlyList<string>? VniRanges = null,
    IReadOnlyList<string>? GreRanges = null,
    int BuildTimeoutSeconds = 300,
    IReadOnlyList<string>? Physnets = null,
    string? DataDir = null,
    long MaxImageBytes = 64L << 30,
    int ShutdownTimeoutSeconds = 60)
{
    /// <summary>Where images' bytes are kept: <c>&lt;DataDir&gt;/images</c>.</summary>
    public string ImageDirectory()
    {
        var data = DataDir ?? (Isola.Store.StoreConnectionFactory.Parse(Store).Engine == Isola.Store.StoreEngine.Sqlite
            ? Path.GetDirectoryName(Path.GetFullPath(Store))!
            : ".isola");
        return Path.GetFullPath(Path.Join(data, "images"));
    }

    /// <summary>The physical networks the operator configured: named by a VLAN range or in <see cref="Physnets"/>.</summary>
    public IReadOnlySet<string> ConfiguredPhysnets() => Vlans().Select(v => v.Physnet).Concat(Physnets ?? []).ToHashSet(StringComparer.Ordinal);

    public IEnumerable<(string Physnet, long First, long Last)> Vlans() =>
        (VlanRanges ?? []).Select(r => r.Split(':')).Where(p => p.Length == 3).Select(p => (p[0], Num(p[1]), Num(p[2])));

    public static IEnumerable<(long First, long Last)> Ranges(IReadOnlyList<string>? ranges) =>
        (ranges ?? []).Select(r => r.Split(':')).Where(p => p.Length == 2).Select(p => (Num(p[0]), Num(p[1])));

    private static long Num(string s) => long.Parse(s, CultureInfo.InvariantCulture);
}
