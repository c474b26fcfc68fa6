using Isola.Coordination;
using Isola.Domain.Serialization;
using Isola.Tests.Scheduling;
using Isola.Tests.Store;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Server;

/// <summary>Two API server processes' worth of state on one PostgreSQL, creating servers in parallel.</summary>
[Collection(PostgresCollection.Name)]
public sealed class TwoServersTests(PostgresServer postgres)
{
    [Fact]
    public async Task Parallel_creates_on_two_servers_never_hand_out_a_pcpu_or_vf_twice()
    {
        var store = await postgres.CreateDatabaseAsync();
        await using var one = await ApiServer.StartAsync(store);
        var admin = one.Client(one.AdminSecret);
        foreach (var name in new[] { "h1", "h2" })
        {
            var host = new HostBuilder(name).Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2).Build();
            await admin.Send(HttpMethod.Put, $"/v1/hosts/{name}", InventoryDocument.Of(host).ToJson());
        }
        await admin.Post("/v1/projects", new { name = "t" });
        var secret = (await admin.Post("/v1/tokens", new { role = "member", project = "t" })).Body.Str("secret");
        await admin.Post("/v1/flavors", new
        {
            name = "f", vcpus = 1, ram = 1024, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        // The second server starts after the hosts exist, as a second process would, on the same database.
        await using var two = await ApiServer.StartAsync(store, one.AdminSecret);
        Assert.True(one.MadeAdminToken);
        Assert.False(two.MadeAdminToken);
        var clients = new[] { one.Client(secret), two.Client(secret) };
        await clients[0].Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 });
        for (var i = 0; i < 20; i++)
            await clients[0].Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" });

