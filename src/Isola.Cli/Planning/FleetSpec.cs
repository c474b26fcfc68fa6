using System.Globalization;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Host.Hardware;
using Isola.Scheduling.State;

namespace Isola.Cli.Planning;

/// <summary>
/// Builds a fleet for planning from <c>--fleet PROFILE:COUNT[@ZONE],...</c> (simulated hosts of
/// built-in or YAML profiles) and/or <c>--inventory FILE[@ZONE]</c> (documents written by
/// <c>isola host discover -f json</c>).
/// </summary>
internal static class FleetSpec
{
    public static FleetState Build(IEnumerable<string> fleetSpecs, IEnumerable<string> inventories, SchedulingOptions options)
    {
        var fleet = new FleetState(options);
        foreach (var entry in fleetSpecs.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var (spec, zone) = SplitZone(entry);
            var colon = spec.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(spec[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 1_000_000)
                throw new ArgumentException($"--fleet: '{entry}' is not PROFILE:COUNT[@ZONE] with COUNT 1-1000000");
            var profile = ProfileCatalog.Get(spec[..colon]);
            // One topology object serves every host of the profile; hosts differ by name only.
            var topology = ProfileExpander.Expand(profile);
            var prefix = $"{topology.Hostname}{(zone is null ? "" : "-" + zone)}";
            var first = fleet.Hosts.Count(h => h.Name.StartsWith(prefix + "-", StringComparison.Ordinal));
            for (var i = 1; i <= count; i++)
                fleet.AddHost(topology, zone, name: string.Create(CultureInfo.InvariantCulture, $"{prefix}-{first + i}"));
        }
        foreach (var entry in inventories)
        {
            var (path, zone) = SplitZone(entry);
            HostTopology host;
            try
            {
                host = InventoryDocument.Parse(File.ReadAllText(path)).Host;
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
            {
                throw new ArgumentException($"--inventory: {path}: {e.Message}", e);
            }
            fleet.AddHost(host, zone);
        }
        return fleet.Hosts.Count == 0 ? throw new ArgumentException("give the hosts with --fleet PROFILE:COUNT or --inventory FILE") : fleet;
    }

    private static (string Value, string? Zone) SplitZone(string entry)
    {
        var at = entry.LastIndexOf('@');
        return at > 0 ? (entry[..at], entry[(at + 1)..]) : (entry, null);
    }
}
