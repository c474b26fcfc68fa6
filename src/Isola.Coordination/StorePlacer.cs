using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Rendering;
using Isola.Store;
using Isola.Store.Documents;

namespace Isola.Coordination;

/// <summary>The outcome of one create: the placement committed, or why not.</summary>
public sealed record StoredPlacementResult(Placement? Placement, PlacementResult Decision, CommitOutcome? LastOutcome, int Attempts)
{
    public string Explain() => Placement is not null ? $"placed on {Placement.Host}"
        : LastOutcome is CommitOutcome.NameTaken ? "a server of that name exists in the project"
        : LastOutcome is CommitOutcome.StaleHost or CommitOutcome.ResourceTaken ? $"lost {Attempts} races for the host; try again"
        : Decision.Explain();
}

/// <summary>
/// What a server process does to place a server: plan on its in-memory fleet and reserve the plan
/// there (one decision at a time), then hand the commit to the process's <see cref="PlacementWriter"/>,
/// which writes it with whatever other commits are waiting, against the host generation the plan was
/// made on. When another process got to the host first, the reservation is dropped, the hosts that
/// changed are read from the store again, and the server is planned again. Several processes may
/// share one store.
/// </summary>
public sealed class StorePlacer
{
    private readonly Scheduler _scheduler;
    private readonly PlacementWriter _writer;
    private readonly PlacementStore _store;
    private readonly int _attempts;
    private readonly Dictionary<string, int> _epochs = new(StringComparer.Ordinal);
    // The stamp of the inventory the fleet holds for each host (changed under the gate; the writer reads it while the gate's holder waits).
    private readonly Dictionary<string, string> _stamps = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Replaced, never changed (read without the gate).
    private IReadOnlyDictionary<string, string> _unreadable = new Dictionary<string, string>(StringComparer.Ordinal);

    public StorePlacer(FleetState fleet, PlacementStore store, int attempts = 8)
    {
        Fleet = fleet;
        _store = store;
        _attempts = attempts;
        _scheduler = new Scheduler(fleet);
        _writer = new PlacementWriter(store);
    }

    public FleetState Fleet { get; }

    /// <summary>
    /// The registered hosts this fleet cannot use, and why: left out because their stored inventory
    /// cannot be read (<see cref="UnreadableHost"/>), or in the fleet but <see cref="HostState.Unusable"/>
    /// because a placement stored on them does not fit their inventory. A host leaves this list when
    /// the store's word for it can be used again (a good registration; the server that did not fit deleted).
    /// </summary>
    public IReadOnlyDictionary<string, string> UnreadableHosts => Volatile.Read(ref _unreadable);

    /// <summary>Batches and commits written: how much the commits were grouped.</summary>
    public (long Batches, long Commits) Written => _writer.Written;

    /// <summary>
    /// Builds the fleet from the store: every host with the placements committed on it, and the
    /// server groups. A host whose stored inventory cannot be used is left out, one whose placements
    /// do not fit its inventory is in but unusable (<see cref="UnreadableHosts"/>); the others load.
    /// </summary>
    public static async Task<StorePlacer> LoadAsync(PlacementStore store, SchedulingOptions? options = null, CancellationToken ct = default)
    {
        var fleet = new FleetState(options ?? SchedulingOptions.Default);
        foreach (var (id, policy) in await store.GroupsAsync(ct))
            fleet.AddGroup(id, policy);
        var placer = new StorePlacer(fleet, store);
        var rows = await store.HostRowsAsync(ct: ct);
        foreach (var host in rows.Hosts)
            placer.Add(host);
        placer._unreadable = rows.Unreadable.ToDictionary(u => u.Name, u => u.Problem, StringComparer.Ordinal);
        placer.Apply(await placer._writer.RefreshAsync(rows.Hosts.Select(h => h.Name).ToList(), placer.StampOf));
        return placer;
    }

