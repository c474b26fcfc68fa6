using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Store;
using Isola.Tests.Scheduling;
using Isola.Tests.Store;
using Isola.Tests.Support;

namespace Isola.Tests.Server;

/// <summary>Lifecycle, authorisation and validation over real HTTP; run on SQLite and on PostgreSQL.</summary>
public abstract class ApiSuite
{
    protected abstract Task<string> NewStoreAsync();

    private async Task<ApiWorld> Start() => await ApiWorld.StartAsync(await NewStoreAsync());

    [Fact]
    public async Task Tokens_decide_who_sees_what()
    {
        await using var w = await Start();
        Assert.Equal(401, (await w.Server.Client(null).Get("/v1/networks")).Status);
        Assert.Equal(401, (await w.Server.Client("isola_not-a-token").Get("/v1/networks")).Status);
        Assert.Equal(403, (await w.Member.Post("/v1/projects", new { name = "x" })).Status);
        Assert.Equal(403, (await w.Member.Get("/v1/hosts")).Status);
        var (_, net) = await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        // Another project's network is not there for tenant-b: 404, not 403.
        Assert.Equal(404, (await w.Other.Get($"/v1/networks/{net.Str("id")}")).Status);
        Assert.Equal(200, (await w.Admin.Get($"/v1/networks/{net.Str("id")}")).Status);
        // A shared network is seen by all projects.
        await w.Admin.Post("/v1/networks", new { name = "ext", type = "flat", physnet = "physnet3", shared = true, project = "tenant-a" });
        var (_, list) = await w.Other.Get("/v1/networks");
        Assert.Equal(["ext"], list.EnumerateArray().Select(n => n.Str("name")));
        // A host token is for its own host's agent endpoints only.
        var (_, hostToken) = await w.Admin.Post("/v1/tokens", new { role = "host", host = "h1" });
        var agent = w.Server.Client(hostToken.Str("secret"));
        Assert.Equal(403, (await agent.Get("/v1/servers")).Status);
        Assert.Equal(403, (await agent.Send(HttpMethod.Put, "/v1/hosts/h2", "{}")).Status);
        // A tunnel endpoint that is not a whole address ("10.1" parses as 10.0.0.1) is refused, naming the field; the host is as it was.
        var inventory = Isola.Domain.Serialization.InventoryDocument.Of(new HostBuilder("h1").Sockets(1).Cores(2).Build()).ToJson();
        var before = (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("pinnedTotal").GetInt32();
        var bad = await agent.Send(HttpMethod.Put, "/v1/hosts/h1?tunnelIp=10.1", inventory);
        Assert.Equal((400, "tunnelIp"), (bad.Status, bad.Body.ErrorField()));
        Assert.Equal(before, (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("pinnedTotal").GetInt32());
        Assert.Equal(204, (await agent.Send(HttpMethod.Put, "/v1/hosts/h1?tunnelIp=198.51.100.1", inventory)).Status);
        Assert.NotEqual(before, (await w.Admin.Get("/v1/hosts/h1")).Body.GetProperty("pinnedTotal").GetInt32());
    }

    [Theory]
    [InlineData("vlan", "physnet2", 4095L, "segment")]
    [InlineData("vlan", null, 100L, "physnet")]
    [InlineData("vxlan", "physnet2", 5000L, "physnet")]
    [InlineData("vxlan", null, 16777216L, "segment")]
    [InlineData("flat", "physnet2", 10L, "segment")]
    [InlineData("geneve", null, null, "type")]
    public async Task Network_rules_name_the_field(string type, string? physnet, long? segment, string field)
    {
        await using var w = await Start();
        var (status, body) = await w.Member.Post("/v1/networks", new { name = "n", type, physnet, segment });
        Assert.Equal((400, field), (status, body.ErrorField()));
    }

    [Fact]
    public async Task Segments_are_allocated_from_ranges_and_used_once_per_physnet()
    {
        await using var w = await Start();
        var segments = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            var (status, body) = await w.Member.Post("/v1/networks", new { name = $"v{i}", type = "vlan", physnet = "physnet2" });
            Assert.Equal(201, status);
            segments.Add(body.GetProperty("segment").GetInt64());
        }
        Assert.Equal([100L, 101L, 102L], segments);
        var (full, error) = await w.Member.Post("/v1/networks", new { name = "v3", type = "vlan", physnet = "physnet2" });
        Assert.Equal((409, "segments-exhausted"), (full, error.ErrorCode()));
        var (taken, e2) = await w.Other.Post("/v1/networks", new { name = "mine", type = "vlan", physnet = "physnet2", segment = 101 });
        Assert.Equal((409, "segment-in-use", "segment"), (taken, e2.ErrorCode(), e2.ErrorField()));
        Assert.Equal(201, (await w.Other.Post("/v1/networks", new { name = "mine", type = "vlan", physnet = "physnet3", segment = 101 })).Status);
        Assert.Equal(5000, (await w.Member.Post("/v1/networks", new { name = "x", type = "vxlan" })).Body.GetProperty("segment").GetInt64());
        Assert.Equal(1450, (await w.Member.Get("/v1/networks/x")).Body.GetProperty("mtu").GetInt32());
    }

    [Fact]
    public async Task Port_and_flavor_rules_name_the_field()
    {
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/networks", new { name = "overlay", type = "vxlan" });
        Assert.Equal("vnicType", (await w.Member.Post("/v1/ports", new { name = "p", network = "overlay", vnicType = "direct" })).Body.ErrorField());
        Assert.Equal("ha", (await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "macvtap", ha = true })).Body.ErrorField());
        Assert.Equal("mac", (await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct", mac = "01:00:5e:00:00:01" })).Body.ErrorField());
        Assert.Equal(201, (await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct", mac = "fa:16:3e:00:00:01" })).Status);
        var (dup, e) = await w.Member.Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct", mac = "FA:16:3E:00:00:01" });
        Assert.Equal((409, "mac"), (dup, e.ErrorField()));
        var (bad, flavor) = await w.Admin.Post("/v1/flavors", new { name = "bad", vcpus = 2, ram = 2048, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_thread_policy"] = "isolate" } });
        Assert.Equal((400, "extraSpecs.hw:cpu_thread_policy"), (bad, flavor.ErrorField()));
    }

    [Theory]
    [InlineData("""{"vlanQos": 8}""", "vlanQos")]
    [InlineData("""{"vlanQos": -1}""", "vlanQos")]
    [InlineData("""{"maxTxRateMbps": -1}""", "maxTxRateMbps")]
    [InlineData("""{"minTxRateMbps": -1}""", "minTxRateMbps")]
    [InlineData("""{"minTxRateMbps": 600, "maxTxRateMbps": 500}""", "minTxRateMbps")]
    [InlineData("""{"ha": true, "spoofCheck": false}""", "spoofCheck")]
    [InlineData("""{"haDistinctAdapters": true}""", "haDistinctAdapters")]
    [InlineData("""{"irqVcpus": []}""", "irqVcpus")]
    [InlineData("""{"irqVcpus": [2, 2]}""", "irqVcpus")]
    [InlineData("""{"irqVcpus": [-1]}""", "irqVcpus")]
    [InlineData("""{"queues": 2}""", "queues")]
    public async Task Port_create_answers_with_the_host_plans_own_rule(string fields, string field)
    {
        // One rule set: the API's answer is PortRules' word for word, so the API and the renderer cannot drift apart.
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        var (status, body) = await w.Member.Send(HttpMethod.Post, "/v1/ports", """{"name": "p", "network": "lan", "vnicType": "direct", """ + fields[1..]);
        Assert.Equal((400, field), (status, body.ErrorField()));
        var sent = System.Text.Json.JsonDocument.Parse(fields).RootElement;
        int? Int(string name) => sent.TryGetProperty(name, out var v) ? v.GetInt32() : null;
        bool Bool(string name) => sent.TryGetProperty(name, out var v) && v.GetBoolean();
        var spec = new Isola.Rendering.PortSpec("p", Isola.Scheduling.Requests.VnicType.Direct, "fa:16:3e:00:00:01", Ha: Bool("ha"), Vlan: 100,
            VlanQos: Int("vlanQos") ?? 0, SpoofCheck: !sent.TryGetProperty("spoofCheck", out _), MaxTxRateMbps: Int("maxTxRateMbps") ?? 0,
            MinTxRateMbps: Int("minTxRateMbps") ?? 0, HaDistinctAdapters: Bool("haDistinctAdapters"),
            IrqVcpus: sent.TryGetProperty("irqVcpus", out var v) ? v.EnumerateArray().Select(e => e.GetInt32()).ToList() : null, Queues: Int("queues"));
        Assert.Equal($"{field}: {Assert.Single(Isola.Rendering.PortRules.Check(spec)).Message}", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, (await w.Member.Get("/v1/ports")).Body.GetArrayLength());
    }

    [Theory]
    [InlineData("""{"quota:disk_read_bytes_sec": "x"}""", "extraSpecs.quota:disk_read_bytes_sec")]
    [InlineData("""{"quota:vif_inbound_peak": "20480"}""", "extraSpecs.quota:vif_inbound_average")]
    [InlineData("""{"quota:disk_total_iops_sec": "500", "quota:disk_read_iops_sec": "100"}""", "extraSpecs.quota:disk_total_iops_sec")]
    [InlineData("""{"quota:vif_outbound_average": "0"}""", "extraSpecs.quota:vif_outbound_average")]
    public async Task Quota_extra_specs_the_host_plan_refuses_are_refused_at_flavor_create(string specs, string field)
    {
        await using var w = await Start();
        var (status, body) = await w.Admin.Send(HttpMethod.Post, "/v1/flavors", $$"""{"name": "q", "vcpus": 1, "ram": 512, "disk": 1, "extraSpecs": {{specs}}}""");
        Assert.Equal((400, field), (status, body.ErrorField()));
        Assert.Equal(404, (await w.Admin.Get("/v1/flavors/q")).Status);
        // Good values make a flavor whose servers render.
        Assert.Equal(201, (await w.Admin.Post("/v1/flavors", new
        {
            name = "q", vcpus = 1, ram = 512, disk = 1,
            extraSpecs = new Dictionary<string, string> { ["quota:disk_read_bytes_sec"] = "1048576", ["quota:vif_inbound_average"] = "1024", ["quota:vif_inbound_peak"] = "2048" },
        })).Status);
        await w.Member.Post("/v1/networks", new { name = "int", type = "vxlan" });
        Assert.Equal(201, (await w.Member.Post("/v1/servers", new { name = "vm", flavor = "q", networks = new[] { new { network = "int" } } })).Status);
    }

    [Fact]
    public async Task A_network_with_ports_stays_and_one_without_goes_once()
    {
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct" });
        var (status, body) = await w.Member.Delete("/v1/networks/lan");
        Assert.Equal((409, "in-use"), (status, body.ErrorCode()));
        Assert.Equal(204, (await w.Member.Delete("/v1/ports/p")).Status);
        Assert.Equal(204, (await w.Member.Delete("/v1/networks/lan")).Status);
        Assert.Equal(404, (await w.Member.Delete("/v1/networks/lan")).Status);
    }

    [Fact]
    public async Task A_vdpa_port_is_refused_at_create_naming_vnicType_and_leaves_nothing()
    {
        // No inventory has a vDPA device, so no host plan could give the port one: refused up front, not per server.
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        var (status, body) = await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "vdpa" });
        Assert.Equal((400, "vnicType"), (status, body.ErrorField()));
        Assert.Contains("vdpa", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var (nic, nicBody) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", networks = new[] { new { network = "lan", vnicType = "vdpa" } } });
        Assert.Equal((400, "networks[0].vnicType"), (nic, nicBody.ErrorField()));
        Assert.Equal(0, (await w.Member.Get("/v1/ports")).Body.GetArrayLength());
        Assert.Equal(0, (await w.Member.Get("/v1/servers")).Body.GetArrayLength());
    }

    [Fact]
    public async Task A_server_is_placed_bound_shown_and_deleted_without_a_trace()
    {
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/ports", new { name = "bond", network = "lan", vnicType = "direct", ha = true });
        var (status, server) = await w.Member.Post("/v1/servers", new { name = "vnf1", flavor = "nfv.small", ports = new[] { "bond" } });
        Assert.Equal(201, status);
        Assert.Equal("BUILD", server.Str("status"));
        var vfs = server.GetProperty("placement").GetProperty("vfs").EnumerateArray().ToList();
        Assert.Equal(2, vfs.Count);
        Assert.NotEqual(vfs[0].Str("pf"), vfs[1].Str("pf"));
        var (_, port) = await w.Member.Get("/v1/ports/bond");
        Assert.Equal(("BOUND", server.Str("id")), (port.Str("status"), port.Str("server")));
        Assert.Equal(2, port.GetProperty("binding").GetProperty("vfs").GetArrayLength());
        Assert.Equal(200, (await w.Member.Get("/v1/servers/vnf1")).Status);
        Assert.Equal(404, (await w.Other.Get("/v1/servers/vnf1")).Status);
        Assert.Equal(409, (await w.Member.Delete("/v1/ports/bond")).Status);

        Assert.Equal(204, (await w.Member.Delete("/v1/servers/vnf1")).Status);
        Assert.Equal(404, (await w.Member.Delete("/v1/servers/vnf1")).Status);
        (_, port) = await w.Member.Get("/v1/ports/bond");
        Assert.Equal("DOWN", port.Str("status"));
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.All(hosts.EnumerateArray(), h => Assert.Equal(0, h.GetProperty("pinnedUsed").GetInt32()));
    }

    [Fact]
    public async Task A_create_that_fails_leaves_no_row_no_claim_no_bound_port()
    {
        await using var w = await Start();
        await w.Admin.Post("/v1/flavors", new { name = "huge", vcpus = 16, ram = 2048, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct" });
        var (status, error) = await w.Member.Post("/v1/servers", new { name = "big", flavor = "huge", ports = new[] { "p" } });
        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        Assert.Contains("dedicated", error.GetProperty("error").GetProperty("extra").GetProperty("reasons")[0].Str("code"), StringComparison.Ordinal);
        Assert.Equal(0, (await w.Member.Get("/v1/servers")).Body.GetArrayLength());
        Assert.Equal("DOWN", (await w.Member.Get("/v1/ports/p")).Body.Str("status"));
        Assert.Equal(400, (await w.Member.Post("/v1/servers", new { name = "x", flavor = "nfv.small", ports = new[] { "p", "p" } })).Status);
        Assert.Equal(404, (await w.Member.Post("/v1/servers", new { name = "x", flavor = "nope" })).Status);
        Assert.Equal(400, (await w.Member.Send(HttpMethod.Post, "/v1/servers", "{ not json")).Status);
    }

    [Fact]
    public async Task A_disabled_host_takes_no_new_servers_and_keeps_what_it_holds()
    {
        await using var w = await Start();
        var (_, first) = await w.Member.Post("/v1/servers", new { name = "a", flavor = "nfv.small" });
        var holder = first.Str("host");
        var other = holder == "h1" ? "h2" : "h1";
        Assert.Equal(403, (await w.Member.Send(HttpMethod.Patch, $"/v1/hosts/{holder}", new { enabled = false })).Status);
        Assert.Equal("enabled", (await w.Admin.Send(HttpMethod.Patch, $"/v1/hosts/{holder}", new { disabledReason = "x" })).Body.ErrorField());
        Assert.Equal(404, (await w.Admin.Send(HttpMethod.Patch, "/v1/hosts/nope", new { enabled = false })).Status);
        foreach (var host in new[] { "h1", "h2" })
        {
            var (status, view) = await w.Admin.Send(HttpMethod.Patch, $"/v1/hosts/{host}", new { enabled = false, disabledReason = "firmware update" });
            Assert.Equal((200, false, "firmware update"), (status, view.GetProperty("enabled").GetBoolean(), view.Str("disabledReason")));
        }
        var (refused, error) = await w.Member.Post("/v1/servers", new { name = "b", flavor = "nfv.small" });
        Assert.Equal((409, "no-valid-host"), (refused, error.ErrorCode()));
        Assert.Contains("disabled", error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        // What it holds stays: the first server is still there and its pCPUs still counted.
        Assert.Equal(200, (await w.Member.Get("/v1/servers/a")).Status);
        Assert.Equal(2, (await w.Admin.Get($"/v1/hosts/{holder}")).Body.GetProperty("pinnedUsed").GetInt32());
        await w.Admin.Send(HttpMethod.Patch, $"/v1/hosts/{other}", new { enabled = true });
        var (placed, second) = await w.Member.Post("/v1/servers", new { name = "b", flavor = "nfv.small" });
        Assert.Equal((201, other), (placed, second.Str("host")));
        Assert.Equal(JsonValueKind.Null, (await w.Admin.Get($"/v1/hosts/{other}")).Body.GetProperty("disabledReason").ValueKind);
    }

    [Fact]
    public async Task A_name_two_projects_use_is_ambiguous_for_an_admin_but_not_for_its_owners()
    {
        await using var w = await Start();
        var (_, mine) = await w.Member.Post("/v1/networks", new { name = "lan", type = "vxlan" });
        await w.Other.Post("/v1/networks", new { name = "lan", type = "vxlan" });
        Assert.Equal(mine.Str("id"), (await w.Member.Get("/v1/networks/lan")).Body.Str("id"));
        var (status, error) = await w.Admin.Get("/v1/networks/lan");
        Assert.Equal((409, "ambiguous-name"), (status, error.ErrorCode()));
        Assert.Equal(200, (await w.Admin.Get($"/v1/networks/{mine.Str("id")}")).Status);
        await w.Member.Post("/v1/subnets", new { name = "s", network = "lan", cidr = "10.1.0.0/24" });
        Assert.Equal(1, (await w.Member.Get("/v1/subnets?network=lan")).Body.GetArrayLength());
    }

    [Theory]
    [InlineData("addresses", """["10.0.0.5/24\"\n    eth9:\n      dhcp4: true #"]""", "addresses[0]")]
    [InlineData("addresses", """["10.0.0.5"]""", "addresses[0]")]
    [InlineData("addresses", """["10.1/24"]""", "addresses[0]")]
    [InlineData("addresses", """["10.0.0.5/33"]""", "addresses[0]")]
    [InlineData("gateway", "\"10.0.0.1\\n    via: 6.6.6.6\"", "gateway")]
    [InlineData("gateway", "\"gw.example\"", "gateway")]
    [InlineData("gateway", "\"[2001:db8::1]:53\"", "gateway")]
    [InlineData("addresses", """["[2001:db8::5]/64"]""", "addresses[0]")]
    public async Task Addresses_that_reach_the_guest_are_addresses(string field, string value, string error)
    {
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        var (status, body) = await w.Member.Send(HttpMethod.Post, "/v1/ports", $$"""{"name": "p", "network": "lan", "vnicType": "direct", "{{field}}": {{value}}}""");
        Assert.Equal((400, error), (status, body.ErrorField()));
        Assert.Equal(0, (await w.Member.Get("/v1/ports")).Body.GetArrayLength());
        // Written canonically when they are addresses.
        var (ok, port) = await w.Member.Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct", addresses = new[] { "2001:DB8:0::5/64" }, gateway = "2001:db8::1" });
        Assert.Equal(201, ok);
        Assert.Equal("2001:db8::5/64", port.GetProperty("spec").GetProperty("addresses")[0].GetString());
    }

    [Fact]
    public async Task Physnets_are_named_by_the_rule_and_members_use_only_configured_ones()
    {
        await using var w = await Start();
        foreach (var bad in new[] { "physnet2:br", "a,b", "with space", new string('p', 65), "-x" })
        {
            var (status, body) = await w.Admin.Post("/v1/networks", new { name = "n", type = "flat", physnet = bad, project = "tenant-a" });
            Assert.Equal((400, "physnet"), (status, body.ErrorField()));
        }
        // physnet2 has a VLAN range, physnet3 is configured as a physnet: members may use both; physnet9 is an admin's to name.
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "v", type = "vlan", physnet = "physnet2" })).Status);
        Assert.Equal(201, (await w.Member.Post("/v1/networks", new { name = "f", type = "flat", physnet = "physnet3" })).Status);
        var (refused, error) = await w.Member.Post("/v1/networks", new { name = "x", type = "vlan", physnet = "physnet9", segment = 7 });
        Assert.Equal((400, "physnet"), (refused, error.ErrorField()));
        Assert.Contains("physnet2, physnet3", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(201, (await w.Admin.Post("/v1/networks", new { name = "x", type = "vlan", physnet = "physnet9", segment = 7, project = "tenant-a" })).Status);
    }

    [Fact]
    public async Task An_admin_may_not_put_one_projects_port_on_anothers_private_network()
    {
        await using var w = await Start();
        var (_, net) = await w.Member.Post("/v1/networks", new { name = "private", type = "vlan", physnet = "physnet2" });
        var (status, body) = await w.Admin.Post("/v1/ports", new { name = "p", network = net.Str("id"), vnicType = "direct", project = "tenant-b" });
        Assert.Equal((400, "network"), (status, body.ErrorField()));
        var (nic, nicBody) = await w.Admin.Post("/v1/servers", new { name = "vm", flavor = "nfv.small", project = "tenant-b",
            networks = new[] { new { network = net.Str("id"), vnicType = "direct" } } });
        Assert.Equal((400, "networks[0].network"), (nic, nicBody.ErrorField()));
        Assert.Equal(0, (await w.Admin.Get("/v1/ports")).Body.GetArrayLength());
        // Its own project's port, and any project's on a shared network, are fine.
        Assert.Equal(201, (await w.Admin.Post("/v1/ports", new { name = "p", network = net.Str("id"), vnicType = "direct", project = "tenant-a" })).Status);
        var (_, shared) = await w.Admin.Post("/v1/networks", new { name = "ext", type = "flat", physnet = "physnet3", shared = true, project = "tenant-a" });
        Assert.Equal(201, (await w.Admin.Post("/v1/ports", new { name = "e", network = shared.Str("id"), vnicType = "direct", project = "tenant-b" })).Status);
    }

    [Fact]
    public async Task The_openapi_document_is_served()
    {
        await using var w = await Start();
        var (status, doc) = await w.Server.Client(null).Get("/openapi/v1.json");
        Assert.Equal(200, status);
        Assert.True(doc.GetProperty("paths").TryGetProperty("/v1/servers", out _));
    }
}

public sealed class SqliteApiTests : ApiSuite, IDisposable
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
public sealed class PostgresApiTests(PostgresServer server) : ApiSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
