using System.Diagnostics;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.State;

namespace Isola.Bench;

/// <summary>One measured run: one scheduler (engine or naive) on one fleet, one shape.</summary>
internal sealed record RunResult(string Scheduler, int Hosts, double BuildSeconds, long HeapBytesAfterBuild, long FleetBytes, int Filled, int Warmup, Samples Samples);

/// <summary>Builds, fills to half, warms up and measures the steady state of one (host count, shape).</summary>
internal sealed class Runner(BenchOptions options, TextWriter log)
{
    private readonly Dictionary<Shape, int> _capacity = [];

    /// <summary>Servers of the shape one host takes: placed on an empty 4-host fleet until the first failure, divided by 4.</summary>
    public int CapacityPerHost(Shape shape)
    {
        // Anti-affinity groups of 10 cannot fill 4 hosts, so G is probed as N: the same server on the same hosts.
        var probe = shape == Shape.G ? Shape.N : shape;
        if (_capacity.TryGetValue(probe, out var known))
            return known;
        var fleet = Fleets.Build(4, naive: false).Fleet;
        var scheduler = new Scheduler(fleet);
        var requests = new RequestFactory(probe);
        var placed = 0;
        while (scheduler.Schedule(requests.Next()).Placement is { } p && fleet.TryClaim(p, out _))
            placed++;
        return _capacity[probe] = placed / 4;
    }

    public (RunResult Engine, RunResult Naive) Run(int hosts, Shape shape)
    {
        var fillCount = hosts * CapacityPerHost(shape) / 2;
        var groupsFor = fillCount + BenchOptions.Warmup + options.Decisions;
        // Separate methods, so the engine's fleet is garbage before the naive one is built.
        var (engine, fill) = RunEngine(hosts, shape, fillCount, groupsFor);
        var naive = RunNaive(hosts, shape, fill, groupsFor);
        return (engine, naive);
    }

    private (RunResult Result, List<Placement> Fill) RunEngine(int hosts, Shape shape, int fillCount, int groupsFor)
    {
        var (built, requests, fill) = PrepareEngine(hosts, shape, fillCount, groupsFor);
        return (Measure("engine", built, requests, [.. fill], BenchOptions.Warmup, options.Decisions), fill);
    }

    /// <summary>An engine fleet, built and filled to half, with the request factory positioned after the fill.</summary>
    public (BuiltFleet Built, RequestFactory Requests, List<Placement> Fill) PrepareEngine(int hosts, Shape shape, int fillCount, int groupsFor)
    {
        var built = Fleets.Build(hosts, naive: false);
        log.WriteLine($"  engine: built {hosts} hosts in {built.BuildSeconds:f2} s, {built.FleetBytes / 1048576.0:f1} MiB");
        var requests = new RequestFactory(shape);
        requests.AddGroups(built.Fleet, groupsFor);
        return (built, requests, Fill(built.Fleet, requests, fillCount));
    }

    private RunResult RunNaive(int hosts, Shape shape, List<Placement> fill, int groupsFor)
    {
        var decisions = options.NaiveDecisionsFor(hosts);
        var built = Fleets.Build(hosts, naive: true);
        log.WriteLine($"  naive: built {hosts} hosts in {built.BuildSeconds:f2} s, {built.FleetBytes / 1048576.0:f1} MiB");
        var requests = new RequestFactory(shape, first: fill.Count);
        requests.AddGroups(built.Fleet, groupsFor);
        // The same fill: the engine's placements, claimed in the same order (host generations line up).
        foreach (var p in fill)
        {
            if (!built.Fleet.TryClaim(p, out var conflict))
                throw new InvalidOperationException($"replaying the fill on the naive fleet: {conflict}");
        }
        return Measure("naive", built, requests, [.. fill], BenchOptions.NaiveWarmupFor(decisions), decisions);
    }

    private List<Placement> Fill(FleetState fleet, RequestFactory requests, int count)
    {
        var start = Stopwatch.GetTimestamp();
        var scheduler = new Scheduler(fleet);
        var placed = new List<Placement>(count);
        for (var i = 0; i < count; i++)
        {
            var result = scheduler.Schedule(requests.Next());
            if (result.Placement is not { } p || !fleet.TryClaim(p, out _))
                throw new InvalidOperationException($"fill: server {i} of {count} did not place: {result.Explain()}");
            placed.Add(p);
        }
        log.WriteLine($"  filled {count} servers in {Stopwatch.GetElapsedTime(start).TotalSeconds:f1} s");
        return placed;
    }

    private RunResult Measure(string name, BuiltFleet built, RequestFactory requests, List<Placement> live, int warmup, int decisions)
    {
        var scheduler = new Scheduler(built.Fleet);
        var random = new Random(options.Seed);
        Steady(scheduler, built.Fleet, requests, live, random, new Samples(warmup));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var samples = new Samples(decisions);
        var gcs = GC.CollectionCount(0);
        Steady(scheduler, built.Fleet, requests, live, random, samples);
        log.WriteLine($"  {name}: {decisions} decisions, p50 {samples.PercentileMicros(0.5):f1} µs, p99 {samples.PercentileMicros(0.99):f1} µs, " +
            $"{samples.PlacementsPerSecond:f0}/s, {samples.Failures} failures, {samples.MeanHostsEvaluated:f1} hosts evaluated, " +
            $"{samples.AllocatedKiBPerDecision:f1} KiB allocated per decision, {GC.CollectionCount(0) - gcs} gen0 GCs");
        return new RunResult(name, built.Fleet.Hosts.Count, built.BuildSeconds, built.ManagedBytesAfter, built.FleetBytes, live.Count, warmup, samples);
    }

    /// <summary>
    /// Each step times only Schedule, then (untimed) claims the placement and releases a random
    /// earlier one, so utilisation stays where the fill left it.
    /// </summary>
    public static void Steady(Scheduler scheduler, FleetState fleet, RequestFactory requests, List<Placement> live, Random random, Samples samples)
    {
        for (var i = 0; i < samples.Capacity; i++)
        {
            var request = requests.Next();
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            var result = scheduler.Schedule(request);
            var ticks = Stopwatch.GetTimestamp() - start;
            samples.AllocatedBytes += GC.GetAllocatedBytesForCurrentThread() - allocated;
            samples.Add(ticks);
            samples.HostsEvaluated += result.HostsEvaluated;
            if (!ClaimAndReleaseOne(fleet, result, live, random))
                samples.Failures++;
        }
    }

    /// <summary>The untimed half of a step: claim the new placement, release a random earlier one in its stead.</summary>
    public static bool ClaimAndReleaseOne(FleetState fleet, PlacementResult result, List<Placement> live, Random random)
    {
        if (result.Placement is not { } placement || !fleet.TryClaim(placement, out _))
            return false;
        var victim = random.Next(live.Count);
        fleet.Release(live[victim]);
        live[victim] = placement;
        return true;
    }
}