    /// <summary>
    /// Registers a host or gives it a new inventory, in the store and here — unless the servers on it
    /// hold something the new inventory lacks: then nothing changes and the answer says what.
    /// </summary>
    public async Task<IReadOnlyList<HeldConflict>> RegisterHostAsync(Isola.Domain.Topology.HostTopology inventory, string? zone, IReadOnlyList<string> aggregates,
        string? tunnelIp, CancellationToken ct = default)
    {
        var conflicts = await _store.UpsertHostAsync(inventory, zone, aggregates, ct, tunnelIp, Fleet.Options);
        if (conflicts.Count == 0)
            await AddOrRefreshHostAsync(inventory.Hostname, ct);
        return conflicts;
    }

    /// <summary>Makes a server group known to the scheduler (after it was stored).</summary>
    public async Task AddGroupAsync(string id, GroupPolicy policy, CancellationToken ct = default)
    {
        await UnderGateAsync(() =>
        {
            if (!Fleet.Groups.ContainsKey(id))
                Fleet.AddGroup(id, policy);
            return Task.CompletedTask;
        }, ct);
    }

    /// <param name="within">Given the placement and the inventory of the host it is on, the writes that must commit with it or not at all
    /// (made on the caller's thread; only their SQL runs in the writer). It may refuse the placement by throwing: nothing is committed, the reservation is given back.</param>
    /// <param name="spec">What the server was asked for (flavor, ports), stored with it.</param>
    public Task<StoredPlacementResult> PlaceAsync(string serverId, string project, PlacementRequest request,
        Func<Placement, Isola.Domain.Topology.HostTopology, WithinCommit>? within = null, CancellationToken ct = default,
        StoredDocument<ServerSpec>? spec = null) =>
        PlaceWithAsync(request, (placement, epoch, topology) => _writer.CommitAsync(serverId, project, placement, epoch, within?.Invoke(placement, topology), spec), ct);

    /// <summary>
    /// Plans and reserves on the in-memory fleet (one decision at a time), then commits through <paramref name="commit"/>;
    /// a lost race drops the reservation, reads the changed hosts again and plans again, up to the placer's attempts.
    /// </summary>
    private async Task<StoredPlacementResult> PlaceWithAsync(PlacementRequest request,
        Func<Placement, int, Isola.Domain.Topology.HostTopology, Task<CommitOutcome>> commit, CancellationToken ct)
    {
        PlacementResult decision = new(null, [], 0, 0);
        CommitOutcome? outcome = null;
        for (var attempt = 1; attempt <= _attempts; attempt++)
        {
            Placement placement;
            Isola.Domain.Topology.HostTopology topology;
            int epoch;
            // One decision at a time in this process: the in-memory fleet has one writer. The plan is
            // reserved before the gate opens, so the next decision already sees it.
            await _gate.WaitAsync(ct);
            try
            {
                decision = _scheduler.Schedule(request);
                if (decision.Placement is null)
                    return new StoredPlacementResult(null, decision, outcome, attempt);
                placement = decision.Placement;
                if (!Fleet.TryClaim(placement, out var conflict))
                    throw new InvalidOperationException($"the scheduler chose {placement.Host} for {placement.Server} but the fleet refused it: {conflict}");
                epoch = _epochs[placement.Host];
                topology = Fleet.Host(placement.Host)!.Topology;
            }
            finally
            {
                _gate.Release();
            }
            try
            {
                outcome = await commit(placement, epoch, topology);
            }
            catch
            {
                await DropAsync(placement, epoch, refresh: true, ct);
                throw;
            }
            switch (outcome)
            {
                case CommitOutcome.Committed:
                    return new StoredPlacementResult(placement, decision, outcome, attempt);
                case CommitOutcome.NameTaken:
                    await DropAsync(placement, epoch, refresh: false, ct);
                    return new StoredPlacementResult(null, decision, outcome, attempt);
                default:
                    // Another process got there first; it may have changed other hosts too.
                    await DropAsync(placement, epoch, refresh: true, ct);
                    break;
            }
        }
        return new StoredPlacementResult(null, decision, outcome, _attempts);
    }

