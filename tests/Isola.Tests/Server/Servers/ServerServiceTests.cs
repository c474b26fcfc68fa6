using Isola.Coordination;
using Isola.Server.Api;
using Isola.Server.Ports;
using Isola.Server.Servers;
using Isola.Store.Resources;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Isola.Tests.Server.Servers;

/// <summary>ServerService without HTTP: the create's compensation and the delete's ports, called as the endpoints call them.</summary>
public sealed class ServerServiceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private async Task<(ApiWorld World, ServerService Servers, ResourceStore Store, Caller Member, string Project)> StartAsync()
    {
        var w = await ApiWorld.StartAsync(_dir.Sub($"isola-{Guid.NewGuid():N}.db"));
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" })).Status);
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "overlay", type = "vxlan" })).Status);
        var store = w.Server.App.Services.GetRequiredService<ResourceStore>();
        var project = (await store.Projects.FindAsync("tenant-a"))!.Id;
        var member = new Caller(new TokenRecord("t-member", "member", project, null));
        return (w, w.Server.App.Services.GetRequiredService<ServerService>(), store, member, project);
    }

    private int FreeVfs(ApiWorld w) =>
        new[] { "h1", "h2" }.Sum(h => w.Server.App.Services.GetRequiredService<PlacementService>().Fleet.Host(h)!.FreeVfs("physnet2", false));

    [Fact]
    public async Task A_nic_that_fails_after_another_was_made_leaves_no_port()
    {
        var (w, servers, store, member, project) = await StartAsync();
        await using var _ = w;
        var e = await Assert.ThrowsAsync<ApiException>(() => servers.CreateAsync(member, new CreateServer("bad", "nfv.small", null,
            Networks: [new ServerNic("lan", "direct"), new ServerNic("overlay", "direct")])));
        Assert.Equal((400, "networks[1].vnicType"), (e.Status, e.Details.Single().Field));
        Assert.Empty((await store.Ports.ListAsync(project)).Items);
    }

    [Fact]
    public async Task A_create_that_finds_no_host_after_making_its_ports_leaves_no_port_and_no_claim()
    {
        var (w, servers, store, member, project) = await StartAsync();
        await using var _ = w;
        Assert.Equal(201, (await w.Admin.Post("/v1/flavors", new { name = "huge", vcpus = 64, ram = 1024, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } })).Status);
        var free = FreeVfs(w);
        var e = await Assert.ThrowsAsync<ApiException>(() => servers.CreateAsync(member, new CreateServer("big", "huge", null, Networks: [new ServerNic("lan", "direct")])));
        Assert.Equal((409, "no-valid-host"), (e.Status, e.Code));
        Assert.Empty((await store.Ports.ListAsync(project)).Items);
        Assert.Equal(free, FreeVfs(w));
    }

    [Fact]
    public async Task A_server_made_from_networks_binds_its_ports_and_its_delete_takes_them_and_its_claims()
    {
        var (w, servers, store, member, project) = await StartAsync();
        await using var _ = w;
        var free = FreeVfs(w);
        var created = await servers.CreateAsync(member, new CreateServer("g1", "nfv.small", null, Networks: [new ServerNic("lan", "direct")]));
        var port = Assert.Single((await store.Ports.ListAsync(project)).Items);
        Assert.Equal(("g1-nic0", created.Server.Id), (port.Name, port.ServerId));
        Assert.Equal(free - 1, FreeVfs(w));

        await servers.DeleteAsync(member, "g1");
        Assert.Empty((await store.Ports.ListAsync(project)).Items);
        Assert.Equal(free, FreeVfs(w));
        Assert.Equal(404, (await Assert.ThrowsAsync<ApiException>(() => servers.DeleteAsync(member, "g1"))).Status);
    }
}
