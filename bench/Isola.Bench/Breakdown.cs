using System.Diagnostics;
using System.Text;
using Isola.Scheduling;
using Isola.Scheduling.Fitting;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using static Isola.Bench.Report;

namespace Isola.Bench;

/// <summary>
/// Where a decision's time goes (--breakdown): the share of decisions a garbage collection lands
/// in, the stages of the real <see cref="Scheduler"/> (timed by a <see cref="StageTimer"/>), and each component alone on one host.
/// </summary>
internal static class Breakdown
{
    private const int ComponentCalls = 20_000;

    // Results land here so the calls are not optimised away and value results are not boxed.
    private static object? _sinkObject;
    private static double _sinkNumber;

    public static string Run(Runner runner, BenchOptions options, int hosts, Shape shape)
    {
        Console.Error.WriteLine($"breakdown: {shape} at {hosts} hosts");
        var fillCount = hosts * runner.CapacityPerHost(shape) / 2;
        var (built, requests, fill) = runner.PrepareEngine(hosts, shape, fillCount, fillCount + (3 * (BenchOptions.Warmup + options.Decisions)));
        var fleet = built.Fleet;
        var live = fill;
        var random = new Random(options.Seed);
        var scheduler = new Scheduler(fleet);
        Runner.Steady(scheduler, fleet, requests, live, random, new Samples(BenchOptions.Warmup));

        var sb = new StringBuilder();
        sb.AppendLine(Inv($"### Breakdown: shape {shape}, {hosts:n0} hosts, {options.Decisions:n0} decisions"));
        sb.AppendLine();
        Collections(sb, scheduler, fleet, requests, live, random, options.Decisions);
        Stages(sb, fleet, scheduler, requests, live, random, options.Decisions);
        Components(sb, fleet, scheduler, requests.Next());
        return sb.ToString();
    }

