using Isola.Rendering;
using Isola.Scheduling.Requests;
using Isola.Store;
using Isola.Store.Documents;
using Isola.Store.Resources;
using Isola.Tests.Support;

namespace Isola.Tests.Store.Resources;

/// <summary>What the per-aggregate stores promise that the API cannot easily reach, on SQLite and on PostgreSQL.</summary>
public abstract class ResourceStoreSuite
{
    private readonly ShiftedClock _clock = new();

    protected abstract Task<StoreConnectionFactory> NewFactoryAsync();

    private sealed record World(StoreConnectionFactory Factory, ResourceStore Store, string Project, string Network);

    private async Task<World> StartAsync()
    {
        var factory = await NewFactoryAsync();
        await Migrator.MigrateAsync(factory, _clock);
        var store = new ResourceStore(factory, _clock);
        var project = await store.Projects.CreateAsync("tenant-a");
        var network = new NetworkRecord(ResourceStore.NewId(), project.Id, "lan", "vlan", "physnet2", 100, 1500, false);
        Assert.True(await store.Networks.TryCreateAsync(network));
        return new World(factory, store, project.Id, network.Id);
    }

    private int _macs;

    private async Task<PortRecord> PortAsync(World w, string name, string? createdFor = null)
    {
        var spec = new PortSpec(name, VnicType.Direct, $"fa:16:3e:00:00:{Interlocked.Increment(ref _macs):x2}", Physnet: "physnet2", Vlan: 100);
        var port = new PortRecord(ResourceStore.NewId(), w.Project, w.Network, name, spec.Mac, "DOWN", null, StoredDocument<PortSpec>.Of(spec), null);
        var created = await w.Store.Ports.CreateAsync(port, new PortOptions([], null, [], true, [], createdFor), _ => spec);
        Assert.Equal(PortCreate.Created, created.Outcome);
        return (await w.Store.Ports.FindAsync(w.Project, port.Id))!;
    }

    private static async Task BindAsync(World w, string serverId, string portId, PortBinding binding)
    {
        await using var c = await w.Factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await PortStore.BindAsync(c, tx, serverId, [(portId, binding)]);
        await tx.CommitAsync();
    }

    private static readonly PortBinding Bound = new("h1", [new BoundVf(Isola.Domain.Pci.PciAddress.Parse("0000:3b:00.0"), "ens1f0",
        Isola.Domain.Pci.PciAddress.Parse("0000:3b:02.0"), 0)], null, null);

    [Fact]
    public async Task A_port_binds_once_and_says_whether_the_loser_found_it_taken_or_gone()
    {
        var w = await StartAsync();
        var port = await PortAsync(w, "vf1");

        await BindAsync(w, "server-1", port.Id, Bound);
        var taken = await Assert.ThrowsAsync<PortBindingException>(() => BindAsync(w, "server-2", port.Id, Bound));
        var gone = await Assert.ThrowsAsync<PortBindingException>(() => BindAsync(w, "server-2", "no-such-port", Bound));

        Assert.False(taken.Gone);
        Assert.True(gone.Gone);
        var read = (await w.Store.Ports.FindAsync(null, port.Id))!;
        Assert.Equal(("server-1", "BOUND"), (read.ServerId, read.Status));
        Assert.Equal(StoredDocuments.Write(Bound), read.Binding!.Json);
        Assert.Equal(Bound.Vfs, read.Binding.Value.Vfs);
    }

    [Fact]
    public async Task An_unbound_port_forgets_its_binding_and_can_be_deleted_again()
    {
        var w = await StartAsync();
        var port = await PortAsync(w, "vf1");
        await BindAsync(w, "server-1", port.Id, Bound);
        Assert.False(await w.Store.Ports.DeleteAsync(port.Id));

        await using (var c = await w.Factory.OpenAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await PortStore.UnbindAsync(c, tx, "server-1");
            await tx.CommitAsync();
        }

        var read = (await w.Store.Ports.FindAsync(null, port.Id))!;
        Assert.Equal((null, "DOWN", true), (read.ServerId, read.Status, read.Binding is null));
        Assert.True(await w.Store.Ports.DeleteAsync(port.Id));
    }

    [Fact]
    public async Task Ports_made_for_a_server_that_never_came_are_deleted_only_once_they_are_old()
    {
        var w = await StartAsync();
        var orphan = await PortAsync(w, "orphan-nic0", createdFor: "never-committed");
        var own = await PortAsync(w, "own1");
        var made = _clock.GetUtcNow();

        Assert.Equal(0, await w.Store.Ports.DeleteOrphanedAsync(made - TimeSpan.FromMinutes(1)));
        Assert.Equal(1, await w.Store.Ports.DeleteOrphanedAsync(made + TimeSpan.FromMinutes(1)));

        Assert.Null(await w.Store.Ports.FindAsync(null, orphan.Id));
        Assert.NotNull(await w.Store.Ports.FindAsync(null, own.Id));
    }

    [Fact]
    public async Task A_network_with_a_port_is_in_use_and_a_gone_one_is_not_found()
    {
        var w = await StartAsync();
        var port = await PortAsync(w, "vf1");

        Assert.Equal(Removal.InUse, await w.Store.Networks.DeleteAsync(w.Network));
        Assert.True(await w.Store.Ports.DeleteAsync(port.Id));
        Assert.Equal(Removal.Deleted, await w.Store.Networks.DeleteAsync(w.Network));
        Assert.Equal(Removal.NotFound, await w.Store.Networks.DeleteAsync(w.Network));
    }

    [Fact]
    public async Task A_flavors_extra_specs_and_a_subnets_pools_read_back_as_written()
    {
        var w = await StartAsync();
        var specs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["note"] = "<a & b>" };
        Assert.True(await w.Store.Flavors.TryCreateAsync(new FlavorRecord(ResourceStore.NewId(), "nfv", 4, 4096, 20, specs)));
        var subnet = new SubnetRecord(ResourceStore.NewId(), w.Project, w.Network, "sub1", 4, "10.0.0.0/24", "10.0.0.1",
            [new PoolRecord("10.0.0.10", "10.0.0.99")], ["10.0.0.53"], true);
        Assert.Equal(SubnetCreate.Created, (await w.Store.Subnets.TryCreateAsync(subnet, _ => false)).Outcome);

        var flavor = (await w.Store.Flavors.FindAsync("nfv"))!;
        var read = (await w.Store.Subnets.FindAsync(w.Project, "sub1"))!;

        Assert.Equal(specs, flavor.ExtraSpecs);
        Assert.Equal(subnet.AllocationPools, read.AllocationPools);
        Assert.Equal(subnet.DnsNameservers, read.DnsNameservers);
    }
}

public sealed class SqliteResourceStoreTests : ResourceStoreSuite, IDisposable
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
public sealed class PostgresResourceStoreTests(PostgresServer server) : ResourceStoreSuite
{
    protected override async Task<StoreConnectionFactory> NewFactoryAsync() => StoreConnectionFactory.Postgres(await server.CreateDatabaseAsync());
}
