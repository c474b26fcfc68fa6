using Isola.Scheduling.Fitting;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Pipeline;

/// <summary>
/// Places one server at a time. Reads the fleet; never writes it: the caller commits the
/// <see cref="Placement"/> with <see cref="FleetState.TryClaim"/>.
/// </summary>
public sealed class Scheduler
{
    private readonly FleetState _fleet;
    private readonly IHostFilter[] _filters;
    private readonly (IHostScorer Scorer, double Weight)[] _scorers;
    private readonly IScheduleProbe? _probe;

    public Scheduler(FleetState fleet, IScheduleProbe? probe = null)
    {
        _fleet = fleet;
        _probe = probe;
        // Stage 1 (in Schedule): candidates come from the zone's index, in strategy order, skipping
        // hosts whose best cell cannot hold the biggest guest cell (or whose memory is short).
        // Stage 2: filters, cheapest first. Each names why it turns a host down.
        _filters =
        [
            new UsableFilter(),        // its stored inventory and placements are understood
            new EnabledFilter(),       // not disabled by an operator
            new AgentUpFilter(),       // its agent, if it ever reported, still does
            new ExcludedHostFilter(),  // not a host the request leaves (a migration's source)
            new ZoneFilter(),          // availability zone (the index is per zone; this guards the rest)
            new AggregateFilter(),     // host aggregates
            new GroupFilter(fleet),    // hard affinity / anti-affinity
            new TotalsFilter(),        // host-wide pCPUs, shared capacity, memory, VFs per physnet
        ];
        // Stage 3 (in Schedule): the exact NUMA fit -- cells, thread policy, pages, VFs -- per host.
        // Stage 4: scorers on 0..100, weighted; the best of the first CandidateLimit fits wins,
        // ties to the one found first in the walk.
        _scorers =
        [
            (new StrategyScorer(), 1.0),            // spread or pack
            (new VfBalanceScorer(), 1.0),           // take VFs where many are free
            (new NumaFragmentationScorer(), 0.5),   // keep whole cores whole
            (new SoftGroupScorer(fleet), 2.0),      // soft affinity / anti-affinity
            (new PciLocalityScorer(), 1.0),         // VFs near the guest (policy preferred)
        ];
    }

    /// <summary>The filters, in the order they run.</summary>
    public IReadOnlyList<IHostFilter> Filters => _filters;

    /// <summary>The scorers with their weights.</summary>
    public IReadOnlyList<(IHostScorer Scorer, double Weight)> Scorers => _scorers;

    /// <summary>
    /// Which index the walk uses and the key it starts from: by memory when nothing is pinned and
    /// pages are small, else by the threads of the best cell (the biggest guest cell must fit).
    /// </summary>
    public static (bool ByMemory, int MinKey) IndexKey(RequestContext ctx)
    {
        var byMemory = ctx.TotalPins == 0 && ctx.UsesSmallPages;
        return (byMemory, byMemory ? (int)Math.Min(ctx.SmallMemDemandMiB / 1024, HostIndex.MaxMemoryKey) : ctx.MaxCellPins);
    }

    public PlacementResult Schedule(PlacementRequest request)
    {
        _probe?.Begin();
        var ctx = new RequestContext(request);
        var reasons = new Dictionary<RejectionCode, (int Hosts, string? Example)>();
        void Count(RejectionCode code, int hosts, string? example)
        {
            if (hosts <= 0)
                return;
            var (n, e) = reasons.GetValueOrDefault(code);
            reasons[code] = (n + hosts, e ?? example);
        }
        _probe?.Lap(ScheduleStage.Context);

        var index = _fleet.IndexFor(request.AvailabilityZone);
        if (index is null)
        {
            Count(RejectionCode.AvailabilityZone, _fleet.Hosts.Count, $"no host is in {request.AvailabilityZone}");
            return Result(null, reasons, 0, 0);
        }
        var naive = _fleet.Options.NaiveFullScan;
        var (byMemory, minKey) = IndexKey(ctx);
        if (naive)
            minKey = 0;
        var skipped = index.CountBelow(byMemory, minKey);
        Count(byMemory ? RejectionCode.Memory : RejectionCode.DedicatedCpus, skipped, null);
        if (request.AvailabilityZone is not null)
            Count(RejectionCode.AvailabilityZone, _fleet.Hosts.Count - index.Count, null);
        _probe?.Lap(ScheduleStage.IndexCount);

        Placement? best = null;
        var evaluated = 0;
        var found = 0;
        HostState? last = null;
        var candidates = naive ? Enumerable.Range(0, _fleet.Hosts.Count) : index.Walk(byMemory, minKey, emptiestFirst: request.Strategy == Strategy.Spread);
        foreach (var i in candidates)
        {
            _probe?.Lap(ScheduleStage.IndexWalk);
            var host = last = _fleet.Hosts[i];
            evaluated++;
            Rejection? rejection = null;
            foreach (var filter in _filters)
            {
                rejection = filter.Check(host, ctx);
                if (rejection is not null)
                    break;
            }
            _probe?.Lap(ScheduleStage.Filters);
            var fit = rejection is null ? NumaFitter.Fit(host, ctx) : default;
            rejection ??= fit.Rejection;
            _probe?.Lap(ScheduleStage.NumaFit);
            if (rejection is not null)
            {
                Count(rejection.Code, 1, $"{host.Name}: {rejection.Detail}");
                _probe?.Lap(ScheduleStage.Rejections);
                continue;
            }
            var score = 0.0;
            foreach (var (scorer, weight) in _scorers)
                score += weight * scorer.Score(host, fit.Fit!, ctx);
            _probe?.Lap(ScheduleStage.Scorers);
            if (best is null || score > best.Score)
                best = fit.Fit!.Placement with { Score = score };
            _probe?.Lap(ScheduleStage.PlacementRecord);
            if (++found >= _fleet.Options.CandidateLimit && !naive)
                break;
        }
        if (_probe is not null)
        {
            _probe.Lap(ScheduleStage.IndexWalk);
            _probe.Walked(byMemory, last);
        }
        var result = Result(best, reasons, evaluated, skipped);
        _probe?.Lap(ScheduleStage.Result);
        return result;
    }

    private static PlacementResult Result(Placement? placement, Dictionary<RejectionCode, (int Hosts, string? Example)> reasons, int evaluated, int skipped) =>
        new(placement, reasons.OrderByDescending(r => r.Value.Hosts).ThenBy(r => r.Key)
            .Select(r => new RejectionCount(r.Key, r.Value.Hosts, r.Value.Example)).ToList(), evaluated, skipped);
}
