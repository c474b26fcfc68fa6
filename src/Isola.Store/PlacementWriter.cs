using System.Data.Common;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;

namespace Isola.Store;

/// <summary>Writes that must commit with a placement or not at all (binding the server's ports).</summary>
public delegate Task WithinCommit(DbConnection connection, DbTransaction transaction);

/// <summary>What the writer read of a host when it took the store's word for it.</summary>
/// <param name="AgentDown">Its agent reported before and has been silent since (the scheduler skips it).</param>
/// <param name="Stamp">When its inventory was registered.</param>
/// <param name="Inventory">Its host row with the inventory, read when the stamp was not the one the reader holds; null otherwise.</param>
/// <param name="Problem">Why its placements cannot be used (one of them does not read), if they cannot.</param>
public sealed record HostSnapshot(string Host, int Epoch, long Generation, IReadOnlyList<Placement> Placements, bool Enabled = true, bool AgentDown = false,
    string Stamp = "", HostRows? Inventory = null, string? Problem = null);

/// <summary>
/// The one writer of a process's placements. Commits that arrive while another is being written
/// wait and then go together, in one transaction, each behind its own savepoint (group commit): a
/// refused create rolls back alone, and the transaction's cost is paid once per batch instead of once
/// per server.
/// <para>
/// The writer knows, per host, the generation the store is at after its own writes. A commit moves it
/// by compare-and-swap; when another process moved it first, the host turns stale and every commit
/// planned on it fails until the placer takes the store's word for the host again (a refresh, which
/// opens a new epoch). Commits are tagged with the epoch they were planned in, so none planned on an
/// old view can slip in after a refresh.
/// </para>
/// </summary>
public sealed class PlacementWriter(PlacementStore store, int maxBatch = 64)
{
    private sealed class HostVersion
    {
        public long Generation;
        public int Epoch;
        public bool Stale;
    }

    /// <param name="Existing">A claim for a server that exists (a resize's or migration's new placement): no server row is written.</param>
    private sealed record Commit(string ServerId, string Project, StoredDocument<Placement> Stored, int Epoch, WithinCommit? Within, StoredDocument<ServerSpec>? Spec,
        TaskCompletionSource<CommitOutcome> Done, bool Existing = false)
    {
        public Placement Placement => Stored.Value;
    }

    private readonly Dictionary<string, HostVersion> _hosts = new(StringComparer.Ordinal);
    private readonly Queue<object> _queue = new();
    private readonly Lock _lock = new();
    private bool _draining;

    /// <summary>Batches written so far (and their commits): how well group commit is doing.</summary>
    public (long Batches, long Commits) Written { get; private set; }

    /// <summary>Commits one placement (after the ones queued before it); the outcome says whether it is in the store.</summary>
    /// <param name="existing">The server exists: the placement is claimed beside what it holds (<see cref="PlacementStore.ClaimInAsync"/>); <paramref name="within"/> moves it there.</param>
    public Task<CommitOutcome> CommitAsync(string serverId, string project, Placement placement, int epoch, WithinCommit? within, StoredDocument<ServerSpec>? spec = null,
        bool existing = false)
    {
        var done = new TaskCompletionSource<CommitOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        // Serialized here, on the caller's thread: the writer's time is what every create waits for.
        Enqueue(new Commit(serverId, project, StoredDocument<Placement>.Of(placement), epoch, within, spec, done, existing));
        return done.Task;
    }

    /// <summary>
    /// Gives back one placement of a server that keeps another (<see cref="PlacementStore.ReleasePlacementAsync"/>). True when the host
    /// was not changed by anyone else meanwhile (the caller may give the placement back in memory); false: the host needs a refresh.
    /// </summary>
    public Task<bool> ReleasePlacementAsync(string serverId, Placement placement, WithinCommit within) =>
        Run(async () =>
        {
            var generation = await store.ReleasePlacementAsync(serverId, placement, within);
            lock (_lock)
            {
                if (_hosts.TryGetValue(placement.Host, out var v) && !v.Stale && v.Generation + 1 == generation)
                {
                    v.Generation = generation;
                    return true;
                }
                if (v is not null)
                    v.Stale = true;
                return false;
            }
        });

