using Dapper;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.State;
using Isola.Store;
using Isola.Tests.Scheduling;
using Npgsql;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Store;

/// <summary>
/// Two server processes' writers on one PostgreSQL, their batches held at chosen points by the
/// store's test seams so that each takes the row locks it would take in a real race.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WriterLockTests(PostgresServer postgres)
{
    private static HostBuilder SmallHost(string name) => new HostBuilder(name).Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2);

    private static Placement Plan(string host, string server) =>
        new Scheduler(Fleet(host)).Schedule(Request(server, Dedicated(1, 1024))).Placement!;

    private static FleetState Fleet(string host)
    {
        var fleet = new FleetState();
        fleet.AddHost(SmallHost(host).Build());
        return fleet;
    }

    private async Task<(string Connection, PlacementStore One, PlacementStore Other)> StoresAsync(params string[] hosts)
    {
        var connection = await postgres.CreateDatabaseAsync();
        var one = new PlacementStore(StoreConnectionFactory.Postgres(connection), TimeProvider.System);
        await one.MigrateAsync();
        foreach (var host in hosts)
            Assert.Empty(await one.UpsertHostAsync(SmallHost(host).Build()));
        return (connection, one, new PlacementStore(StoreConnectionFactory.Postgres(connection), TimeProvider.System));
    }

    /// <summary>Whether some session of the test's database waits for a lock.</summary>
    private static async Task<bool> SomeoneWaitsAsync(string connection)
    {
        await using var c = new NpgsqlConnection(connection);
        await c.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come within 60 s");
            await Task.Delay(20);
        }
    }

    private static async Task<string> Outcome(Task<CommitOutcome> commit)
    {
        try
        {
            return (await commit).ToString();
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>
    /// A writer that is busy (its first batch held before COMMIT) collects the next commits into one
    /// batch; the answer is the writer and the epochs it read.
    /// </summary>
    private static async Task<(PlacementWriter Writer, IReadOnlyDictionary<string, int> Epochs, TaskCompletionSource Release)> BusyWriterAsync(PlacementStore store,
        string warmHost, params string[] hosts)
    {
        var writer = new PlacementWriter(store);
        var epochs = (await writer.RefreshAsync([warmHost, .. hosts])).ToDictionary(s => s.Host, s => s.Epoch);
        var held = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var batches = 0;
        store.BeforeCommit = async () =>
        {
            if (Interlocked.Increment(ref batches) == 1)
            {
                held.SetResult();
                await release.Task;
            }
        };
        _ = writer.CommitAsync($"warm-{warmHost}", "p1", Plan(warmHost, $"warm-{warmHost}"), epochs[warmHost], null);
        await held.Task;
        return (writer, epochs, release);
    }

    /// <summary>
    /// Batches [h1, h2] in one process and [h2, h1] in the other, each holding its first host row
    /// until the other holds its first too (or waits for it): in arrival order that is a deadlock and
    /// PostgreSQL kills one (40P01); in host order the second waits for the first, which commits both,
    /// and the second's commits are stale (planned again by their placer).
    /// </summary>
    [Fact]
    public async Task Batches_over_the_same_hosts_in_opposite_orders_wait_for_each_other_instead_of_deadlocking()
    {
        var (connection, one, other) = await StoresAsync("h1", "h2", "wa", "wb");
        var firstOfOne = new TaskCompletionSource();
        var firstOfOther = new TaskCompletionSource();
        Func<string, Task> Hold(TaskCompletionSource mine, TaskCompletionSource theirs)
        {
            var seen = 0;
            return async host =>
            {
                if (host is not ("h1" or "h2") || Interlocked.Exchange(ref seen, 1) == 1)
                    return;
                mine.TrySetResult();
                await WaitUntilAsync(async () => theirs.Task.IsCompleted || await SomeoneWaitsAsync(connection));
            };
        }
        one.AfterCommitWrites = Hold(firstOfOne, firstOfOther);
        other.AfterCommitWrites = Hold(firstOfOther, firstOfOne);
        var (a, aEpochs, aRelease) = await BusyWriterAsync(one, "wa", "h1", "h2");
        var (b, bEpochs, bRelease) = await BusyWriterAsync(other, "wb", "h1", "h2");
        var fromOne = new[] { a.CommitAsync("a1", "p1", Plan("h1", "a1"), aEpochs["h1"], null), a.CommitAsync("a2", "p1", Plan("h2", "a2"), aEpochs["h2"], null) };
        var fromOther = new[] { b.CommitAsync("b1", "p1", Plan("h2", "b1"), bEpochs["h2"], null), b.CommitAsync("b2", "p1", Plan("h1", "b2"), bEpochs["h1"], null) };
        aRelease.SetResult();
        bRelease.SetResult();

        var outcomes = new[] { await Task.WhenAll(fromOne.Select(Outcome)), await Task.WhenAll(fromOther.Select(Outcome)) };
        var seen = string.Join(" | ", outcomes.Select(o => string.Join(", ", o)));
        // One batch committed whole; the other found both hosts moved.
        Assert.True(outcomes.Count(o => o.All(x => x == "Committed")) == 1 && outcomes.Count(o => o.All(x => x == "StaleHost")) == 1, seen);
        Assert.Equal(4, await one.ServerCountAsync()); // the two warm-ups and the batch that won
    }

    /// <summary>
    /// Locks beyond the host rows (a port bound in the commit) still meet in any order: a batch
    /// [h1 + row x, h2] against [h2 + row x] deadlocks whatever the host order. PostgreSQL's victim
    /// is answered as a lost race (its create is planned again), never as a failure.
    /// </summary>
    [Fact]
    public async Task A_deadlock_victim_is_a_stale_host_not_a_failure()
    {
        var (connection, one, other) = await StoresAsync("h1", "h2", "wa", "x");
        var heldX = new TaskCompletionSource();
        var first = 0;
        one.AfterCommitWrites = async host =>
        {
            if (host != "h1" || Interlocked.Exchange(ref first, 1) == 1)
                return;
            heldX.TrySetResult();
            await WaitUntilAsync(() => SomeoneWaitsAsync(connection));
        };
        WithinCommit lockX = (c, tx) => c.ExecuteAsync("UPDATE hosts SET revision = revision WHERE name = 'x'", transaction: tx);
        var (a, aEpochs, aRelease) = await BusyWriterAsync(one, "wa", "h1", "h2");
        var fromOne = new[] { a.CommitAsync("a1", "p1", Plan("h1", "a1"), aEpochs["h1"], lockX), a.CommitAsync("a2", "p1", Plan("h2", "a2"), aEpochs["h2"], null) };
        aRelease.SetResult();
        await heldX.Task;
        var b = new PlacementWriter(other);
        var bEpochs = (await b.RefreshAsync(["h2"])).ToDictionary(s => s.Host, s => s.Epoch);
        var fromOther = b.CommitAsync("b1", "p1", Plan("h2", "b1"), bEpochs["h2"], lockX);

        var outcomes = (await Task.WhenAll(fromOne.Append(fromOther).Select(Outcome))).ToList();
        var seen = string.Join(", ", outcomes);
        Assert.True(outcomes.All(o => o is "Committed" or "StaleHost"), seen);
        Assert.Equal(1, outcomes.Count(o => o == "StaleHost"));
        Assert.Equal("Committed", outcomes[0]);
        Assert.Equal(3, await one.ServerCountAsync()); // the warm-up, and the two that were not the victim
    }
}
