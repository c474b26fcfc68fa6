using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Cli.Planning;

/// <summary>A server that found no host, with the reasons hosts gave.</summary>
internal sealed record PlanFailure(string Server, IReadOnlyList<RejectionCount> Reasons);

/// <summary>Places requests in order on a fleet and keeps what happened.</summary>
internal sealed class PlanRun(FleetState fleet)
{
    private readonly Placer _placer = new(fleet);

    public FleetState Fleet { get; } = fleet;

    public List<Placement> Placements { get; } = [];

    public List<PlanFailure> Failures { get; } = [];

    public TimeSpan DecisionTime { get; private set; }

    public PlacementResult Place(PlacementRequest request)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = _placer.Place(request);
        DecisionTime += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        if (result.Placement is not null)
            Placements.Add(result.Placement);
        else
            Failures.Add(new PlanFailure(request.Server, result.Rejections));
        return result;
    }

    public void AddGroups(IEnumerable<RequestFile.GroupEntry> groups)
    {
        for (var i = 0; i < groups.Count(); i++)
        {
            var g = groups.ElementAt(i);
            Fleet.AddGroup(g.Name, RequestFile.ParsePolicy(g.Policy, $"groups[{i}].policy"));
        }
    }

    /// <summary>Failure reasons summed over every failed server: reason → (servers, host rejections).</summary>
    public IEnumerable<(RejectionCode Code, int Servers, int Hosts)> FailureReasons() =>
        Failures.SelectMany(f => f.Reasons).GroupBy(r => r.Code)
            .Select(g => (g.Key, g.Count(), g.Sum(r => r.Hosts))).OrderByDescending(x => x.Item2).ThenBy(x => x.Key);
}
