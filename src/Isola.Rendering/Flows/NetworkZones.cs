namespace Isola.Rendering.Flows;

/// <summary>
/// The number each network has on a host: kept in register 6 through the pipeline and used as the
/// conntrack zone, so it must not move while connections live. It comes from the network's id
/// (FNV-1a, 1-65000); a collision takes the next free number, in id order, so numbers change only
/// for a network that collides with one added later and sorts after it.
/// </summary>
public static class NetworkZones
{
    public const int Count = 65000;

    public static IReadOnlyDictionary<string, int> Assign(IEnumerable<string> networkIds)
    {
        var zones = new Dictionary<string, int>(StringComparer.Ordinal);
        var taken = new HashSet<int>();
        foreach (var id in networkIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var zone = (int)(Fnv1a(id) % Count);
            while (!taken.Add(zone + 1))
                zone = (zone + 1) % Count;
            zones[id] = zone + 1;
        }
        return zones;
    }

    private static uint Fnv1a(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 16777619u;
        }
        return hash;
    }
}
