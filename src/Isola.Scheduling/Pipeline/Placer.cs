using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Pipeline;

/// <summary>Schedules and commits, retrying when the host changed between the two (optimistic concurrency).</summary>
public sealed class Placer(FleetState fleet, int attempts = 3)
{
    private readonly Scheduler _scheduler = new(fleet);

    public FleetState Fleet { get; } = fleet;

    public PlacementResult Place(PlacementRequest request)
    {
        PlacementResult result = new(null, [], 0, 0);
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            result = _scheduler.Schedule(request);
            if (result.Placement is null || Fleet.TryClaim(result.Placement, out _))
                return result;
        }
        return result with { Placement = null };
    }
}
