using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Store;

/// <summary>The outcome of one create: the placement committed, or why not.</summary>
public sealed record StoredPlacementResult(Placement? Placement, PlacementResult Decision, CommitOutcome? LastOutcome, int Attempts)
{
    public string Explain() => Placement is not null ? $"placed on {Placement.Host}"
        : LastOutcome is CommitOutcome.NameTaken ? "a server of that name exists in the project"
        : LastOutcome is CommitOutcome.StaleHost or CommitOutcome.ResourceTaken ? $"lost {Attempts} races for the host; try again"
        : Decision.Explain();
}

/// <summary>
/// What a server process does to place a server: plan on its in-memory fleet, commit to the store
/// against the host generation it planned on, and — when another process got there first — reload
/// that host from the store and plan again. Several processes may share one store.
/// </summary>
public sealed class StorePlacer(FleetState fleet, PlacementStore store, int attempts = 8)
{
    private readonly Scheduler _scheduler = new(fleet);
    private readonly Dictionary<string, long> _generations = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    public FleetState Fleet { get; } = fleet;

    /// <summary>Builds the fleet from the store: every host with the placements committed on it.</summary>
    public static async Task<StorePlacer> LoadAsync(PlacementStore store, SchedulingOptions? options = null, CancellationToken ct = default)
    {
        var fleet = new FleetState(options ?? SchedulingOptions.Default);
        var placer = new StorePlacer(fleet, store);
        foreach (var host in await store.HostsAsync(ct))
        {
            fleet.AddHost(host.Inventory, host.Zone, host.Aggregates);
            await placer.RefreshAsync(host.Name, ct);
        }
        return placer;
    }

    /// <param name="within">Writes that must commit with the placement or not at all.</param>
    public async Task<StoredPlacementResult> PlaceAsync(string serverId, string project, PlacementRequest request,
        Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Placement, Task>? within = null, CancellationToken ct = default)
    {
        // One decision at a time in this process: the in-memory fleet has one writer.
        await _gate.WaitAsync(ct);
        try
        {
            PlacementResult decision = new(null, [], 0, 0);
            CommitOutcome? outcome = null;
            for (var attempt = 1; attempt <= attempts; attempt++)
            {
                decision = _scheduler.Schedule(request);
                if (decision.Placement is not { } placement)
                    return new StoredPlacementResult(null, decision, outcome, attempt);
                var (result, generation) = await store.CommitAsync(serverId, project, placement, _generations[placement.Host],
                    within is null ? null : (c, tx) => within(c, tx, placement), ct);
                outcome = result;
                switch (result)
                {
                    case CommitOutcome.Committed:
                        if (!Fleet.TryClaim(placement, out var conflict))
                            throw new InvalidOperationException($"committed {placement.Server} but the fleet refused it: {conflict}");
                        _generations[placement.Host] = generation;
                        return new StoredPlacementResult(placement, decision, result, attempt);
                    case CommitOutcome.NameTaken:
                        return new StoredPlacementResult(null, decision, result, attempt);
                    default:
                        // Another process got there first; it may have changed other hosts too.
                        foreach (var (host, current) in await store.GenerationsAsync(ct))
                        {
                            if (_generations.TryGetValue(host, out var seen) && seen != current)
                                await RefreshAsync(host, ct);
                        }
                        break;
                }
            }
            return new StoredPlacementResult(null, decision, outcome, attempts);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Deletes a server and gives back what it held, here and in the store. Idempotent.</summary>
    public async Task<bool> ReleaseAsync(string serverId, string host, Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? within = null,
        CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var released = await store.ReleaseAsync(serverId, within, ct);
            await RefreshAsync(host, ct);
            return released;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Takes a host (new, or with a new inventory) from the store into the fleet.</summary>
    public async Task AddOrRefreshHostAsync(string name, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var stored = await store.HostAsync(name, ct) ?? throw new ArgumentException($"host '{name}' is not in the store");
            if (Fleet.Host(name) is null)
                Fleet.AddHost(stored.Inventory, stored.Zone, stored.Aggregates);
            await RefreshAsync(name, ct, stored.Inventory);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RefreshAsync(string host, CancellationToken ct, Isola.Domain.Topology.HostTopology? inventory = null)
    {
        var (generation, placements) = await store.HostStateAsync(host, ct);
        Fleet.ResetHost(host, placements, inventory);
        _generations[host] = generation;
    }
}
