using Isola.Tests.Store;
using Isola.Tests.Support;

namespace Isola.Tests.Server;

/// <summary>Flavors as Nova has them: deleting one in use is allowed, and its servers keep the copy they were built with. Run on SQLite and PostgreSQL.</summary>
public abstract class FlavorSuite
{
    protected abstract Task<string> NewStoreAsync();

    [Fact]
    public async Task A_server_keeps_its_flavor_when_the_flavor_is_deleted_and_made_again_under_its_name()
    {
        await using var w = await ApiWorld.StartAsync(await NewStoreAsync());
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/ports", new { name = "p1", network = "lan", vnicType = "direct" });
        var (created, server) = await w.Member.Post("/v1/servers", new { name = "vm1", flavor = "nfv.small", ports = new[] { "p1" } });
        Assert.Equal(201, created);
        var (_, planBefore) = await w.Member.Get("/v1/servers/vm1/plan");
        var (_, showBefore) = await w.Member.Get("/v1/servers/vm1");
        Assert.Contains("<vcpu placement=\"static\">2</vcpu>", planBefore.Str("domainXml"), StringComparison.Ordinal);

        Assert.Equal(204, (await w.Admin.Delete("/v1/flavors/nfv.small")).Status);
        Assert.Equal(404, (await w.Member.Get("/v1/flavors/nfv.small")).Status);
        var (shown, showAfter) = await w.Member.Get("/v1/servers/vm1");
        Assert.Equal(200, shown);
        Assert.Equal("nfv.small", showAfter.Str("flavor"));
        Assert.Equal(showBefore.GetProperty("placement").GetRawText(), showAfter.GetProperty("placement").GetRawText());
        var (planned, planAfter) = await w.Member.Get("/v1/servers/vm1/plan");
        Assert.Equal(200, planned);
        Assert.Equal(planBefore.GetRawText(), planAfter.GetRawText());

        // A new flavor of the same name is a different flavor: the server's stays as it was built, new servers get the new one.
        Assert.Equal(201, (await w.Admin.Post("/v1/flavors", new
        {
            name = "nfv.small", vcpus = 4, ram = 4096, disk = 10,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        })).Status);
        Assert.Equal(planBefore.GetRawText(), (await w.Member.Get("/v1/servers/vm1/plan")).Body.GetRawText());
        await w.Member.Post("/v1/ports", new { name = "p2", network = "lan", vnicType = "direct" });
        var (_, vm2) = await w.Member.Post("/v1/servers", new { name = "vm2", flavor = "nfv.small", ports = new[] { "p2" } });
        Assert.Contains("<vcpu placement=\"static\">4</vcpu>", (await w.Member.Get("/v1/servers/vm2/plan")).Body.Str("domainXml"), StringComparison.Ordinal);
        Assert.Equal(server.Str("id"), showAfter.Str("id"));
        Assert.Equal(204, (await w.Member.Delete("/v1/servers/vm1")).Status);
        Assert.Equal(204, (await w.Member.Delete($"/v1/servers/{vm2.Str("id")}")).Status);
    }
}

public sealed class SqliteFlavorTests : FlavorSuite, IDisposable
{
    private readonly TempDir _dir = new();

    protected override Task<string> NewStoreAsync() => Task.FromResult(_dir.Sub($"isola-{Guid.NewGuid():N}.db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresFlavorTests(PostgresServer server) : FlavorSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
