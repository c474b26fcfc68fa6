using Dapper;
using Isola.Store;
using Isola.Store.Listing;
using Isola.Store.Resources;
using Isola.Tests.Support;

namespace Isola.Tests.Store.Listing;

/// <summary>Lists read a page at a time in SQL (keyset on created_at, id; hosts by name) with their filters; on SQLite and on PostgreSQL.</summary>
public abstract class ListSqlSuite
{
    private readonly ShiftedClock _clock = new();

    protected abstract Task<StoreConnectionFactory> NewFactoryAsync();

    private sealed record World(StoreConnectionFactory Factory, ResourceStore Store, string A, string B);

    private async Task<World> StartAsync()
    {
        var factory = await NewFactoryAsync();
        await Migrator.MigrateAsync(factory, _clock);
        var store = new ResourceStore(factory, _clock);
        return new World(factory, store, (await store.Projects.CreateAsync("tenant-a")).Id, (await store.Projects.CreateAsync("tenant-b")).Id);
    }

    private int _segment;

    private async Task<string> NetworkAsync(World w, string project, string name, bool shared = false)
    {
        var id = ResourceStore.NewId();
        Assert.True(await w.Store.Networks.TryCreateAsync(new NetworkRecord(id, project, name, "vxlan", null, 5000 + Interlocked.Increment(ref _segment), 1450, shared)));
        return id;
    }

    /// <summary>Every page of the project's networks, <paramref name="limit"/> at a time; <paramref name="between"/> runs after each page.</summary>
    private static async Task<List<List<string>>> WalkAsync(World w, string? project, int limit, Func<Task>? between = null)
    {
        var pages = new List<List<string>>();
        string? marker = null;
        do
        {
            var page = await w.Store.Networks.ListAsync(project, page: new PageRequest(limit, marker));
            Assert.InRange(page.Items.Count, 0, limit);
            pages.Add(page.Items.Select(n => n.Id).ToList());
            Assert.True(page.Next is null || page.Next == page.Items[^1].Id);
            marker = page.Next;
            if (between is not null)
                await between();
        }
        while (marker is not null);
        return pages;
    }

    [Fact]
    public async Task Pages_walk_every_item_once_oldest_first_while_others_are_inserted()
    {
        var w = await StartAsync();
        var before = new List<string>();
        for (var i = 0; i < 23; i++)
        {
            // Some share a timestamp: their ids order them.
            if (i % 3 == 0)
                _clock.Advance(TimeSpan.FromMilliseconds(5));
            before.Add(await NetworkAsync(w, w.A, $"net-{i}"));
        }
        var inserted = 0;
        var pages = await WalkAsync(w, w.A, 4, async () =>
        {
            if (inserted >= 6)
                return;
            _clock.Advance(TimeSpan.FromMilliseconds(5));
            await NetworkAsync(w, w.A, $"late-{inserted++}");
        });
        var walked = pages.SelectMany(p => p).ToList();
        Assert.Equal(walked.Count, walked.Distinct().Count());
        Assert.All(before, id => Assert.Single(walked, id));
        // What was inserted later than every page read so far comes after them: the walk is the whole list, in its order.
        Assert.Equal((await w.Store.Networks.ListAsync(w.A)).Items.Select(n => n.Id), walked);
        Assert.Equal(29, walked.Count);
        Assert.All(pages.SkipLast(1), p => Assert.Equal(4, p.Count));
    }

    [Fact]
    public async Task Items_made_at_one_instant_are_paged_by_id()
    {
        var w = await StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
            ids.Add(await NetworkAsync(w, w.A, $"n{i}"));
        await using (var c = await w.Factory.OpenAsync())
            await c.ExecuteAsync("UPDATE networks SET created_at = '2030-01-01T00:00:00.0000000+00:00'");
        var pages = await WalkAsync(w, w.A, 1);
        // In the store's own order of ids (PostgreSQL's collation decides it there), each once.
        Assert.Equal((await w.Store.Networks.ListAsync(w.A)).Items.Select(n => n.Id), pages.SelectMany(p => p));
        Assert.Equal(ids.Order(), pages.SelectMany(p => p).Order());
        Assert.Equal(ids.Count, pages.Count(p => p.Count == 1));
    }

