using Isola.Domain.Serialization;
using Isola.Tests.Scheduling;
using Isola.Tests.Store;

namespace Isola.Tests.Server;

/// <summary>
/// Requests that race, through two API server processes' worth of state on one PostgreSQL: each
/// answers what happened to it (201, 204, 404, 409), never a 500.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RaceTests(PostgresServer postgres)
{
    private const int Pairs = 20;

    // Room for every create of a race at once (losers hold their reservation until they lose): no create is refused for want of room.
    private sealed record Two(ApiServer One, ApiServer Other, HttpClient[] Members, HttpClient Admin) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await One.DisposeAsync();
            await Other.DisposeAsync();
        }
    }

    private async Task<Two> StartAsync()
    {
        var store = await postgres.CreateDatabaseAsync();
        var one = await ApiServer.StartAsync(store);
        var admin = one.Client(one.AdminSecret);
        foreach (var name in new[] { "h1", "h2" })
        {
            var host = new HostBuilder(name).Cores(48).Pages1G(64).Nic(0, "physnet2", 32, ports: 2).Build();
            Assert.Equal(204, (await admin.Send(HttpMethod.Put, $"/v1/hosts/{name}", InventoryDocument.Of(host).ToJson())).Status);
        }
        await admin.Post("/v1/projects", new { name = "t" });
        var secret = (await admin.Post("/v1/tokens", new { role = "member", project = "t" })).Body.Str("secret");
        await admin.Post("/v1/flavors", new
        {
            name = "f", vcpus = 1, ram = 1024, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        var other = await ApiServer.StartAsync(store, one.AdminSecret);
        var members = new[] { one.Client(secret), other.Client(secret) };
        Assert.Equal(201, (await members[0].Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 })).Status);
        return new Two(one, other, members, admin);
    }

    private static string Seen(IEnumerable<(int Status, System.Text.Json.JsonElement Body)> answers) =>
        string.Join(", ", answers.GroupBy(a => a.Status == 201 || a.Status == 204 ? $"{a.Status}" : $"{a.Status} {a.Body.ErrorCode()}")
            .Select(g => $"{g.Key} x{g.Count()}"));

    [Fact]
    public async Task Two_creates_racing_for_one_port_give_one_server_and_one_port_in_use()
    {
        await using var w = await StartAsync();
        for (var i = 0; i < Pairs; i++)
            Assert.Equal(201, (await w.Members[0].Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" })).Status);

        var answers = await Task.WhenAll(Enumerable.Range(0, Pairs).SelectMany(i => new[]
        {
            w.Members[0].Post("/v1/servers", new { name = $"a{i}", flavor = "f", ports = new[] { $"p{i}" } }),
            w.Members[1].Post("/v1/servers", new { name = $"b{i}", flavor = "f", ports = new[] { $"p{i}" } }),
        }));
        for (var i = 0; i < Pairs; i++)
        {
            var pair = new[] { answers[2 * i], answers[2 * i + 1] };
            Assert.True(pair.Count(a => a.Status == 201) == 1, $"pair {i}: {Seen(pair)}");
            var loser = pair.Single(a => a.Status != 201);
            Assert.True((loser.Status, loser.Body.ErrorCode()) == (409, "port-in-use"), $"pair {i}: {Seen(pair)}");
        }
        // The losers left nothing: every port is bound once, and the servers are exactly the winners.
        var (_, servers) = await w.Admin.Get("/v1/servers");
        Assert.Equal(Pairs, servers.GetArrayLength());
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(Pairs, hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
    }

    [Fact]
    public async Task A_port_deleted_while_a_server_is_created_on_it_is_a_conflict_for_one_of_them()
    {
        await using var w = await StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < Pairs; i++)
            ids.Add((await w.Members[0].Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" })).Body.Str("id"));

        var creates = Enumerable.Range(0, Pairs).Select(i => w.Members[0].Post("/v1/servers", new { name = $"vm{i}", flavor = "f", ports = new[] { ids[i] } })).ToList();
        var deletes = Enumerable.Range(0, Pairs).Select(i => w.Members[1].Delete($"/v1/ports/{ids[i]}")).ToList();
        var created = await Task.WhenAll(creates);
        var deleted = await Task.WhenAll(deletes);
        for (var i = 0; i < Pairs; i++)
        {
            var seen = Seen([created[i], deleted[i]]);
            // Either the server got the port (and the delete is refused: it is bound), or the port went first
            // (and the create finds it gone: 404 when it looked it up, 409 port-gone when it was deleted under the commit).
            var serverWon = created[i].Status == 201 && (deleted[i].Status, deleted[i].Body.ErrorCode()) == (409, "in-use");
            var deleteWon = deleted[i].Status == 204 && (created[i].Status, created[i].Status == 201 ? "" : created[i].Body.ErrorCode()) is (404, "not-found") or (409, "port-gone");
            Assert.True(serverWon || deleteWon, $"pair {i}: {seen}");
        }
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(created.Count(c => c.Status == 201), hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
    }

    [Fact]
    public async Task Parallel_network_creates_each_get_the_next_free_segment()
    {
        await using var w = await StartAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 2 * Pairs).Select(i =>
            w.Members[i % 2].Post("/v1/networks", new { name = $"n{i}", type = "vxlan" })));
        Assert.True(answers.All(a => a.Status == 201), Seen(answers));
        var segments = answers.Select(a => a.Body.GetProperty("segment").GetInt64()).Order().ToList();
        // The lowest free VNIs of the test servers' range 5000-5999, each once.
        Assert.Equal(Enumerable.Range(5000, 2 * Pairs).Select(v => (long)v), segments);
    }

    [Fact]
    public async Task Two_deletes_of_one_server_give_one_204_and_one_404()
    {
        await using var w = await StartAsync();
        var ids = new List<string>();
        for (var i = 0; i < Pairs; i++)
        {
            var (status, body) = await w.Members[0].Post("/v1/servers", new { name = $"vm{i}", flavor = "f", networks = new[] { new { network = "lan", vnicType = "direct" } } });
            Assert.True(status == 201, body.ToString());
            ids.Add(body.Str("id"));
        }
        var answers = await Task.WhenAll(ids.SelectMany(id => new[] { w.Members[0].Delete($"/v1/servers/{id}"), w.Members[1].Delete($"/v1/servers/{id}") }));
        for (var i = 0; i < Pairs; i++)
        {
            var pair = new[] { answers[2 * i], answers[2 * i + 1] };
            Assert.True(pair.Count(a => a.Status == 204) == 1 && pair.Count(a => a.Status == 404 && a.Body.ErrorCode() == "not-found") == 1, $"server {i}: {Seen(pair)}");
        }
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(0, hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
        var (_, ports) = await w.Admin.Get("/v1/ports");
        Assert.Equal(0, ports.GetArrayLength());
    }
}