    /// <summary>The real scheduler, with a note of which decisions a gen0 collection landed in.</summary>
    private static void Collections(StringBuilder sb, Scheduler scheduler, FleetState fleet, RequestFactory requests, List<Placement> live, Random random, int decisions)
    {
        GC.Collect();
        var all = new Samples(decisions);
        var quiet = new Samples(decisions);
        var gcs = GC.CollectionCount(0);
        var (gen1, gen2) = (GC.CollectionCount(1), GC.CollectionCount(2));
        var pause = GC.GetTotalPauseDuration();
        for (var i = 0; i < decisions; i++)
        {
            var request = requests.Next();
            var before = GC.CollectionCount(0);
            var start = Stopwatch.GetTimestamp();
            var result = scheduler.Schedule(request);
            var ticks = Stopwatch.GetTimestamp() - start;
            all.Add(ticks);
            if (GC.CollectionCount(0) == before)
                quiet.Add(ticks);
            Runner.ClaimAndReleaseOne(fleet, result, live, random);
        }
        var collections = GC.CollectionCount(0) - gcs;
        var pauseMs = (GC.GetTotalPauseDuration() - pause).TotalMilliseconds;
        var hit = all.Count - quiet.Count;
        sb.AppendLine(Inv($"Garbage collection: {collections} collections in the phase ({GC.CollectionCount(1) - gen1} of them gen1, {GC.CollectionCount(2) - gen2} gen2; claims and releases allocate too); {hit} decisions ({100.0 * hit / all.Count:f2} %) had one land inside them; mean pause {pauseMs * 1000 / Math.Max(1, collections):n0} µs."));
        sb.AppendLine();
        sb.AppendLine("| decisions | count | p50 µs | p99 µs | p99.9 µs | max µs | mean µs |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, s) in new[] { ("all", all), ("without a GC inside", quiet) })
        {
            sb.AppendLine(Inv($"| {name} | {s.Count:n0} | {s.PercentileMicros(0.5):n1} | {s.PercentileMicros(0.99):n1} | {s.PercentileMicros(0.999):n1} | {s.PercentileMicros(1):n1} | {s.TotalSeconds * 1e6 / s.Count:n1} |"));
        }
        sb.AppendLine();
    }

    /// <summary>The real scheduler with a stage timer, checked against one without it decision by decision.</summary>
    private static void Stages(StringBuilder sb, FleetState fleet, Scheduler scheduler, RequestFactory requests, List<Placement> live, Random random, int decisions)
    {
        var timer = new StageTimer();
        var profiled = new Scheduler(fleet, timer);
        for (var i = 0; i < BenchOptions.Warmup; i++)
            profiled.Schedule(requests.Next());
        timer.Clear();
        var mismatches = 0;
        var evaluated = 0L;
        for (var i = 0; i < decisions; i++)
        {
            var request = requests.Next();
            var mine = profiled.Schedule(request);
            var real = scheduler.Schedule(request);
            evaluated += mine.HostsEvaluated;
            if (mine.Placement?.Host != real.Placement?.Host || mine.Placement?.Score != real.Placement?.Score)
                mismatches++;
            Runner.ClaimAndReleaseOne(fleet, real, live, random);
        }
        var total = timer.Ticks.Sum();
        sb.AppendLine(Inv($"Stages (Scheduler.Schedule with a stopwatch between stages; {mismatches} of {decisions:n0} decisions differed from the scheduler's without it; {(double)evaluated / decisions:f1} hosts evaluated and {(double)timer.BucketsWalked / decisions:f0} index buckets stepped through per decision):"));
        sb.AppendLine();
        sb.AppendLine("| stage | µs/decision | share | KiB allocated/decision |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var stage in Enum.GetValues<ScheduleStage>())
        {
            var ticks = timer.Ticks[(int)stage];
            sb.AppendLine(Inv($"| {stage} | {ticks * 1e6 / Stopwatch.Frequency / decisions:n2} | {100.0 * ticks / total:f1} % | {timer.Bytes[(int)stage] / 1024.0 / decisions:n2} |"));
        }
        sb.AppendLine(Inv($"| total | {total * 1e6 / Stopwatch.Frequency / decisions:n2} | 100 % | {timer.Bytes.Sum() / 1024.0 / decisions:n2} |"));
        sb.AppendLine();
    }

    /// <summary>Each component alone, many times over, on the host the scheduler would choose next.</summary>
    private static void Components(StringBuilder sb, FleetState fleet, Scheduler scheduler, PlacementRequest request)
    {
        var chosen = scheduler.Schedule(request).Placement ?? throw new InvalidOperationException("no host for the component timings");
        var host = fleet.Host(chosen.Host)!;
        var ctx = new RequestContext(request);
        var fit = NumaFitter.Fit(host, ctx).Fit!;
        var cells = fit.Placement.Cells?.Select(c => c.HostCell).ToArray() ?? host.Cells.Select(c => c.Id).ToArray();
        var index = fleet.Index;
        var (byMemory, minKey) = Scheduler.IndexKey(ctx);
        var walk = new WalkExperiment(fleet, byMemory, minKey);
        var pickCell = host.Cell(cells[0])!.Cpus;
        var rows = new List<(string, Action)>
        {
            ("new RequestContext", () => _sinkObject = new RequestContext(request)),
            ("HostIndex.CountBelow", () => _sinkNumber = index.CountBelow(byMemory, minKey)),
            ("HostIndex.Walk, first 4 hosts", () => _sinkNumber = index.Walk(byMemory, minKey, emptiestFirst: true).Take(4).Sum()),
            ("  experiment: copy of the walk, first 4", () => _sinkNumber = walk.AsIs().Take(4).Sum()),
            ("  experiment: same, empty buckets skipped", () => _sinkNumber = walk.SkippingEmpty().Take(4).Sum()),
        };
        rows.AddRange(scheduler.Filters.Select(f => (f.GetType().Name, (Action)(() => _sinkObject = f.Check(host, ctx)))));
        rows.Add(("NumaFitter.Fit (whole)", () => _sinkObject = NumaFitter.Fit(host, ctx).Fit));
        rows.Add(("  of which VfAllocator.TryAllocate", () => _sinkObject = VfAllocator.TryAllocate(host, ctx, cells, [], [], out _)));
        if (ctx.TotalPins > 0)
            rows.Add(("  of which CellCpus.TryPick (one cell)", () => _sinkNumber = pickCell.TryPick(ctx.PinsPerCell[0], ctx.Compute.ThreadPolicy, [], []) ? 1 : 0));
        rows.AddRange(scheduler.Scorers.Select(s => (s.Scorer.GetType().Name, (Action)(() => _sinkNumber = s.Scorer.Score(host, fit, ctx)))));
        rows.Add(("new PlacementResult + rejections LINQ (none)", () => _sinkObject = new PlacementResult(chosen,
            new Dictionary<RejectionCode, (int Hosts, string? Example)>().OrderByDescending(r => r.Value.Hosts).ThenBy(r => r.Key)
                .Select(r => new RejectionCount(r.Key, r.Value.Hosts, r.Value.Example)).ToList(), 4, 0)));

        sb.AppendLine(Inv($"Components alone ({ComponentCalls:n0} calls each, on {host.Name}, the host chosen next):"));
        sb.AppendLine();
        sb.AppendLine("| component | ns/call | bytes allocated/call |");
        sb.AppendLine("|---|---:|---:|");
        foreach (var (name, action) in rows)
        {
            for (var i = 0; i < 1000; i++)
                action();
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < ComponentCalls; i++)
                action();
            var ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / ComponentCalls;
            sb.AppendLine(Inv($"| {name} | {ns:n0} | {(GC.GetAllocatedBytesForCurrentThread() - bytes) / (double)ComponentCalls:n0} |"));
        }
        GC.KeepAlive(_sinkObject);
        GC.KeepAlive(_sinkNumber);
        sb.AppendLine();
    }
}
