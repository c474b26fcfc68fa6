using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Tests.Scheduling;
using Isola.Tests.Store;
using Isola.Tests.Support;

namespace Isola.Tests.Server;

/// <summary>
/// What a port asks of its NIC decides where its server may go, before anything is claimed: a
/// guaranteed rate only where the PF driver can give one, an HA bond on two adapters when asked.
/// Run on SQLite and on PostgreSQL.
/// </summary>
public abstract class SriovPlacementSuite
{
    protected abstract Task<string> NewStoreAsync();

    /// <summary>The API world: two hosts, each with one dual-port X710 (i40e) on cell 0, physnet2.</summary>
    private async Task<ApiWorld> Start()
    {
        var w = await ApiWorld.StartAsync(await NewStoreAsync());
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" })).Status);
        return w;
    }

    private static async Task Register(ApiWorld w, HostBuilder host, string name)
    {
        var (status, _) = await w.Admin.Send(HttpMethod.Put, $"/v1/hosts/{name}?zone=az1", InventoryDocument.Of(host.Build()).ToJson());
        Assert.Equal(204, status);
    }

    /// <summary>pCPUs and VFs the store holds claims for, over every host.</summary>
    private static async Task<(int Pinned, int Vfs)> Claimed(ApiWorld w)
    {
        var hosts = (await w.Admin.Get("/v1/hosts")).Body.EnumerateArray().ToList();
        return (hosts.Sum(h => h.GetProperty("pinnedUsed").GetInt32()), hosts.Sum(h => h.GetProperty("vfsUsed").GetInt32()));
    }

    private static JsonElement Reasons(JsonElement error) => error.GetProperty("error").GetProperty("extra").GetProperty("reasons");

    [Fact]
    public async Task A_guaranteed_rate_is_refused_on_a_fleet_of_x710_hosts_naming_the_driver_and_lands_on_a_mellanox_host()
    {
        await using var w = await Start();
        Assert.Equal(201, (await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct", minTxRateMbps = 500 })).Status);
        var (status, error) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", ports = new[] { "p" } });
        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        var reason = Assert.Single(Reasons(error).EnumerateArray());
        Assert.Equal(("vf-driver-capability", 2), (reason.Str("code"), reason.GetProperty("hosts").GetInt32()));
        Assert.Contains("whose driver can guarantee a minimum TX rate (port p; i40e cannot)", reason.Str("example"), StringComparison.Ordinal);
        // Nothing claimed, nothing bound, no server row.
        Assert.Equal((0, 0), await Claimed(w));
        Assert.Equal(0, (await w.Member.Get("/v1/servers")).Body.GetArrayLength());
        Assert.Equal(("DOWN", JsonValueKind.Null), ((await w.Member.Get("/v1/ports/p")).Body.Str("status"), (await w.Member.Get("/v1/ports/p")).Body.GetProperty("binding").ValueKind));

        // A host with a ConnectX-5 (mlx5_core) joins: the server goes there, its VF on the Mellanox PF.
        await Register(w, new HostBuilder("cx5").Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", 4, model: "mellanox-cx5"), "cx5");
        var (placed, server) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", ports = new[] { "p" } });
        Assert.Equal((201, "cx5"), (placed, server.Str("host")));
        var binding = (await w.Member.Get("/v1/ports/p")).Body.GetProperty("binding");
        Assert.Equal(("cx5", "0000:10:00.0"), (binding.Str("host"), binding.GetProperty("vfs")[0].Str("pf")));
        // A port without a guarantee still spreads over the X710 hosts.
        await w.Member.Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct" });
        Assert.NotEqual("cx5", (await w.Member.Post("/v1/servers", new { name = "vm2", flavor = "nfv.small", ports = new[] { "q" } })).Body.Str("host"));
    }

    [Fact]
    public async Task An_ha_binding_says_whether_its_legs_share_a_card_and_a_port_that_demands_two_cards_gets_them_or_a_409()
    {
        await using var w = await Start();
        // The X710 hosts have one dual-port card: a bond that only prefers two cards takes its two ports.
        await w.Member.Post("/v1/ports", new { name = "bond", network = "lan", vnicType = "direct", ha = true });
        Assert.Equal(201, (await w.Member.Post("/v1/servers", new { name = "a", flavor = "nfv.small", ports = new[] { "bond" } })).Status);
        var (_, bond) = await w.Member.Get("/v1/ports/bond");
        Assert.Equal(("same-adapter", false), (bond.GetProperty("binding").Str("haLegs"), bond.GetProperty("spec").GetProperty("haDistinctAdapters").GetBoolean()));

        var (made, strict) = await w.Member.Post("/v1/ports", new { name = "strict", network = "lan", vnicType = "direct", ha = true, haDistinctAdapters = true });
        Assert.Equal((201, true), (made, strict.GetProperty("spec").GetProperty("haDistinctAdapters").GetBoolean()));
        var claimed = await Claimed(w);
        var (status, error) = await w.Member.Post("/v1/servers", new { name = "b", flavor = "nfv.small", ports = new[] { "strict" } });
        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        Assert.Equal("ha-distinct-adapters", Assert.Single(Reasons(error).EnumerateArray()).Str("code"));
        Assert.Equal(claimed, await Claimed(w));

        // A host with two single-port cards on cell 0 joins: the strict bond gets one leg on each.
        await Register(w, new HostBuilder("two-cards").Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", 4).Nic(0, "physnet2", 4), "two-cards");
        var (placed, server) = await w.Member.Post("/v1/servers", new { name = "b", flavor = "nfv.small", ports = new[] { "strict" } });
        Assert.Equal((201, "two-cards"), (placed, server.Str("host")));
        var binding = (await w.Member.Get("/v1/ports/strict")).Body.GetProperty("binding");
        Assert.Equal("distinct-adapters", binding.Str("haLegs"));
        Assert.Equal(["0000:10:00.0", "0000:11:00.0"], binding.GetProperty("vfs").EnumerateArray().Select(v => v.Str("pf")).Order());
        // A port that is not HA has no legs to speak of.
        await w.Member.Post("/v1/ports", new { name = "one", network = "lan", vnicType = "direct" });
        await w.Member.Post("/v1/servers", new { name = "c", flavor = "nfv.small", ports = new[] { "one" } });
        Assert.Equal(JsonValueKind.Null, (await w.Member.Get("/v1/ports/one")).Body.GetProperty("binding").GetProperty("haLegs").ValueKind);
    }
}

public sealed class SqliteSriovPlacementTests : SriovPlacementSuite, IDisposable
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
public sealed class PostgresSriovPlacementTests(PostgresServer server) : SriovPlacementSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
