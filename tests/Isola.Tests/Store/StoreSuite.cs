using Isola.Coordination;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Store;
using Isola.Tests.Scheduling;
using Isola.Tests.Support;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Store;

/// <summary>One suite, run against SQLite and against PostgreSQL.</summary>
public abstract class StoreSuite
{
    protected abstract Task<PlacementStore> NewStoreAsync();

    private async Task<PlacementStore> StoreWithHosts(params HostBuilder[] hosts)
    {
        var store = await NewStoreAsync();
        await store.MigrateAsync();
        foreach (var h in hosts)
            await store.UpsertHostAsync(h.Build(), zone: "az1", aggregates: ["gold"]);
        return store;
    }

    private static HostBuilder SmallHost(string name) => new HostBuilder(name).Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2);

    private static async Task<Placement> Plan(PlacementStore store, PlacementRequest request)
    {
        var placer = await StorePlacer.LoadAsync(store);
        return new Scheduler(placer.Fleet).Schedule(request).Placement!;
    }

    [Fact]
    public async Task Migrations_apply_once_and_hosts_round_trip()
    {
        var store = await NewStoreAsync();
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], await Migrator.MigrateAsync(store.Factory, TimeProvider.System));
        Assert.Empty(await Migrator.MigrateAsync(store.Factory, TimeProvider.System));
        var built = SmallHost("h1").Build();
        await store.UpsertHostAsync(built, "az1", ["gold", "sriov"]);
        await store.UpsertHostAsync(built, "az2", ["gold"]);
        var host = Assert.Single(await store.HostsAsync());
        // The second registration moved the generation: every process reads the host (and its inventory) again.
        Assert.Equal(("h1", "az2", 1L, true), (host.Name, host.Zone, host.Generation, host.Enabled));
        Assert.Equal(["gold"], host.Aggregates);
        Assert.Equal(InventoryJson(built), InventoryJson(host.Inventory));
    }

    /// <summary>
    /// An agent that reported and fell silent is marked down once (its generation moves once, not with
    /// every heartbeat or sweep), every process's fleet skips its host once it reads it again, and its
    /// next report marks it up. A host whose agent never reported is never marked.
    /// </summary>
    [Fact]
    public async Task A_silent_agent_is_marked_down_once_and_up_by_its_next_report()
    {
        var store = await StoreWithHosts(SmallHost("h1"), SmallHost("h2"), SmallHost("h3"));
        var clock = new ShiftedClock();
        var lifecycle = new Isola.Store.Lifecycle.LifecycleStore(store.Factory, clock);
        var one = await StorePlacer.LoadAsync(store);
        var two = await StorePlacer.LoadAsync(store);
        var heartbeat = new Isola.Store.Lifecycle.AgentReport(0, new Dictionary<string, string>(), new Dictionary<string, string>());
        foreach (var host in new[] { "h1", "h2", "h1", "h2" })
            Assert.False((await lifecycle.ApplyReportAsync(host, heartbeat)).AgentBackUp);
        var before = await store.GenerationsAsync();
        Assert.Empty(await lifecycle.MarkSilentAgentsDownAsync(clock.GetUtcNow() - TimeSpan.FromSeconds(30)));
        Assert.Equal(before, await store.GenerationsAsync());

        clock.Advance(TimeSpan.FromSeconds(31));
        await lifecycle.ApplyReportAsync("h2", heartbeat);
        Assert.Equal(["h1"], await lifecycle.MarkSilentAgentsDownAsync(clock.GetUtcNow() - TimeSpan.FromSeconds(30)));
        Assert.Empty(await lifecycle.MarkSilentAgentsDownAsync(clock.GetUtcNow() - TimeSpan.FromSeconds(30)));
        var after = await store.GenerationsAsync();
        Assert.Equal((before["h1"] + 1, before["h2"], before["h3"]), (after["h1"], after["h2"], after["h3"]));
        Assert.NotNull((await lifecycle.AgentsAsync("h1"))["h1"].DownAt);

        // One process syncs, the other learns it from a commit that meets the moved generation: neither places on h1.
        await one.SyncAsync();
        Assert.True(one.Fleet.Host("h1")!.AgentDown);
        for (var i = 0; i < 4; i++)
        {
            Assert.NotEqual("h1", (await one.PlaceAsync($"a{i}", "p1", Request($"a{i}", Dedicated(1, 1024)))).Placement!.Host);
            Assert.NotEqual("h1", (await two.PlaceAsync($"b{i}", "p1", Request($"b{i}", Dedicated(1, 1024)))).Placement!.Host);
        }

        Assert.True((await lifecycle.ApplyReportAsync("h1", heartbeat)).AgentBackUp);
        Assert.Null((await lifecycle.AgentsAsync("h1"))["h1"].DownAt);
        Assert.Equal(before["h1"] + 2, (await store.GenerationsAsync())["h1"]);
        await one.SyncAsync();
        Assert.False(one.Fleet.Host("h1")!.AgentDown);
    }

    [Fact]
    public async Task A_commit_writes_the_server_and_one_claim_per_resource_and_moves_the_generation()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var placement = await Plan(store, Request("vm1", Dedicated(2, 1024), Ha("bond")));
        var (outcome, generation) = await store.CommitAsync("s1", "p1", placement, 0);
        Assert.Equal((CommitOutcome.Committed, 1L), (outcome, generation));
        var claims = await store.ClaimsAsync();
        Assert.Equal(2, claims.Count(c => c.Kind == "pcpu"));
        Assert.Equal(2, claims.Count(c => c.Kind == "vf"));
        var (stored, placements) = await store.HostStateAsync("h1");
        Assert.Equal(1, stored);
        Assert.Equal(placement with { Score = 0 }, placements.Single() with { Score = 0 }, new PlacementComparer());
    }

    [Fact]
    public async Task A_commit_on_a_stale_generation_writes_nothing()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var first = await Plan(store, Request("vm1", Dedicated(2, 1024)));
        var second = await Plan(store, Request("vm2", Dedicated(2, 1024)));
        Assert.Equal(CommitOutcome.Committed, (await store.CommitAsync("s1", "p1", first, 0)).Outcome);
        // Planned on generation 0 too: the same pCPUs. The store says the view is stale.
        Assert.Equal((CommitOutcome.StaleHost, 1L), await store.CommitAsync("s2", "p1", second, 0));
        Assert.Equal(1, await store.ServerCountAsync());
        Assert.Equal(2, (await store.ClaimsAsync()).Count);
    }

    [Fact]
    public async Task A_resource_held_by_another_server_is_never_handed_out_twice()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var first = await Plan(store, Request("vm1", Dedicated(2, 1024)));
        var second = await Plan(store, Request("vm2", Dedicated(2, 1024)));
        await store.CommitAsync("s1", "p1", first, 0);
        // Even with the right generation, the same pCPUs cannot be claimed again.
        Assert.Equal((CommitOutcome.ResourceTaken, 1L), await store.CommitAsync("s2", "p1", second, 1));
        Assert.Equal(1, await store.ServerCountAsync());
        Assert.Equal(1, (await store.HostsAsync()).Single().Generation);
    }

    [Fact]
    public async Task Names_are_unique_per_project()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var placer = await StorePlacer.LoadAsync(store);
        Assert.NotNull((await placer.PlaceAsync("s1", "p1", Request("web", Dedicated(1, 1024)))).Placement);
        Assert.NotNull((await placer.PlaceAsync("s2", "p2", Request("web", Dedicated(1, 1024)))).Placement);
        var again = await placer.PlaceAsync("s3", "p1", Request("web", Dedicated(1, 1024)));
        Assert.Null(again.Placement);
        Assert.Equal(CommitOutcome.NameTaken, again.LastOutcome);
        Assert.Equal(2, await store.ServerCountAsync());
    }

    [Fact]
    public async Task A_crash_between_claim_and_commit_leaks_nothing()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var placement = await Plan(store, Request("vm1", Dedicated(2, 1024), Direct("p")));
        store.BeforeCommit = () => throw new IOException("the process died here");
        await Assert.ThrowsAsync<IOException>(() => store.CommitAsync("s1", "p1", placement, 0));
        store.BeforeCommit = null;
        Assert.Equal(0, await store.ServerCountAsync());
        Assert.Empty(await store.ClaimsAsync());
        Assert.Equal(0, (await store.HostsAsync()).Single().Generation);
        Assert.Equal(CommitOutcome.Committed, (await store.CommitAsync("s1", "p1", placement, 0)).Outcome);
    }

    [Fact]
    public async Task Release_gives_everything_back_and_is_idempotent()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var placer = await StorePlacer.LoadAsync(store);
        var before = placer.Fleet.Host("h1")!.Fingerprint();
        var placed = (await placer.PlaceAsync("s1", "p1", Request("vm1", Dedicated(3, 1024), Ha("b")))).Placement!;
        Assert.True(await placer.ReleaseAsync("s1", placed.Host));
        Assert.False(await placer.ReleaseAsync("s1", placed.Host));
        Assert.Empty(await store.ClaimsAsync());
        Assert.Equal(before, placer.Fleet.Host("h1")!.Fingerprint());
        Assert.Equal(before, (await StorePlacer.LoadAsync(store)).Fleet.Host("h1")!.Fingerprint());
    }

    [Fact]
    public async Task A_fleet_loaded_from_the_store_continues_where_the_other_left_off()
    {
        var store = await StoreWithHosts(SmallHost("h1"), SmallHost("h2"));
        var a = await StorePlacer.LoadAsync(store);
        for (var i = 0; i < 5; i++)
            await a.PlaceAsync($"s{i}", "p1", Request($"vm{i}", Dedicated(1, 1024), Direct("p")));
        var b = await StorePlacer.LoadAsync(store);
        Assert.Equal(a.Fleet.Hosts.Select(h => h.Fingerprint()), b.Fleet.Hosts.Select(h => h.Fingerprint()));
    }

    /// <summary>
    /// Two server processes (two fleets loaded from one store) create servers in parallel until the
    /// fleet is full: no pCPU or VF is ever given twice, every server that fits is placed, and
    /// every one that does not is explained.
    /// </summary>
    [Fact]
    public async Task Two_processes_never_hand_out_the_same_pcpu_or_vf()
    {
        var store = await StoreWithHosts(SmallHost("h1"), SmallHost("h2"), SmallHost("h3"));
        var one = await StorePlacer.LoadAsync(store);
        var two = await StorePlacer.LoadAsync(store);
        // Each host: 7 pinnable pCPUs, 8 VFs, 8 x 1 GiB pages -> 7 servers of 1 pCPU + 1 VF + 1 GiB.
        const int capacity = 21;
        async Task<List<StoredPlacementResult>> Create(StorePlacer placer, string prefix) =>
            [.. await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
                placer.PlaceAsync($"{prefix}{i}", "p1", Request($"{prefix}-vm{i}", Dedicated(1, 1024), Direct("p")))))];
        var results = (await Task.WhenAll(Task.Run(() => Create(one, "a")), Task.Run(() => Create(two, "b")))).SelectMany(r => r).ToList();

        // Every failure is explained: no room left, or a lost race (retryable).
        Assert.All(results.Where(r => r.Placement is null), r => Assert.Matches("^(no valid host: |lost \\d+ races)", r.Explain()));
        var retried = await Task.WhenAll(results.Where(r => r.Placement is null && r.LastOutcome is CommitOutcome.StaleHost)
            .Select((r, i) => one.PlaceAsync($"retry{i}", "p1", Request($"retry-vm{i}", Dedicated(1, 1024), Direct("p")))));
        var placed = results.Concat(retried).Where(r => r.Placement is not null).ToList();
        Assert.True(placed.Count <= capacity);
        var missing = capacity - placed.Count;
        for (var i = 0; i < missing; i++)
            Assert.NotNull((await one.PlaceAsync($"fill{i}", "p1", Request($"fill-vm{i}", Dedicated(1, 1024), Direct("p")))).Placement);
        Assert.Equal(capacity, await store.ServerCountAsync());
        Assert.Null((await two.PlaceAsync("extra", "p1", Request("extra-vm", Dedicated(1, 1024), Direct("p")))).Placement);
        var claims = await store.ClaimsAsync();
        Assert.Equal(claims.Count, claims.Select(c => (c.Host, c.Kind, c.Item)).Distinct().Count());
        var stored = (await StorePlacer.LoadAsync(store)).Fleet;
        foreach (var host in stored.Hosts)
        {
            var (_, onHost) = await store.HostStateAsync(host.Name);
            var cpus = onHost.SelectMany(p => p.AllPinned).ToList();
            var vfs = onHost.SelectMany(p => p.Vfs.Select(v => v.Vf)).ToList();
            Assert.Equal(cpus.Count, cpus.Distinct().Count());
            Assert.Equal(vfs.Count, vfs.Distinct().Count());
        }
        // Both processes' views agree with the store once reloaded.
        var fresh = await StorePlacer.LoadAsync(store);
        Assert.All(fresh.Fleet.Hosts, h => Assert.Equal(0, h.FreeDedicatedThreads));
    }

    /// <summary>
    /// Commits that queue up while one is being written go together in the next transaction, each
    /// behind its own savepoint: a refused one (a name taken) rolls back alone, the others commit, and
    /// the fleet in memory ends exactly as the store.
    /// </summary>
    [Fact]
    public async Task Queued_commits_go_in_one_transaction_and_a_refused_one_rolls_back_alone()
    {
        var store = await StoreWithHosts(SmallHost("h1"), SmallHost("h2"));
        var placer = await StorePlacer.LoadAsync(store);
        var first = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var batches = 0;
        store.BeforeCommit = async () =>
        {
            if (Interlocked.Increment(ref batches) == 1)
            {
                first.SetResult();
                await release.Task;
            }
        };
        var blocked = placer.PlaceAsync("s0", "p1", Request("vm0", Dedicated(1, 1024), Direct("p")));
        await first.Task;
        var queued = new List<Task<StoredPlacementResult>>();
        for (var i = 1; i <= 6; i++)
            queued.Add(placer.PlaceAsync($"s{i}", "p1", Request(i == 4 ? "vm2" : $"vm{i}", Dedicated(1, 1024), Direct("p"))));
        // Every one of them is planned and reserved (and so waits for the writer) before the first commit ends.
        await WaitUntil(() => placer.Fleet.Hosts.Sum(h => 7 - h.FreeDedicatedThreads) == 7);
        release.SetResult();
        var results = await Task.WhenAll(queued.Prepend(blocked));
        store.BeforeCommit = null;

        Assert.Equal((2L, 6L), placer.Written);
        Assert.Equal(CommitOutcome.NameTaken, results[4].LastOutcome);
        Assert.Equal(6, results.Count(r => r.Placement is not null));
        Assert.Equal(6, await store.ServerCountAsync());
        var fresh = await StorePlacer.LoadAsync(store);
        Assert.Equal(fresh.Fleet.Hosts.Select(h => h.Fingerprint()), placer.Fleet.Hosts.Select(h => h.Fingerprint()));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
            await Task.Delay(10);
        Assert.True(condition());
    }

    /// <summary>A batch that fails as a whole (the process dies before COMMIT) leaves nothing, and the placer recovers from the store.</summary>
    [Fact]
    public async Task A_failed_batch_leaves_nothing_and_the_next_create_succeeds()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var placer = await StorePlacer.LoadAsync(store);
        var before = placer.Fleet.Host("h1")!.Fingerprint();
        store.BeforeCommit = () => throw new IOException("the disk went away");
        await Assert.ThrowsAsync<IOException>(() => placer.PlaceAsync("s1", "p1", Request("vm1", Dedicated(2, 1024), Direct("p"))));
        store.BeforeCommit = null;
        Assert.Equal(0, await store.ServerCountAsync());
        Assert.Empty(await store.ClaimsAsync());
        Assert.Equal(before, placer.Fleet.Host("h1")!.Fingerprint());
        Assert.NotNull((await placer.PlaceAsync("s1", "p1", Request("vm1", Dedicated(2, 1024), Direct("p")))).Placement);
    }

    [Fact]
    public async Task A_host_reregistered_with_the_macs_isola_set_keeps_its_placements()
    {
        var store = await StoreWithHosts(SmallHost("h1"));
        var placer = await StorePlacer.LoadAsync(store);
        var placed = (await placer.PlaceAsync("s1", "p1", Request("vm1", Dedicated(1, 1024), Direct("p")))).Placement!;
        // The agent reports the inventory again: the VF now carries the port's MAC.
        var inventory = SmallHost("h1").Build();
        var vf = placed.Vfs[0];
        inventory = inventory with
        {
            Devices = inventory.Devices.Select(d => d.Address != vf.Pf ? d : d with
            {
                Vfs = d.Vfs.Select(v => v.Address != vf.Vf ? v : v with { State = Isola.Domain.Pci.VfState.Reset with { Mac = vf.Mac } }).ToList(),
            }).ToList(),
        };
        await store.UpsertHostAsync(inventory);
        await placer.AddOrRefreshHostAsync("h1");
        Assert.False(placer.Fleet.Host("h1")!.PoolOf(vf.Pf)!.IsFree(placer.Fleet.Host("h1")!.PoolOf(vf.Pf)!.SlotOf(vf.Vf)));
        Assert.True(await placer.ReleaseAsync("s1", "h1"));
    }

    private static string InventoryJson(Isola.Domain.Topology.HostTopology h) => Isola.Domain.Serialization.InventoryDocument.Of(h).ToJson();

    private sealed class PlacementComparer : IEqualityComparer<Placement>
    {
        public bool Equals(Placement? x, Placement? y) =>
            System.Text.Json.JsonSerializer.Serialize(x, Isola.Domain.Serialization.IsolaJson.Compact) == System.Text.Json.JsonSerializer.Serialize(y, Isola.Domain.Serialization.IsolaJson.Compact);

        public int GetHashCode(Placement obj) => 0;
    }
}

public sealed class SqliteStoreTests : StoreSuite, IDisposable
{
    private readonly TempDir _dir = new();

    protected override Task<PlacementStore> NewStoreAsync() =>
        Task.FromResult(new PlacementStore(StoreConnectionFactory.Sqlite(_dir.Sub($"isola-{Guid.NewGuid():N}.db")), TimeProvider.System));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresServer server) : StoreSuite
{
    protected override async Task<PlacementStore> NewStoreAsync() =>
        new(StoreConnectionFactory.Postgres(await server.CreateDatabaseAsync()), TimeProvider.System);
}