    /// <summary>Takes the store's word for hosts: the named ones, or (null) every one whose generation is not the one this writer expects.</summary>
    /// <param name="stampOf">The stamp of the inventory the caller holds for a host (null: none): a host whose stamp moved comes with its inventory.
    /// Called on the writer's thread while the caller waits for the answer.</param>
    public Task<IReadOnlyList<HostSnapshot>> RefreshAsync(IReadOnlyCollection<string>? hosts, Func<string, string?>? stampOf = null) =>
        Run(async () =>
        {
            var names = hosts ?? (await store.GenerationsAsync()).Where(g => Expected(g.Key) != g.Value).Select(g => g.Key).ToList();
            var snapshots = new List<HostSnapshot>();
            foreach (var host in names)
            {
                var snapshot = await store.HostSnapshotAsync(host, stampOf?.Invoke(host));
                lock (_lock)
                {
                    var version = _hosts.TryGetValue(host, out var v) ? v : _hosts[host] = new HostVersion();
                    version.Epoch++;
                    version.Generation = snapshot.Generation;
                    version.Stale = false;
                    snapshots.Add(snapshot with { Epoch = version.Epoch });
                }
            }
            return (IReadOnlyList<HostSnapshot>)snapshots;
        });

    /// <summary>
    /// Deletes a server and its claims (or, with a fault, keeps it in ERROR without them). The placement comes back when the host was not changed by
    /// anyone else (so the caller may give it back in memory); null when the server was gone or the
    /// host needs a refresh.
    /// </summary>
    public Task<(bool Released, Placement? Placement, string? Host)> ReleaseAsync(string serverId, WithinCommit? within, string? fault = null) =>
        Run(async () =>
        {
            var (released, host, placement, generation, source) = await store.ReleaseServerAsync(serverId, within, fault);
            if (source is not null)
            {
                // A resize or migration in progress: two placements went, on one host or two; both are read again.
                MarkStale(source);
                if (host is not null)
                    MarkStale(host);
                return (released, (Placement?)null, host ?? source);
            }
            if (host is null)
                return (released, (Placement?)null, (string?)null);
            lock (_lock)
            {
                if (_hosts.TryGetValue(host, out var v) && !v.Stale && v.Generation + 1 == generation)
                {
                    v.Generation = generation;
                    return (released, placement, host);
                }
                if (v is not null)
                    v.Stale = true;
                return (released, null, host);
            }
        });

    private long? Expected(string host)
    {
        lock (_lock)
            return _hosts.TryGetValue(host, out var v) && !v.Stale ? v.Generation : null;
    }

    private sealed record Job(Func<Task> Body);

    private Task<T> Run<T>(Func<Task<T>> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Job(async () =>
        {
            try
            {
                done.SetResult(await body());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }));
        return done.Task;
    }

