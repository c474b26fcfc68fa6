using Dapper;
using Isola.Store;
using Isola.Store.Resources;
using Isola.Tests.Support;

namespace Isola.Tests.Store.Resources;

/// <summary>The image rows: who sees them, one activation, and no delete while a server boots from one; on SQLite and on PostgreSQL.</summary>
public abstract class ImageStoreSuite
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

    private static async Task<ImageRecord> ImageAsync(World w, string project, string name, string visibility = ImageStore.Private) =>
        await w.Store.Images.TryCreateAsync(ResourceStore.NewId(), project, name, "qcow2", 10, visibility) ?? throw new InvalidOperationException($"{name} not made");

    /// <summary>A server row that boots from the image (null: none), written directly: the create's own write is <see cref="ImageStore.ReferAsync"/>.</summary>
    private static async Task ServerBootingAsync(World w, string serverId, string imageId)
    {
        await using var c = await w.Factory.OpenAsync();
        await c.ExecuteAsync("INSERT INTO servers (id, project_id, name, status, created_at, updated_at, image_id) VALUES (@serverId, @project, @serverId, 'BUILD', 'now', 'now', @imageId)",
            new { serverId, project = w.A, imageId });
    }

    [Fact]
    public async Task An_image_is_made_queued_and_seen_by_its_project_and_when_public_by_all()
    {
        var w = await StartAsync();
        var own = await ImageAsync(w, w.A, "cirros");
        var shared = await ImageAsync(w, w.B, "debian", ImageStore.Public);
        await ImageAsync(w, w.B, "secret");

        Assert.Null(await w.Store.Images.TryCreateAsync(ResourceStore.NewId(), w.A, "cirros", "raw", 0, ImageStore.Private));
        Assert.NotNull(await w.Store.Images.TryCreateAsync(ResourceStore.NewId(), w.B, "cirros", "raw", 0, ImageStore.Private));
        var read = (await w.Store.Images.FindAsync(w.A, own.Id))!;
        Assert.Equal(own, read);
        Assert.Equal((ImageStore.Queued, null, null, null, 10), (read.Status, read.Size, read.VirtualSize, read.Checksum, read.MinDiskGiB));
        Assert.Equal(["cirros", "debian"], (await w.Store.Images.ListAsync(w.A)).Items.Select(i => i.Name));
        Assert.Equal(4, (await w.Store.Images.ListAsync(null)).Items.Count);
        // By name, the caller's own first; another project's private image is not there.
        Assert.Equal(own.Id, (await w.Store.Images.FindAsync(w.A, "cirros"))!.Id);
        Assert.Equal(shared.Id, (await w.Store.Images.FindAsync(w.A, "debian"))!.Id);
        Assert.Null(await w.Store.Images.FindAsync(w.A, "secret"));
        await Assert.ThrowsAsync<AmbiguousNameException>(() => w.Store.Images.FindAsync(null, "cirros"));
    }

    [Fact]
    public async Task Only_one_activation_of_a_queued_image_wins_and_a_requeue_takes_it_back()
    {
        var w = await StartAsync();
        var image = await ImageAsync(w, w.A, "cirros");
        var content = new ImageContent(196_616, 117_440_512, new string('a', 64));

        Assert.True(await w.Store.Images.ActivateAsync(image.Id, content));
        Assert.False(await w.Store.Images.ActivateAsync(image.Id, content with { Checksum = new string('b', 64) }));
        Assert.False(await w.Store.Images.ActivateAsync("no-such-image", content));
        var active = (await w.Store.Images.FindAsync(null, image.Id))!;
        Assert.Equal((ImageStore.Active, 196_616L, 117_440_512L, content.Checksum), (active.Status, active.Size, active.VirtualSize, active.Checksum));

        await w.Store.Images.RequeueAsync(image.Id, new string('b', 64)); // not its bytes: nothing changes
        Assert.Equal(ImageStore.Active, (await w.Store.Images.FindAsync(null, image.Id))!.Status);
        await w.Store.Images.RequeueAsync(image.Id, content.Checksum);
        var queued = (await w.Store.Images.FindAsync(null, image.Id))!;
        Assert.Equal((ImageStore.Queued, null, null), (queued.Status, queued.Size, queued.Checksum));
    }

    [Fact]
    public async Task An_image_a_server_boots_from_is_in_use_and_a_gone_one_is_not_found()
    {
        var w = await StartAsync();
        var image = await ImageAsync(w, w.A, "cirros");
        var unused = await ImageAsync(w, w.A, "other");
        await ServerBootingAsync(w, "server-1", image.Id);

        Assert.True(await w.Store.Images.InUseAsync(image.Id));
        Assert.False(await w.Store.Images.InUseAsync(unused.Id));
        Assert.Equal(Removal.InUse, await w.Store.Images.DeleteAsync(image.Id));
        Assert.NotNull(await w.Store.Images.FindAsync(null, image.Id));

        await using (var c = await w.Factory.OpenAsync())
            await c.ExecuteAsync("DELETE FROM servers WHERE id = 'server-1'");
        Assert.False(await w.Store.Images.InUseAsync(image.Id));
        Assert.Equal(Removal.Deleted, await w.Store.Images.DeleteAsync(image.Id));
        Assert.Equal(Removal.NotFound, await w.Store.Images.DeleteAsync(image.Id));
        Assert.Null(await w.Store.Images.FindAsync(null, image.Id));
    }

    private static async Task ActivateAsync(World w, ImageRecord image) =>
        Assert.True(await w.Store.Images.ActivateAsync(image.Id, new ImageContent(4096, 4096, new string('c', 64))));

    private static async Task<string?> ImageOfServerAsync(World w, string serverId)
    {
        await using var c = await w.Factory.OpenAsync();
        return await c.ExecuteScalarAsync<string?>("SELECT image_id FROM servers WHERE id = @serverId", new { serverId });
    }

    [Fact]
    public async Task A_create_refers_to_an_active_image_only_and_one_that_is_gone_or_queued_fails_it()
    {
        var w = await StartAsync();
        var active = await ImageAsync(w, w.A, "cirros");
        await ActivateAsync(w, active);
        var queued = await ImageAsync(w, w.A, "queued");
        await ServerBootingAsync(w, "server-1", null!);

        foreach (var missing in new[] { queued.Id, "no-such-image" })
        {
            await using var c = await w.Factory.OpenAsync();
            await using var tx = await c.BeginTransactionAsync();
            var e = await Assert.ThrowsAsync<ImageGoneException>(() => ImageStore.ReferAsync(c, tx, "server-1", missing));
            Assert.Equal(missing, e.ImageId);
            await tx.RollbackAsync();
        }
        Assert.Null(await ImageOfServerAsync(w, "server-1"));

        await using (var c = await w.Factory.OpenAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await ImageStore.ReferAsync(c, tx, "server-1", active.Id);
            await tx.CommitAsync();
        }
        Assert.Equal(active.Id, await ImageOfServerAsync(w, "server-1"));
        Assert.Equal(Removal.InUse, await w.Store.Images.DeleteAsync(active.Id));
    }

    [Fact]
    public async Task A_delete_that_meets_a_create_referring_to_the_image_waits_for_it_and_finds_the_image_in_use()
    {
        var w = await StartAsync();
        var image = await ImageAsync(w, w.A, "cirros");
        await ActivateAsync(w, image);
        await ServerBootingAsync(w, "server-1", null!);

        await using var c = await w.Factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await ImageStore.ReferAsync(c, tx, "server-1", image.Id);
        var delete = Task.Run(() => w.Store.Images.DeleteAsync(image.Id));
        // The create's reference holds the image (PostgreSQL: its key-share lock; SQLite: the write lock) until it commits.
        await Task.Delay(300);
        Assert.False(delete.IsCompleted, $"the delete did not wait for the create: {delete.Status}");
        await tx.CommitAsync();

        Assert.Equal(Removal.InUse, await delete.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.NotNull(await w.Store.Images.FindAsync(null, image.Id));
    }

    [Fact]
    public async Task An_image_is_used_on_a_host_while_a_server_there_that_holds_resources_boots_from_it()
    {
        var w = await StartAsync();
        var image = await ImageAsync(w, w.A, "cirros");
        await ServerBootingAsync(w, "server-1", image.Id);
        await new PlacementStore(w.Factory, _clock).UpsertHostAsync(new Isola.Tests.Scheduling.HostBuilder("h1").Build(), "az1", []);
        await using (var c = await w.Factory.OpenAsync())
            await c.ExecuteAsync("UPDATE servers SET host = 'h1' WHERE id = 'server-1'");

        Assert.True(await w.Store.Images.UsedOnHostAsync(image.Id, "h1"));
        Assert.False(await w.Store.Images.UsedOnHostAsync(image.Id, "h2"));
        // An ERROR server gave back what it held: its host's agent builds nothing of it.
        await using (var c = await w.Factory.OpenAsync())
            await c.ExecuteAsync("UPDATE servers SET status = 'ERROR' WHERE id = 'server-1'");
        Assert.False(await w.Store.Images.UsedOnHostAsync(image.Id, "h1"));
    }

    [Fact]
    public async Task A_server_cannot_name_an_image_that_is_not_there()
    {
        var w = await StartAsync();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => ServerBootingAsync(w, "server-1", "no-such-image"));
        Assert.True(StoreConnectionFactory.IsForeignKeyViolation(e), e.Message);
    }
}

public sealed class SqliteImageStoreTests : ImageStoreSuite, IDisposable
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
public sealed class PostgresImageStoreTests(PostgresServer server) : ImageStoreSuite
{
    protected override async Task<StoreConnectionFactory> NewFactoryAsync() => StoreConnectionFactory.Postgres(await server.CreateDatabaseAsync());
}