    /// <summary>Gives back a reservation that did not commit (unless a refresh dropped it already); then, if asked, reads the changed hosts.</summary>
    private async Task DropAsync(Placement placement, int epoch, bool refresh, CancellationToken ct)
    {
        await UnderGateAsync(async () =>
        {
            if (_epochs[placement.Host] == epoch)
                Fleet.Release(placement);
            if (refresh)
                Apply(await _writer.RefreshAsync(null, StampOf));
        }, ct);
    }

    /// <summary>
    /// Deletes a server and gives back what it held, here and in the store. Idempotent. With a
    /// <paramref name="fault"/> the server stays, in ERROR, holding nothing (a build that timed out).
    /// </summary>
    public async Task<bool> ReleaseAsync(string serverId, string? host = null, Func<System.Data.Common.DbConnection, System.Data.Common.DbTransaction, Task>? within = null,
        CancellationToken ct = default, string? fault = null)
    {
        return await UnderGateAsync(async () =>
        {
            var (released, placement, on) = await _writer.ReleaseAsync(serverId, within is null ? null : (c, tx) => within(c, tx), fault);
            // An unusable host holds nothing here: it is read again, and may fit now that this server is gone.
            if (placement is not null && Fleet.Host(placement.Host) is { Unusable: null })
                Fleet.Release(placement);
            else if (on is not null)
                // The (unusable) host; or, with no placement back, every host the writer no longer vouches for: the host changed
                // by someone else, or the two a resize or migration in progress held the server on.
                Apply(await _writer.RefreshAsync(placement is not null ? [on] : null, StampOf));
            return released;
        }, ct);
    }

    /// <summary>
    /// Places a server that exists somewhere new (a resize's new flavor, a migration's other host): planned and reserved
    /// as a create is, beside what the server holds, and committed with <paramref name="within"/> (which moves the
    /// server to it) — the new claims are in before anything of the old goes. Nothing happens when it does not place.
    /// </summary>
    public Task<StoredPlacementResult> PlaceMoveAsync(string serverId, string project, PlacementRequest request,
        Func<Placement, Isola.Domain.Topology.HostTopology, WithinCommit> within, CancellationToken ct = default) =>
        PlaceWithAsync(request, (placement, epoch, topology) => _writer.CommitAsync(serverId, project, placement, epoch, within(placement, topology), existing: true), ct);

    /// <summary>Gives back one placement of a server that keeps another (a confirmed resize's old one, a reverted one's new one), here and in the store, with <paramref name="within"/>.</summary>
    public async Task ReleasePlacementAsync(string serverId, Placement placement, WithinCommit within, CancellationToken ct = default)
    {
        await UnderGateAsync(async () =>
        {
            if (await _writer.ReleasePlacementAsync(serverId, placement, within) && Fleet.Host(placement.Host) is { Unusable: null })
                Fleet.Release(placement);
            else
                Apply(await _writer.RefreshAsync([placement.Host], StampOf));
        }, ct);
    }

    /// <summary>Takes a host (new, or with a new inventory) from the store into the fleet.</summary>
    public async Task AddOrRefreshHostAsync(string name, CancellationToken ct = default)
    {
        await UnderGateAsync(async () =>
        {
            var stored = await _store.HostAsync(name, ct) ?? throw new ArgumentException($"host '{name}' is not in the store, or its inventory cannot be used");
            if (Fleet.Host(name) is null)
                Add(stored);
            // A host in the fleet already gets the new inventory with the refresh: its stamp moved.
            Apply(await _writer.RefreshAsync([name], StampOf));
        }, ct);
    }

    /// <summary>Takes a host out of scheduling (or back in), in the store and here; false for an unknown host.</summary>
    public async Task<bool> SetEnabledAsync(string host, bool enabled, string? reason, CancellationToken ct = default)
    {
        return await UnderGateAsync(async () =>
        {
            if (!await _store.SetEnabledAsync(host, enabled, reason, ct))
                return false;
            Apply(await _writer.RefreshAsync([host], StampOf));
            return true;
        }, ct);
    }

    /// <summary>Takes the store's word for one host (after this process moved its generation outside a commit: its agent reported again).</summary>
    public async Task RefreshHostAsync(string host, CancellationToken ct = default)
    {
        await UnderGateAsync(async () => Apply(await _writer.RefreshAsync([host], StampOf)), ct);
    }

