using System.Diagnostics;
using Isola.Domain.Topology;
using Isola.Host.Hardware;
using Isola.Scheduling.State;

namespace Isola.Bench;

/// <summary>A built fleet and what building it cost.</summary>
internal sealed record BuiltFleet(FleetState Fleet, double BuildSeconds, long ManagedBytesAfter, long FleetBytes);

/// <summary>Fleets of identical x710-2s hosts sharing one topology object.</summary>
internal static class Fleets
{
    public const string Profile = "x710-2s";

    private static readonly Lazy<HostTopology> Template = new(() => ProfileExpander.Expand(ProfileCatalog.Get(Profile), "template"));

    public static HostTopology Topology => Template.Value;

    public static BuiltFleet Build(int hosts, bool naive)
    {
        var topology = Topology;
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var start = Stopwatch.GetTimestamp();
        var fleet = new FleetState(new SchedulingOptions(NaiveFullScan: naive));
        for (var i = 0; i < hosts; i++)
            fleet.AddHost(topology, name: $"cmp{i:d6}");
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        return new BuiltFleet(fleet, seconds, after, after - before);
    }
}