        // 2 hosts x 7 pinnable pCPUs: 14 servers fit; 20 are asked for, 10 through each server, all at once.
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            clients[i % 2].Post("/v1/servers", new { name = $"vm{i}", flavor = "f", ports = new[] { $"p{i}" } })));
        var created = results.Where(r => r.Status == 201).Select(r => r.Body).ToList();
        var refused = results.Where(r => r.Status != 201).ToList();
        // Refused: no room (409 no-valid-host), or lost every race for a host (503 busy, retryable).
        Assert.All(refused, r => Assert.Contains((r.Status, r.Body.ErrorCode()), new[] { (409, "no-valid-host"), (503, "busy") }));
        Assert.True(created.Count <= 14, $"{created.Count} created");
        var busy = results.Count(r => r.Status == 503);
        // Room that is left is found by a retry with the refused requests' free ports.
        var freePorts = Enumerable.Range(0, 20).Where(i => results[i].Status != 201).Select(i => $"p{i}").ToList();
        for (var i = 0; created.Count < 14 && i < freePorts.Count; i++)
        {
            var (status, body) = await clients[i % 2].Post("/v1/servers", new { name = $"retry{i}", flavor = "f", ports = new[] { freePorts[i] } });
            if (status == 201)
                created.Add(body);
        }
        Assert.Equal(14, created.Count);
        Assert.True(busy <= 6, $"{busy} creates lost every race");

        var taken = created.SelectMany(s =>
        {
            var p = s.GetProperty("placement");
            var host = p.Str("host");
            return p.GetProperty("cells").EnumerateArray().SelectMany(c => c.GetProperty("pins").EnumerateArray())
                .Select(pin => $"{host}/cpu{pin.GetProperty("pcpu").GetInt32()}")
                .Concat(p.GetProperty("vfs").EnumerateArray().Select(v => $"{host}/vf{v.Str("vf")}"));
        }).ToList();
        Assert.Equal(taken.Count, taken.Distinct().Count());
        // Both servers agree on what is left, and a third view from the store does too.
        var (_, hosts) = await admin.Get("/v1/hosts");
        Assert.Equal(created.Count, hosts.EnumerateArray().Sum(h => h.GetProperty("pinnedUsed").GetInt32()));
    }

    [Fact]
    public async Task A_token_revoked_through_one_server_is_refused_by_the_other_at_once()
    {
        var store = await postgres.CreateDatabaseAsync();
        await using var one = await ApiServer.StartAsync(store);
        await using var two = await ApiServer.StartAsync(store, one.AdminSecret);
        var admin = one.Client(one.AdminSecret);
        await admin.Post("/v1/projects", new { name = "t" });
        var (_, token) = await admin.Post("/v1/tokens", new { role = "member", project = "t" });
        var onOne = one.Client(token.Str("secret"));
        var onTwo = two.Client(token.Str("secret"));
        // Both have seen the token work (anything they remember of it, they remember now).
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await onOne.Get("/v1/networks")).Status);
            Assert.Equal(200, (await onTwo.Get("/v1/networks")).Status);
        }
        Assert.Equal(204, (await admin.Delete($"/v1/tokens/{token.Str("id")}")).Status);
        Assert.Equal(401, (await onTwo.Get("/v1/networks")).Status);
        Assert.Equal(401, (await onOne.Get("/v1/networks")).Status);
        // And the other way round: an admin token made and revoked through the second server.
        var (_, second) = await two.Client(one.AdminSecret).Post("/v1/tokens", new { role = "admin" });
        Assert.Equal(200, (await one.Client(second.Str("secret")).Get("/v1/tokens")).Status);
        Assert.Equal(204, (await two.Client(one.AdminSecret).Delete($"/v1/tokens/{second.Str("id")}")).Status);
        Assert.Equal(401, (await one.Client(second.Str("secret")).Get("/v1/tokens")).Status);
    }

    /// <summary>
    /// A host registered again through one server process with fewer VFs: the other process's next
    /// placement plans on the new inventory (the registration moved the host's generation, and the
    /// refresh that follows reads the inventory whose stamp moved), so it hands out no VF the host no
    /// longer has and its create-time plan check runs against the new topology.
    /// </summary>
    [Fact]
    public async Task A_host_registered_again_through_one_server_is_planned_on_anew_by_the_other()
    {
        var store = await postgres.CreateDatabaseAsync();
        await using var one = await ApiServer.StartAsync(store);
        var admin = one.Client(one.AdminSecret);
        var four = new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4).Build();
        Assert.Equal(204, (await admin.Send(HttpMethod.Put, "/v1/hosts/h1", InventoryDocument.Of(four).ToJson())).Status);
        await admin.Post("/v1/projects", new { name = "t" });
        var secret = (await admin.Post("/v1/tokens", new { role = "member", project = "t" })).Body.Str("secret");
        await admin.Post("/v1/flavors", new
        {
            name = "f", vcpus = 1, ram = 1024, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        await using var two = await ApiServer.StartAsync(store, one.AdminSecret);
        var member = two.Client(secret);
        Assert.Equal(201, (await member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 })).Status);
        for (var i = 0; i < 2; i++)
            Assert.Equal(201, (await member.Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" })).Status);
        Assert.Equal(4, two.App.Services.GetRequiredService<PlacementService>().Fleet.Host("h1")!.FreeVfs("physnet2", false));

        var one1 = new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 1).Build();
        Assert.Equal(204, (await admin.Send(HttpMethod.Put, "/v1/hosts/h1", InventoryDocument.Of(one1).ToJson())).Status);
        var (first, placed) = await member.Post("/v1/servers", new { name = "vm0", flavor = "f", ports = new[] { "p0" } });
        Assert.Equal(201, first);
        Assert.Equal(one1.Devices[0].Vfs[0].Address.ToString(), placed.GetProperty("placement").GetProperty("vfs")[0].Str("vf"));
        var (second, refused) = await member.Post("/v1/servers", new { name = "vm1", flavor = "f", ports = new[] { "p1" } });
        Assert.True(second == 409 && refused.ErrorCode() == "no-valid-host", $"{second} {refused}");
    }
}
