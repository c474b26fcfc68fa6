using System.Diagnostics;
using Isola.Scheduling;
using Isola.Scheduling.Fitting;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Bench;

/// <summary>The parts of one decision the breakdown times separately.</summary>
internal enum Stage
{
    Context,
    IndexCount,
    IndexWalk,
    Filters,
    NumaFit,
    Rejections,
    Scorers,
    PlacementRecord,
    Result,
}

/// <summary>
/// A copy of <see cref="Scheduler.Schedule"/> (same filters, fitter, scorers and index, in the same
/// order) with a stopwatch and an allocation counter between the stages. Diagnostic only: the
/// breakdown checks that it picks the same host with the same score as the real scheduler.
/// </summary>
internal sealed class ProfiledScheduler(FleetState fleet)
{
    private readonly IHostFilter[] _filters = [new ZoneFilter(), new AggregateFilter(), new GroupFilter(fleet), new TotalsFilter()];

    private readonly (IHostScorer Scorer, double Weight)[] _scorers =
    [
        (new StrategyScorer(), 1.0),
        (new VfBalanceScorer(), 1.0),
        (new NumaFragmentationScorer(), 0.5),
        (new SoftGroupScorer(fleet), 2.0),
        (new PciLocalityScorer(), 1.0),
    ];

    private long _tick;
    private long _bytes;

    public long[] Ticks { get; } = new long[Enum.GetValues<Stage>().Length];

    public long[] Bytes { get; } = new long[Enum.GetValues<Stage>().Length];

    /// <summary>Index buckets the walks stepped through (most are empty).</summary>
    public long BucketsWalked { get; private set; }

    public PlacementResult Schedule(PlacementRequest request)
    {
        Start();
        var ctx = new RequestContext(request);
        var reasons = new Dictionary<RejectionCode, (int Hosts, string? Example)>();
        Lap(Stage.Context);
        var index = fleet.IndexFor(request.AvailabilityZone)!;
        var byMemory = ctx.TotalPins == 0 && ctx.UsesSmallPages;
        var minKey = byMemory ? (int)Math.Min(ctx.SmallMemDemandMiB / 1024, HostIndex.MaxMemoryKey) : ctx.MaxCellPins;
        var skipped = index.CountBelow(byMemory, minKey);
        Count(reasons, byMemory ? RejectionCode.Memory : RejectionCode.DedicatedCpus, skipped, null);
        Lap(Stage.IndexCount);

        Placement? best = null;
        var evaluated = 0;
        var found = 0;
        var lastKey = byMemory ? HostIndex.MaxMemoryKey : HostIndex.MaxThreadsKey;
        using var walk = index.Walk(byMemory, minKey, emptiestFirst: request.Strategy == Strategy.Spread).GetEnumerator();
        while (true)
        {
            var more = walk.MoveNext();
            Lap(Stage.IndexWalk);
            if (!more)
                break;
            var host = fleet.Hosts[walk.Current];
            lastKey = byMemory ? HostIndex.MemoryKey(host) : HostIndex.ThreadsKey(host);
            evaluated++;
            Rejection? rejection = null;
            foreach (var filter in _filters)
            {
                rejection = filter.Check(host, ctx);
                if (rejection is not null)
                    break;
            }
            Lap(Stage.Filters);
            var fit = rejection is null ? NumaFitter.Fit(host, ctx) : default;
            rejection ??= fit.Rejection;
            Lap(Stage.NumaFit);
            if (rejection is not null)
            {
                Count(reasons, rejection.Code, 1, $"{host.Name}: {rejection.Detail}");
                Lap(Stage.Rejections);
                continue;
            }
            var score = 0.0;
            foreach (var (scorer, weight) in _scorers)
                score += weight * scorer.Score(host, fit.Fit!, ctx);
            Lap(Stage.Scorers);
            if (best is null || score > best.Score)
                best = ToPlacement(request, host, fit.Fit!, score);
            Lap(Stage.PlacementRecord);
            if (++found >= fleet.Options.CandidateLimit)
                break;
        }
        BucketsWalked += (byMemory ? HostIndex.MaxMemoryKey : HostIndex.MaxThreadsKey) - lastKey + 1;
        var result = new PlacementResult(best, reasons.OrderByDescending(r => r.Value.Hosts).ThenBy(r => r.Key)
            .Select(r => new RejectionCount(r.Key, r.Value.Hosts, r.Value.Example)).ToList(), evaluated, skipped);
        Lap(Stage.Result);
        return result;
    }

    private static void Count(Dictionary<RejectionCode, (int Hosts, string? Example)> reasons, RejectionCode code, int hosts, string? example)
    {
        if (hosts <= 0)
            return;
        var (n, e) = reasons.GetValueOrDefault(code);
        reasons[code] = (n + hosts, e ?? example);
    }

    private static Placement ToPlacement(PlacementRequest request, HostState host, HostFit fit, double score) =>
        new(request.Server, host.Name, host.Generation, fit.Cells, fit.EmulatorPins, fit.EmulatorReserved, fit.FloatingVcpus,
            fit.FloatingMemory, fit.Vfs, fit.Pfs, request.Group, score);

    private void Start()
    {
        _bytes = GC.GetAllocatedBytesForCurrentThread();
        _tick = Stopwatch.GetTimestamp();
    }

    private void Lap(Stage stage)
    {
        var now = Stopwatch.GetTimestamp();
        var bytes = GC.GetAllocatedBytesForCurrentThread();
        Ticks[(int)stage] += now - _tick;
        Bytes[(int)stage] += bytes - _bytes;
        _bytes = GC.GetAllocatedBytesForCurrentThread();
        _tick = Stopwatch.GetTimestamp();
    }
}