    [Fact]
    public async Task A_marker_that_names_nothing_the_caller_sees_is_refused()
    {
        var w = await StartAsync();
        await NetworkAsync(w, w.A, "mine");
        var theirs = await NetworkAsync(w, w.B, "theirs");
        var e = await Assert.ThrowsAsync<UnknownMarkerException>(() => w.Store.Networks.ListAsync(w.A, page: new PageRequest(2, "no-such-id")));
        Assert.Contains("no network 'no-such-id'", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<UnknownMarkerException>(() => w.Store.Networks.ListAsync(w.A, page: new PageRequest(2, theirs)));
        // An admin (no scope) sees it; a marker that the filter leaves out still starts the page after it.
        Assert.Empty((await w.Store.Networks.ListAsync(null, page: new PageRequest(2, theirs))).Items);
        Assert.Empty((await w.Store.Networks.ListAsync(null, "mine", new PageRequest(2, theirs))).Items);
        await Assert.ThrowsAsync<UnknownMarkerException>(() => w.Store.Networks.ListAsync(null, page: new PageRequest(null, "gone")));
    }

    /// <summary>A server row as a create leaves it, written directly (its spec holds only what the filters read).</summary>
    private static async Task<string> ServerAsync(World w, string project, string name, string status, string? host, string flavor, string? image = null)
    {
        var id = ResourceStore.NewId();
        await using var c = await w.Factory.OpenAsync();
        await c.ExecuteAsync("""
            INSERT INTO servers (id, project_id, name, status, host, spec, image_id, created_at, updated_at)
            VALUES (@id, @project, @name, @status, @host, @spec, @image, @now, @now)
            """, new { id, project, name, status, host, spec = $$"""{"flavor":{"name":"{{flavor}}"},"ports":[]}""", image, now = DateTimeOffset.UtcNow.ToString("O") });
        return id;
    }

    [Fact]
    public async Task Server_filters_are_applied_in_the_query()
    {
        var w = await StartAsync();
        await new PlacementStore(w.Factory, _clock).UpsertHostAsync(new Isola.Tests.Scheduling.HostBuilder("h1").Build(), "az1", []);
        await new PlacementStore(w.Factory, _clock).UpsertHostAsync(new Isola.Tests.Scheduling.HostBuilder("h2").Build(), "az1", []);
        var image = (await w.Store.Images.TryCreateAsync(ResourceStore.NewId(), w.A, "cirros", "qcow2", 0, ImageStore.Private))!;
        var web1 = await ServerAsync(w, w.A, "web-1", ServerStatus.Active, "h1", "small", image.Id);
        var web2 = await ServerAsync(w, w.A, "web-2", ServerStatus.Shutoff, "h2", "large");
        var db = await ServerAsync(w, w.A, "db", ServerStatus.Error, null, "small");
        var other = await ServerAsync(w, w.B, "web-3", ServerStatus.Active, "h1", "small");

        async Task<string[]> Ids(string? project, ServerFilter filter) =>
            (await w.Store.Servers.ListAsync(project, filter, PageRequest.All)).Items.Select(s => s.Id).ToArray();
        Assert.Equal([web1, web2, db], await Ids(w.A, new()));
        Assert.Equal([web1], await Ids(w.A, new(Host: "h1")));
        Assert.Equal([web1, other], await Ids(null, new(Host: "h1")));
        Assert.Equal([web2], await Ids(w.A, new(Status: ServerStatus.Shutoff)));
        Assert.Equal([web1, web2, other], await Ids(null, new(Name: "web-")));
        Assert.Empty(await Ids(null, new(Name: "WEB"))); // a part of the name, with its case
        Assert.Equal([web1], await Ids(w.A, new(Image: "cirros")));
        Assert.Equal([web1], await Ids(w.A, new(Image: image.Id)));
        Assert.Equal([web1, db], await Ids(w.A, new(Flavor: "small")));
        Assert.Equal([other], await Ids(null, new(Project: "tenant-b")));
        Assert.Equal([other], await Ids(null, new(Project: w.B, Host: "h1")));
        Assert.Empty(await Ids(w.A, new(Host: "h1", Status: ServerStatus.Error)));
        // A filtered page: the marker is the last of the previous filtered page.
        var first = await w.Store.Servers.ListAsync(null, new(Flavor: "small"), new PageRequest(2));
        Assert.Equal([web1, db], first.Items.Select(s => s.Id));
        Assert.Equal(db, first.Next);
        var second = await w.Store.Servers.ListAsync(null, new(Flavor: "small"), new PageRequest(2, first.Next));
        Assert.Equal([other], second.Items.Select(s => s.Id));
        Assert.Null(second.Next);
    }

    [Fact]
    public async Task Port_and_host_filters_are_applied_in_the_query()
    {
        var w = await StartAsync();
        var placements = new PlacementStore(w.Factory, _clock);
        foreach (var (name, zone) in new[] { ("h1", "az1"), ("h2", "az2"), ("h3", "az1") })
            await placements.UpsertHostAsync(new Isola.Tests.Scheduling.HostBuilder(name).Build(), zone, []);
        var now = DateTimeOffset.UtcNow;
        await using (var c = await w.Factory.OpenAsync())
        {
            await c.ExecuteAsync("UPDATE hosts SET heartbeat_at = @at WHERE name = 'h1'", new { at = now.ToString("O") });
            await c.ExecuteAsync("UPDATE hosts SET heartbeat_at = @at, enabled = @no WHERE name = 'h2'", new { at = now.AddMinutes(-5).ToString("O"), no = false });
        }
        async Task<string[]> Hosts(HostFilter filter, PageRequest? page = null) =>
            (await placements.HostPageAsync(filter with { SilentSince = now.AddSeconds(-30) }, page ?? PageRequest.All)).Rows.Hosts.Select(h => h.Name).ToArray();
        Assert.Equal(["h1", "h2", "h3"], await Hosts(new()));
        Assert.Equal(["h1", "h3"], await Hosts(new(Zone: "az1")));
        Assert.Equal(["h2"], await Hosts(new(Enabled: false)));
        Assert.Equal(["h1"], await Hosts(new(Agent: "up")));
        Assert.Equal(["h2"], await Hosts(new(Agent: "down")));
        Assert.Equal(["h3"], await Hosts(new(Agent: "never-reported")));
        Assert.Equal(["h3"], await Hosts(new(), new PageRequest(2, "h2")));
        var (_, next) = await placements.HostPageAsync(new HostFilter(), new PageRequest(2));
        Assert.Equal("h2", next);
        await Assert.ThrowsAsync<UnknownMarkerException>(() => placements.HostPageAsync(new HostFilter(), new PageRequest(2, "h9")));

        var lan = await NetworkAsync(w, w.A, "lan");
        var wan = await NetworkAsync(w, w.A, "wan");
        var vm = await ServerAsync(w, w.A, "vm", ServerStatus.Active, "h1", "small");
        async Task<string> PortAsync(string name, string network, string status, string? server)
        {
            var id = ResourceStore.NewId();
            await using var c = await w.Factory.OpenAsync();
            await c.ExecuteAsync("""
                INSERT INTO ports (id, project_id, network_id, name, mac, status, server_id, spec, created_at)
                VALUES (@id, @project, @network, @name, @mac, @status, @server, '{}', @now)
                """, new { id, project = w.A, network, name, mac = $"fa:16:3e:00:00:0{name[^1]}", status, server, now = DateTimeOffset.UtcNow.ToString("O") });
            return id;
        }
        var p1 = await PortAsync("p1", lan, "ACTIVE", vm);
        var p2 = await PortAsync("p2", lan, "DOWN", null);
        var p3 = await PortAsync("p3", wan, "BOUND", vm);
        async Task<string[]> Ports(PortFilter filter) => (await w.Store.Ports.ListAsync(w.A, filter)).Items.Select(p => p.Id).ToArray();
        Assert.Equal([p1, p2], await Ports(new(Network: "lan")));
        Assert.Equal([p3], await Ports(new(Network: wan)));
        Assert.Equal([p1, p3], await Ports(new(Device: "vm")));
        Assert.Equal([p1, p3], await Ports(new(Device: vm)));
        Assert.Equal([p2], await Ports(new(Status: "DOWN")));
        Assert.Equal([p3], await Ports(new(Name: "p3")));
        Assert.Empty((await w.Store.Ports.ListAsync(w.B, new(Network: "lan"))).Items);
    }
}

public sealed class SqliteListSqlTests : ListSqlSuite, IDisposable
{
    private readonly TempDir _dir = new();

    protected override Task<StoreConnectionFactory> NewFactoryAsync() =>
        Task.FromResult(StoreConnectionFactory.Sqlite(_dir.Sub($"isola-{Guid.NewGuid():N}.db")));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresListSqlTests(PostgresServer server) : ListSqlSuite
{
    protected override async Task<StoreConnectionFactory> NewFactoryAsync() => StoreConnectionFactory.Postgres(await server.CreateDatabaseAsync());
}