    private void Enqueue(object op)
    {
        lock (_lock)
        {
            _queue.Enqueue(op);
            if (_draining)
                return;
            _draining = true;
        }
        _ = Task.Run(DrainAsync);
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            var batch = new List<Commit>();
            Job? job = null;
            lock (_lock)
            {
                while (_queue.TryPeek(out var next) && batch.Count < maxBatch)
                {
                    if (next is Job j)
                    {
                        if (batch.Count == 0)
                        {
                            job = j;
                            _queue.Dequeue();
                        }
                        break;
                    }
                    batch.Add((Commit)_queue.Dequeue());
                }
                if (job is null && batch.Count == 0)
                {
                    _draining = false;
                    return;
                }
            }
            if (job is not null)
                await job.Body();
            else
                await WriteAsync(batch);
        }
    }

    private async Task WriteAsync(List<Commit> batch)
    {
        // Host rows are locked in one order, by name, in every process: two batches over the same hosts
        // wait for each other instead of deadlocking. Commits of one host keep their order (a stable sort):
        // each expects the generation the one before it leaves.
        batch = [.. batch.OrderBy(c => c.Placement.Host, StringComparer.Ordinal)];
        var outcomes = new CommitOutcome[batch.Count];
        // Generations as they will be if this transaction commits; applied only when it does.
        var moved = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await using var connection = await store.Factory.OpenAsync();
            await using var tx = await connection.BeginTransactionAsync();
            // A batch of one needs no savepoint: when it is refused, the whole transaction is rolled back.
            var isolate = batch.Count > 1;
            for (var i = 0; i < batch.Count; i++)
            {
                var c = batch[i];
                long expected;
                lock (_lock)
                {
                    if (!_hosts.TryGetValue(c.Placement.Host, out var v) || v.Stale || v.Epoch != c.Epoch)
                    {
                        outcomes[i] = CommitOutcome.StaleHost;
                        continue;
                    }
                    expected = moved.TryGetValue(c.Placement.Host, out var m) ? m : v.Generation;
                }
                var savepoint = "c" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (isolate)
                    await tx.SaveAsync(savepoint);
                CommitOutcome outcome;
                try
                {
                    outcome = c.Existing
                        ? await store.ClaimInAsync(connection, tx, c.ServerId, c.Placement, expected, c.Within)
                        : await store.CommitInAsync(connection, tx, c.ServerId, c.Project, c.Stored, expected, c.Spec, c.Within);
                }
                catch (Exception e)
                {
                    if (isolate)
                        await tx.RollbackAsync(savepoint);
                    if (StoreConnectionFactory.IsRetryable(e))
                    {
                        // A deadlock's victim (locks other than the host rows, such as ports, still meet in any order) or a
                        // serialization failure: nothing of it is written; it is planned again, as after a lost race.
                        outcomes[i] = CommitOutcome.StaleHost;
                        MarkStale(c.Placement.Host);
                        continue;
                    }
                    outcomes[i] = CommitOutcome.Failed;
                    c.Done.TrySetException(e);
                    continue;
                }
                if (outcome == CommitOutcome.Committed)
                {
                    if (isolate)
                        await tx.ReleaseAsync(savepoint);
                    moved[c.Placement.Host] = expected + 1;
                }
                else
                {
                    if (isolate)
                        await tx.RollbackAsync(savepoint);
                    if (outcome is CommitOutcome.StaleHost or CommitOutcome.ResourceTaken)
                        MarkStale(c.Placement.Host);
                }
                outcomes[i] = outcome;
            }
            if (moved.Count == 0)
            {
                await tx.RollbackAsync();
            }
            else
            {
                if (store.BeforeCommit is not null)
                    await store.BeforeCommit();
                await tx.CommitAsync();
            }
        }
        catch (Exception e)
        {
            // Nothing of the batch is in the store (or, if the commit itself was lost, nobody knows): start again from the store.
            // A batch refused as a deadlock's victim or for serialization is certainly not in the store: its creates are planned again.
            var retry = StoreConnectionFactory.IsRetryable(e);
            foreach (var c in batch)
            {
                MarkStale(c.Placement.Host);
                if (retry)
                    c.Done.TrySetResult(CommitOutcome.StaleHost);
                else
                    c.Done.TrySetException(e);
            }
            return;
        }
        lock (_lock)
        {
            foreach (var (host, generation) in moved)
                _hosts[host].Generation = generation;
            Written = (Written.Batches + 1, Written.Commits + outcomes.Count(o => o == CommitOutcome.Committed));
        }
        for (var i = 0; i < batch.Count; i++)
        {
            if (outcomes[i] != CommitOutcome.Failed)
                batch[i].Done.TrySetResult(outcomes[i]);
        }
    }

    private void MarkStale(string host)
    {
        lock (_lock)
        {
            if (_hosts.TryGetValue(host, out var v))
                v.Stale = true;
        }
    }
}