    /// <summary>
    /// Brings this process's fleet in step with the store: hosts other processes registered join it,
    /// and every host whose generation moved since this process last read it is read again — commits
    /// and releases of other processes, a host disabled or enabled elsewhere, an agent marked down or
    /// up. A commit on a changed host finds out by itself (it fails and the host is read again), but a
    /// host this fleet skips (disabled, agent down) is never tried: without this it would stay skipped
    /// here after another process put it back. Two small queries (names and generations) when nothing
    /// changed, and one per host left out because its stored inventory cannot be used (it joins once
    /// it can: registered again, by this process or another).
    /// </summary>
    public async Task SyncAsync(CancellationToken ct = default)
    {
        await UnderGateAsync(async () =>
        {
            foreach (var name in (await _store.GenerationsAsync(ct)).Keys.Where(n => Fleet.Host(n) is null).ToList())
            {
                var rows = await _store.HostRowsAsync(name, ct);
                if (rows.Hosts.FirstOrDefault() is { } stored)
                    Add(stored);
                Readable(name, rows.Unreadable.FirstOrDefault()?.Problem);
            }
            Apply(await _writer.RefreshAsync(null, StampOf));
        }, ct);
    }

    /// <summary>Runs <paramref name="work"/> as the in-memory fleet's one writer in this process.</summary>
    private async Task<T> UnderGateAsync<T>(Func<Task<T>> work, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await work();
        }
        finally
        {
            _gate.Release();
        }
    }

    private Task UnderGateAsync(Func<Task> work, CancellationToken ct) =>
        UnderGateAsync(async () => { await work(); return true; }, ct);

    // Under the gate: a host's stored inventory can be used (problem null) or not, and why.
    private void Readable(string host, string? problem)
    {
        var now = _unreadable;
        if (problem is null ? !now.ContainsKey(host) : now.GetValueOrDefault(host) == problem)
            return;
        var next = new Dictionary<string, string>(now, StringComparer.Ordinal);
        if (problem is null)
            next.Remove(host);
        else
            next[host] = problem;
        Volatile.Write(ref _unreadable, next);
    }

    // Under the gate (or before anyone else knows the placer): a host joins the fleet with the inventory of that stamp.
    private void Add(StoredHost stored)
    {
        Fleet.AddHost(stored.Inventory, stored.Zone, stored.Aggregates);
        _stamps[stored.Name] = stored.Stamp;
    }

    private string? StampOf(string host) => _stamps.GetValueOrDefault(host);

    // Under the gate: the fleet takes the store's word for each host read. One host whose word cannot be
    // used (a placement that does not fit, a new inventory that does not read) is marked so; the others go on.
    private void Apply(IReadOnlyList<HostSnapshot> snapshots)
    {
        foreach (var snapshot in snapshots)
        {
            if (Fleet.Host(snapshot.Host) is null)
                continue; // registered by another process; it joins this fleet when this process hears of it
            Isola.Domain.Topology.HostTopology? inventory = null;
            var problem = snapshot.Problem;
            if (snapshot.Inventory is { } rows)
            {
                // Registered again since the fleet read it (here or by another process).
                if (rows.Hosts.FirstOrDefault() is { } stored)
                {
                    inventory = stored.Inventory;
                    _stamps[snapshot.Host] = snapshot.Stamp;
                }
                else
                {
                    // Its stamp is kept, so the inventory is read again with the host until it can be used.
                    problem ??= rows.Unreadable.FirstOrDefault()?.Problem ?? "the host is no longer in the store";
                }
            }
            var host = Fleet.ResetHost(snapshot.Host, snapshot.Placements, inventory, problem);
            Fleet.SetDisabled(snapshot.Host, !snapshot.Enabled);
            Fleet.SetAgentDown(snapshot.Host, snapshot.AgentDown);
            _epochs[snapshot.Host] = snapshot.Epoch;
            Readable(snapshot.Host, host.Unusable);
        }
    }
}
