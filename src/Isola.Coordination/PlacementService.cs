using Isola.Scheduling.State;
using Isola.Store;

namespace Isola.Coordination;

/// <summary>This server process's view of the fleet, loaded from the store at start and kept by its placer.</summary>
public sealed class PlacementService(PlacementStore store)
{
    private StorePlacer? _placer;

    public StorePlacer Placer => _placer ?? throw new InvalidOperationException("the placement service is not started");

    public FleetState Fleet => Placer.Fleet;

    public async Task StartAsync() => _placer = await StorePlacer.LoadAsync(store);
}
