using System.Text.Json;
using Isola.Store.Resources;
using Isola.Tests.Store;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Server;

/// <summary>Subnets with IP allocation, QoS policies and security groups over real HTTP; run on SQLite and on PostgreSQL.</summary>
public abstract class NetworkResourcesSuite
{
    protected abstract Task<string> NewStoreAsync();

    private sealed record World(ApiServer Server, string Store, HttpClient Admin, HttpClient Member, HttpClient Other, string MemberSecret) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    private async Task<World> Start()
    {
        var store = await NewStoreAsync();
        var server = await ApiServer.StartAsync(store);
        var admin = server.Client(server.AdminSecret);
        async Task<string> Member(string project)
        {
            Assert.Equal(201, (await admin.Post("/v1/projects", new { name = project })).Status);
            return (await admin.Post("/v1/tokens", new { role = "member", project })).Body.Str("secret");
        }
        try
        {
            var member = await Member("tenant-a");
            var other = await Member("tenant-b");
            return new World(server, store, admin, server.Client(member), server.Client(other), member);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private static async Task<JsonElement> Created(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        Assert.True(status == 201, $"{status}: {body}");
        return body;
    }

    private static string[] Ips(JsonElement port) => port.GetProperty("fixedIps").EnumerateArray().Select(f => f.Str("ipAddress")).ToArray();

    [Theory]
    [InlineData("""{"cidr": "10.0.0.1/24"}""", "cidr", "the network is 10.0.0.0/24")]
    [InlineData("""{"cidr": "10.0.0.0/33"}""", "cidr", "0-32")]
    [InlineData("""{"cidr": "10.0.0.0/31"}""", "cidr", "room for hosts")]
    [InlineData("""{"cidr": "lan"}""", "cidr", "prefix")]
    [InlineData("""{"cidr": "2001:db8::1/64"}""", "cidr", "the network is 2001:db8::/64")]
    [InlineData("""{"cidr": "10.0.0.0/24", "gatewayIp": "10.0.1.1"}""", "gatewayIp", "not in 10.0.0.0/24")]
    [InlineData("""{"cidr": "10.0.0.0/24", "gatewayIp": "10.0.0.255"}""", "gatewayIp", "broadcast")]
    [InlineData("""{"cidr": "10.0.0.0/24", "gatewayIp": "10.0.0.0"}""", "gatewayIp", "network address")]
    [InlineData("""{"cidr": "2001:db8::/64", "gatewayIp": "10.0.0.1"}""", "gatewayIp", "not in 2001:db8::/64")]
    [InlineData("""{"cidr": "10.0.0.0/24", "allocationPools": [{"start": "10.0.1.2", "end": "10.0.0.9"}]}""", "allocationPools[0].start", "not in")]
    [InlineData("""{"cidr": "10.0.0.0/24", "allocationPools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]}""", "allocationPools[0]", "after")]
    [InlineData("""{"cidr": "10.0.0.0/24", "allocationPools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]}""", "allocationPools[0]", "gateway")]
    [InlineData("""{"cidr": "10.0.0.0/24", "allocationPools": [{"start": "10.0.0.2", "end": "10.0.0.9"}, {"start": "10.0.0.9", "end": "10.0.0.20"}]}""", "allocationPools[1]", "overlaps allocationPools[0]")]
    [InlineData("""{"cidr": "10.0.0.0/24", "allocationPools": [{"start": "10.0.0.2", "end": "10.0.0.255"}]}""", "allocationPools[0].end", "broadcast")]
    [InlineData("""{"cidr": "10.0.0.0/24", "dnsNameservers": ["10.0.0.53", "dns.example"]}""", "dnsNameservers[1]", "not an IPv4")]
    [InlineData("""{"cidr": "2001:db8::/64", "dnsNameservers": ["[2001:db8::53]:53"]}""", "dnsNameservers[0]", "no brackets, no port")]
    [InlineData("""{"cidr": "2001:db8::/64", "dnsNameservers": ["fe80::53%eth0"]}""", "dnsNameservers[0]", "no zone")]
    [InlineData("""{"cidr": "2001:db8::/64", "dnsNameservers": ["2001:db8::53", "2001:DB8:0::53"]}""", "dnsNameservers[1]", "listed twice")]
    [InlineData("""{"cidr": "2001:db8::/64", "gatewayIp": "[2001:db8::1]"}""", "gatewayIp", "no brackets")]
    public async Task Subnet_rules_name_the_field(string fields, string field, string message)
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        // The subnet's own fields go first; its pools are objects of their own.
        var body = """{"name": "s", "network": "lan", """ + fields[1..];
        var (status, error) = await w.Member.Send(HttpMethod.Post, "/v1/subnets", body);
        Assert.Equal((400, field), (status, error.ErrorField()));
        Assert.Contains(message, error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subnets_derive_version_gateway_and_pools_and_do_not_overlap_on_a_network()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        await Created(w.Member.Post("/v1/networks", new { name = "lan2", type = "vlan", physnet = "physnet2" }));
        var v4 = await Created(w.Member.Post("/v1/subnets", new { name = "v4", network = "lan", cidr = "10.0.0.0/24" }));
        Assert.Equal((4, "10.0.0.1", true), (v4.GetProperty("ipVersion").GetInt32(), v4.Str("gatewayIp"), v4.GetProperty("enableDhcp").GetBoolean()));
        Assert.Equal("""[{"start":"10.0.0.2","end":"10.0.0.254"}]""", v4.GetProperty("allocationPools").GetRawText().Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal));
        var v6 = await Created(w.Member.Post("/v1/subnets", new { name = "v6", network = "lan", cidr = "2001:db8::/64" }));
        Assert.Equal((6, "2001:db8::1"), (v6.GetProperty("ipVersion").GetInt32(), v6.Str("gatewayIp")));
        Assert.Equal("2001:db8::ffff:ffff:ffff:ffff", v6.GetProperty("allocationPools")[0].Str("end"));
        // gatewayIp: null says "no gateway": the pool starts at the first host address.
        var none = await Created(w.Member.Send(HttpMethod.Post, "/v1/subnets", """{"name": "nogw", "network": "lan2", "cidr": "192.168.0.0/29", "gatewayIp": null}"""));
        Assert.Equal(JsonValueKind.Null, none.GetProperty("gatewayIp").ValueKind);
        Assert.Equal(("192.168.0.1", "192.168.0.6"), (none.GetProperty("allocationPools")[0].Str("start"), none.GetProperty("allocationPools")[0].Str("end")));

        var (status, error) = await w.Member.Post("/v1/subnets", new { name = "big", network = "lan", cidr = "10.0.0.0/16" });
        Assert.Equal((409, "cidr-overlap", "cidr"), (status, error.ErrorCode(), error.ErrorField()));
        (status, error) = await w.Member.Post("/v1/subnets", new { name = "v6b", network = "lan", cidr = "2001:db8::/48" });
        Assert.Equal((409, "cidr"), (status, error.ErrorField()));
        // Another network may use the same prefix; a name is used once per project.
        await Created(w.Member.Post("/v1/subnets", new { name = "v4b", network = "lan2", cidr = "10.0.0.0/16" }));
        Assert.Equal("name-taken", (await w.Member.Post("/v1/subnets", new { name = "v4", network = "lan2", cidr = "172.16.0.0/24" })).Body.ErrorCode());
        Assert.Equal(["v4", "v6", "nogw", "v4b"], (await w.Member.Get("/v1/subnets")).Body.EnumerateArray().Select(s => s.Str("name")));
    }

    [Fact]
    public async Task A_subnets_dns_servers_are_stored_and_handed_to_ports_in_canonical_form()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        var subnet = await Created(w.Member.Post("/v1/subnets", new { name = "s", network = "lan", cidr = "2001:db8::/64", dnsNameservers = new[] { "2001:DB8:0:0::053", "::FFFF:192.0.2.53" } }));
        Assert.Equal(["2001:db8::53", "::ffff:192.0.2.53"], subnet.GetProperty("dnsNameservers").EnumerateArray().Select(d => d.GetString()));
        var port = await Created(w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct" }));
        Assert.Equal(["2001:db8::53", "::ffff:192.0.2.53"], port.GetProperty("spec").GetProperty("dnsServers").EnumerateArray().Select(d => d.GetString()));
    }

    [Fact]
    public async Task Ports_get_the_lowest_free_address_skipping_the_gateway_and_free_it_on_delete()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        var subnet = await Created(w.Member.Post("/v1/subnets", new
        {
            name = "s", network = "lan", cidr = "10.0.0.0/24", gatewayIp = "10.0.0.3", dnsNameservers = new[] { "10.0.0.53" },
            allocationPools = new[] { new { start = "10.0.0.2", end = "10.0.0.2" }, new { start = "10.0.0.4", end = "10.0.0.6" } },
        }));
        var ips = new List<string>();
        for (var i = 0; i < 3; i++)
            ips.AddRange(Ips(await Created(w.Member.Post("/v1/ports", new { name = $"p{i}", network = "lan", vnicType = "direct" }))));
        Assert.Equal(["10.0.0.2", "10.0.0.4", "10.0.0.5"], ips);
        var (_, port) = await w.Member.Get("/v1/ports/p0");
        Assert.Equal(subnet.Str("id"), port.GetProperty("fixedIps")[0].Str("subnet"));
        var spec = port.GetProperty("spec");
        Assert.Equal(("10.0.0.2/24", "10.0.0.3", "10.0.0.53"), (spec.GetProperty("addresses")[0].GetString(), spec.Str("gateway"), spec.GetProperty("dnsServers")[0].GetString()));

        var (status, error) = await w.Member.Post("/v1/ports", new { name = "taken", network = "lan", fixedIps = new[] { new { ipAddress = "10.0.0.4" } } });
        Assert.Equal((409, "ip-in-use", "fixedIps[0].ipAddress"), (status, error.ErrorCode(), error.ErrorField()));
        (status, error) = await w.Member.Post("/v1/ports", new { name = "out", network = "lan", fixedIps = new[] { new { subnet = "s", ipAddress = "10.0.1.4" } } });
        Assert.Equal((400, "fixedIps[0].ipAddress"), (status, error.ErrorField()));
        (status, error) = await w.Member.Post("/v1/ports", new { name = "gw", network = "lan", fixedIps = new[] { new { ipAddress = "10.0.0.3" } } });
        Assert.Equal((400, "fixedIps[0].ipAddress"), (status, error.ErrorField()));
        (status, error) = await w.Member.Post("/v1/ports", new { name = "nosub", network = "lan", fixedIps = new[] { new { subnet = "nope" } } });
        Assert.Equal((400, "fixedIps[0].subnet"), (status, error.ErrorField()));
        // Outside the pools but in the subnet: allowed, as in Neutron.
        Assert.Equal(["10.0.0.200"], Ips(await Created(w.Member.Post("/v1/ports", new { name = "fixed", network = "lan", fixedIps = new[] { new { subnet = "s", ipAddress = "10.0.0.200" } } }))));

        Assert.Equal((409, "in-use"), await Code(w.Member.Delete("/v1/subnets/s")));
        Assert.Equal(204, (await w.Member.Delete("/v1/ports/p0")).Status);
        Assert.Equal(["10.0.0.2"], Ips(await Created(w.Member.Post("/v1/ports", new { name = "again", network = "lan" }))));
        Assert.Equal(["10.0.0.6"], Ips(await Created(w.Member.Post("/v1/ports", new { name = "last", network = "lan" }))));
        foreach (var name in new[] { "p1", "p2", "fixed", "again", "last" })
            Assert.Equal(204, (await w.Member.Delete($"/v1/ports/{name}")).Status);
        Assert.Equal(204, (await w.Member.Delete("/v1/subnets/s")).Status);
    }

    private static async Task<(int, string)> Code(Task<(int Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        return (status, status >= 400 ? body.ErrorCode() : "");
    }

    [Fact]
    public async Task An_exhausted_subnet_refuses_and_a_failed_create_leaves_no_port_and_no_address()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        await Created(w.Member.Post("/v1/subnets", new { name = "tiny", network = "lan", cidr = "10.9.0.0/30" }));
        await Created(w.Member.Post("/v1/subnets", new { name = "wide", network = "lan", cidr = "10.8.0.0/24" }));
        // No fixedIps: the first IPv4 subnet (tiny); its only host address besides the gateway is .2.
        Assert.Equal(["10.9.0.2"], Ips(await Created(w.Member.Post("/v1/ports", new { name = "p1", network = "lan" }))));
        var (status, error) = await w.Member.Post("/v1/ports", new { name = "p2", network = "lan" });
        Assert.Equal((409, "ips-exhausted"), (status, error.ErrorCode()));
        Assert.Equal(404, (await w.Member.Get("/v1/ports/p2")).Status);
        // The first address (wide) is claimed, the second (tiny) fails: neither the port nor wide's address stays.
        (status, error) = await w.Member.Post("/v1/ports", new { name = "p3", network = "lan", fixedIps = new[] { new { subnet = "wide" }, new { subnet = "tiny" } } });
        Assert.Equal((409, "ips-exhausted", "fixedIps[1].subnet"), (status, error.ErrorCode(), error.ErrorField()));
        Assert.Equal(404, (await w.Member.Get("/v1/ports/p3")).Status);
        Assert.Equal(["10.8.0.2"], Ips(await Created(w.Member.Post("/v1/ports", new { name = "p4", network = "lan", fixedIps = new[] { new { subnet = "wide" } } }))));
        Assert.Equal(["p1", "p4"], (await w.Member.Get("/v1/ports")).Body.EnumerateArray().Select(p => p.Str("name")));
        // A failure just before the commit (a crash) leaves neither the port nor its address.
        var store = w.Server.App.Services.GetRequiredService<ResourceStore>();
        store.Ports.BeforeCommit = () => throw new InvalidOperationException("crash before commit");
        Assert.Equal(500, (await w.Member.Post("/v1/ports", new { name = "p5", network = "lan", fixedIps = new[] { new { subnet = "wide" } } })).Status);
        store.Ports.BeforeCommit = null;
        Assert.Equal(404, (await w.Member.Get("/v1/ports/p5")).Status);
        Assert.Equal(["10.8.0.3"], Ips(await Created(w.Member.Post("/v1/ports", new { name = "p6", network = "lan", fixedIps = new[] { new { subnet = "wide" } } }))));
        Assert.Equal(204, (await w.Member.Delete("/v1/ports/p6")).Status);
        // fixedIps: [] asks for no address.
        Assert.Empty(Ips(await Created(w.Member.Post("/v1/ports", new { name = "bare", network = "lan", fixedIps = Array.Empty<object>() }))));
    }

    [Fact]
    public async Task Parallel_creates_on_two_servers_get_distinct_addresses()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        await Created(w.Member.Post("/v1/subnets", new { name = "s", network = "lan", cidr = "10.0.0.0/24" }));
        await Created(w.Member.Post("/v1/subnets", new { name = "s6", network = "lan", cidr = "2001:db8::/64" }));
        await using var second = await ApiServer.StartAsync(w.Store, w.Server.AdminSecret);
        var clients = new[] { w.Member, second.Client(w.MemberSecret) };
        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => clients[i % 2].Post("/v1/ports", new { name = $"p{i}", network = "lan" })));
        Assert.All(results, r => Assert.True(r.Status == 201, $"{r.Status}: {r.Body}"));
        var v4 = results.Select(r => Ips(r.Body)[0]).ToList();
        var v6 = results.Select(r => Ips(r.Body)[1]).ToList();
        // One address per IP version each, 24 distinct ones of each, and no holes: .2 to .25.
        Assert.Equal(Enumerable.Range(2, 24).Select(i => $"10.0.0.{i}").Order(), v4.Order());
        Assert.Equal(24, v6.Distinct().Count());
        Assert.All(v6, a => Assert.StartsWith("2001:db8::", a, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_qos_policy_becomes_the_vf_rates_of_an_sriov_port()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        var policy = await Created(w.Member.Post("/v1/qos-policies", new
        {
            name = "gold", description = "10.5 Mbit/s capped, 2 guaranteed",
            rules = new object[] { new { type = "bandwidth-limit", maxKbps = 10500, maxBurstKbps = 800 }, new { type = "minimum-bandwidth", minKbps = 2000 } },
        }));
        Assert.Equal(2, policy.GetProperty("rules").GetArrayLength());
        var port = await Created(w.Member.Post("/v1/ports", new { name = "p", network = "lan", vnicType = "direct", qosPolicy = "gold" }));
        Assert.Equal(policy.Str("id"), port.Str("qosPolicy"));
        var spec = port.GetProperty("spec");
        Assert.Equal((11, 2), (spec.GetProperty("maxTxRateMbps").GetInt32(), spec.GetProperty("minTxRateMbps").GetInt32()));
        // The same rate given explicitly agrees; a different one is refused by name.
        await Created(w.Member.Post("/v1/ports", new { name = "same", network = "lan", vnicType = "macvtap", qosPolicy = "gold", maxTxRateMbps = 11 }));
        var (status, error) = await w.Member.Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct", qosPolicy = "gold", maxTxRateMbps = 50 });
        Assert.Equal((400, "maxTxRateMbps"), (status, error.ErrorField()));

        await Created(w.Member.Post("/v1/qos-policies", new { name = "in", rules = new[] { new { type = "bandwidth-limit", maxKbps = 1000, direction = "ingress" } } }));
        (status, error) = await w.Member.Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct", qosPolicy = "in" });
        Assert.Equal((400, "qosPolicy"), (status, error.ErrorField()));
        Assert.Contains("only rate-limit what the VM sends", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        await Created(w.Member.Post("/v1/qos-policies", new { name = "ef", rules = new[] { new { type = "dscp-marking", dscpMark = 46 } } }));
        Assert.Equal("qosPolicy", (await w.Member.Post("/v1/ports", new { name = "q", network = "lan", vnicType = "direct", qosPolicy = "ef" })).Body.ErrorField());
        // A normal port takes limits both ways (its host's meters); its spec has no VF rate.
        var normal = await Created(w.Member.Post("/v1/ports", new { name = "virtio", network = "lan", qosPolicy = "in" }));
        Assert.Equal(0, normal.GetProperty("spec").GetProperty("maxTxRateMbps").GetInt32());

        // A policy in use keeps its rules and stays.
        Assert.Equal((409, "in-use"), await Code(w.Member.Post($"/v1/qos-policies/gold/rules", new { type = "dscp-marking", dscpMark = 10 })));
        Assert.Equal((409, "in-use"), await Code(w.Member.Delete("/v1/qos-policies/gold")));
        Assert.Equal(204, (await w.Member.Delete("/v1/ports/p")).Status);
        Assert.Equal(204, (await w.Member.Delete("/v1/ports/same")).Status);
        var rule = await Created(w.Member.Post($"/v1/qos-policies/gold/rules", new { type = "dscp-marking", dscpMark = 10 }));
        Assert.Equal((409, "duplicate-rule"), await Code(w.Member.Post($"/v1/qos-policies/gold/rules", new { type = "dscp-marking", dscpMark = 12 })));
        Assert.Equal(204, (await w.Member.Delete($"/v1/qos-policies/gold/rules/{rule.Str("id")}")).Status);
        Assert.Equal(204, (await w.Member.Delete("/v1/qos-policies/gold")).Status);
    }

    [Fact]
    public async Task A_normal_port_takes_limits_and_a_dscp_mark_and_is_refused_a_minimum_bandwidth_qos_policy_with_the_reason()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        await Created(w.Member.Post("/v1/subnets", new { name = "s", network = "lan", cidr = "10.0.0.0/24" }));
        var ef = await Created(w.Member.Post("/v1/qos-policies", new
        {
            name = "ef",
            rules = new object[] { new { type = "dscp-marking", dscpMark = 46 }, new { type = "bandwidth-limit", maxKbps = 20000, direction = "ingress" } },
        }));
        var marked = await Created(w.Member.Post("/v1/ports", new { name = "marked", network = "lan", qosPolicy = "ef" }));
        Assert.Equal(ef.Str("id"), marked.Str("qosPolicy"));

        foreach (var direction in new[] { "egress", "ingress" })
        {
            var floor = $"floor-{direction}";
            await Created(w.Member.Post("/v1/qos-policies", new { name = floor, rules = new[] { new { type = "minimum-bandwidth", minKbps = 2000, direction } } }));
            var (status, error) = await w.Member.Post("/v1/ports", new { name = "guaranteed", network = "lan", qosPolicy = floor });
            Assert.Equal((400, "invalid", "qosPolicy"), (status, error.ErrorCode(), error.ErrorField()));
            var message = error.GetProperty("error").GetProperty("message").GetString()!;
            Assert.Contains($"policy {floor} has an {direction} minimum-bandwidth rule: a normal port's traffic goes through the host's Open vSwitch", message, StringComparison.Ordinal);
            Assert.Contains("userspace datapath (netdev) has no minimum-rate queue", message, StringComparison.Ordinal);
            Assert.Contains("kernel datapath (system)", message, StringComparison.Ordinal);
            // Refused, nothing made: no port, no address taken.
            Assert.Equal(404, (await w.Member.Get("/v1/ports/guaranteed")).Status);
        }
        var next = await Created(w.Member.Post("/v1/ports", new { name = "next", network = "lan" }));
        Assert.Equal("10.0.0.3", next.GetProperty("fixedIps")[0].Str("ipAddress"));
        // The same rule is a VF's min_tx_rate.
        var vf = await Created(w.Member.Post("/v1/ports", new { name = "vf", network = "lan", vnicType = "direct", qosPolicy = "floor-egress" }));
        Assert.Equal(2, vf.GetProperty("spec").GetProperty("minTxRateMbps").GetInt32());

        // A rule added to the policy a normal port uses is refused too, and the policy keeps the rules it had.
        var (added, body) = await w.Member.Post($"/v1/qos-policies/ef/rules", new { type = "minimum-bandwidth", minKbps = 1000 });
        Assert.Equal((409, "in-use"), (added, body.ErrorCode()));
        Assert.Contains("ports use QoS policy ef: they were checked against its rules", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var rules = (await w.Member.Get("/v1/qos-policies/ef")).Body.GetProperty("rules").EnumerateArray().Select(r => r.Str("type")).Order().ToList();
        Assert.Equal(["bandwidth-limit", "dscp-marking"], rules);
    }

    [Theory]
    [InlineData("""{"type": "dscp-marking", "dscpMark": 7}""", "rules[0].dscpMark")]
    [InlineData("""{"type": "bandwidth-limit"}""", "rules[0].maxKbps")]
    [InlineData("""{"type": "bandwidth-limit", "maxKbps": -1}""", "rules[0].maxKbps")]
    [InlineData("""{"type": "bandwidth-limit", "maxKbps": 10, "direction": "up"}""", "rules[0].direction")]
    [InlineData("""{"type": "minimum-bandwidth", "minKbps": 10, "maxKbps": 20}""", "rules[0].maxKbps")]
    [InlineData("""{"type": "dscp-marking", "dscpMark": 8, "direction": "ingress"}""", "rules[0].direction")]
    [InlineData("""{"type": "packet-rate"}""", "rules[0].type")]
    [InlineData("""{"type": "bandwidth-limit", "maxKbps": 10}, {"type": "bandwidth-limit", "maxKbps": 20, "direction": "egress"}""", "rules[1]")]
    public async Task Qos_rules_name_the_field(string rules, string field)
    {
        await using var w = await Start();
        var (status, error) = await w.Member.Send(HttpMethod.Post, "/v1/qos-policies", $$"""{"name": "q", "rules": [{{rules}}]}""");
        Assert.Equal((400, field), (status, error.ErrorField()));
    }

    [Theory]
    [InlineData("""{"direction": "ingress", "portRangeMin": 22, "portRangeMax": 22}""", "portRangeMin")]
    [InlineData("""{"direction": "ingress", "protocol": "tcp", "portRangeMin": 0, "portRangeMax": 22}""", "portRangeMin")]
    [InlineData("""{"direction": "ingress", "protocol": "tcp", "portRangeMin": 80, "portRangeMax": 22}""", "portRangeMax")]
    [InlineData("""{"direction": "ingress", "protocol": "udp", "portRangeMin": 53, "portRangeMax": 65536}""", "portRangeMax")]
    [InlineData("""{"direction": "ingress", "protocol": "icmp", "portRangeMin": 256}""", "portRangeMin")]
    [InlineData("""{"direction": "ingress", "protocol": "icmp", "portRangeMax": 0}""", "portRangeMin")]
    [InlineData("""{"direction": "ingress", "protocol": "sctp"}""", "protocol")]
    [InlineData("""{"direction": "ingress", "protocol": 256}""", "protocol")]
    [InlineData("""{"direction": "ingress", "ethertype": "IPv4", "protocol": "icmpv6"}""", "protocol")]
    [InlineData("""{"direction": "inbound"}""", "direction")]
    [InlineData("""{"direction": "ingress", "ethertype": "IPv5"}""", "ethertype")]
    [InlineData("""{"direction": "ingress", "ethertype": "IPv4", "remoteIpPrefix": "2001:db8::/64"}""", "remoteIpPrefix")]
    [InlineData("""{"direction": "ingress", "remoteIpPrefix": "10.0.0.0/8", "remoteGroup": "web"}""", "remoteGroup")]
    [InlineData("""{"direction": "ingress", "remoteGroup": "nope"}""", "remoteGroup")]
    public async Task Security_group_rules_name_the_field(string fields, string field)
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/security-groups", new { name = "web" }));
        var body = fields.Replace("{", """{"securityGroup": "web", """, StringComparison.Ordinal);
        var (status, error) = await w.Member.Send(HttpMethod.Post, "/v1/security-group-rules", body);
        Assert.Equal((400, field), (status, error.ErrorField()));
    }

    [Fact]
    public async Task Security_groups_default_group_rules_and_ports()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        // First use makes the project's default group: egress anywhere, ingress from its own members.
        var (_, groups) = await w.Member.Get("/v1/security-groups");
        var def = Assert.Single(groups.EnumerateArray());
        Assert.Equal("default", def.Str("name"));
        var rules = def.GetProperty("rules").EnumerateArray().ToList();
        Assert.Equal(["egress/IPv4/", "egress/IPv6/", "ingress/IPv4/" + def.Str("id"), "ingress/IPv6/" + def.Str("id")],
            rules.Select(r => $"{r.Str("direction")}/{r.Str("ethertype")}/{r.GetProperty("remoteGroup").GetString()}").Order(StringComparer.Ordinal));
        Assert.Equal((409, "name-taken"), await Code(w.Member.Post("/v1/security-groups", new { name = "default" })));
        Assert.Equal((409, "default-group"), await Code(w.Member.Delete("/v1/security-groups/default")));

        var web = await Created(w.Member.Post("/v1/security-groups", new { name = "web" }));
        var ssh = await Created(w.Member.Post("/v1/security-group-rules", new { securityGroup = "web", direction = "ingress", protocol = "tcp", portRangeMin = 22, portRangeMax = 22, remoteIpPrefix = "10.1.2.3/8" }));
        Assert.Equal("10.0.0.0/8", ssh.Str("remoteIpPrefix"));
        // The same rule again, protocol by number: a duplicate.
        Assert.Equal((409, "duplicate-rule"), await Code(w.Member.Post("/v1/security-group-rules", new { securityGroup = "web", direction = "ingress", protocol = 6, portRangeMin = 22, portRangeMax = 22, remoteIpPrefix = "10.0.0.0/8" })));
        await Created(w.Member.Post("/v1/security-group-rules", new { securityGroup = "web", direction = "ingress", ethertype = "IPv6", protocol = "icmp", portRangeMin = 128, portRangeMax = 0 }));
        Assert.Equal(2, (await w.Member.Get("/v1/security-groups/web")).Body.GetProperty("rules").GetArrayLength());

        var plain = await Created(w.Member.Post("/v1/ports", new { name = "plain", network = "lan" }));
        Assert.Equal([def.Str("id")], plain.GetProperty("securityGroups").EnumerateArray().Select(g => g.GetString()));
        var withWeb = await Created(w.Member.Post("/v1/ports", new { name = "webport", network = "lan", securityGroups = new[] { "web", "default" } }));
        Assert.Equal(2, withWeb.GetProperty("securityGroups").GetArrayLength());
        var open = await Created(w.Member.Post("/v1/ports", new { name = "open", network = "lan", portSecurityEnabled = false }));
        Assert.Equal((0, false), (open.GetProperty("securityGroups").GetArrayLength(), open.GetProperty("portSecurityEnabled").GetBoolean()));
        var vf = await Created(w.Member.Post("/v1/ports", new { name = "vf", network = "lan", vnicType = "direct" }));
        Assert.Equal(0, vf.GetProperty("securityGroups").GetArrayLength());

        var (status, error) = await w.Member.Post("/v1/ports", new { name = "x", network = "lan", vnicType = "direct", securityGroups = new[] { "web" } });
        Assert.Equal((400, "securityGroups"), (status, error.ErrorField()));
        Assert.Contains("bypasses the host's firewall", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("securityGroups", (await w.Member.Post("/v1/ports", new { name = "x", network = "lan", portSecurityEnabled = false, securityGroups = new[] { "web" } })).Body.ErrorField());
        Assert.Equal("securityGroups[0]", (await w.Member.Post("/v1/ports", new { name = "x", network = "lan", securityGroups = new[] { "nope" } })).Body.ErrorField());

        Assert.Equal((409, "in-use"), await Code(w.Member.Delete("/v1/security-groups/web")));
        Assert.Equal(204, (await w.Member.Delete($"/v1/security-group-rules/{ssh.Str("id")}")).Status);
        Assert.Equal(204, (await w.Member.Delete("/v1/ports/webport")).Status);
        Assert.Equal(204, (await w.Member.Delete($"/v1/security-groups/{web.Str("id")}")).Status);
        Assert.Equal(404, (await w.Member.Get("/v1/security-groups/web")).Status);
    }

    [Fact]
    public async Task Another_projects_resources_are_not_there_but_a_shared_networks_subnets_are()
    {
        await using var w = await Start();
        await Created(w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" }));
        var subnet = await Created(w.Member.Post("/v1/subnets", new { name = "s", network = "lan", cidr = "10.0.0.0/24" }));
        var policy = await Created(w.Member.Post("/v1/qos-policies", new { name = "q" }));
        var group = await Created(w.Member.Post("/v1/security-groups", new { name = "g" }));
        foreach (var path in new[] { $"/v1/subnets/{subnet.Str("id")}", $"/v1/qos-policies/{policy.Str("id")}", $"/v1/security-groups/{group.Str("id")}" })
        {
            Assert.Equal(404, (await w.Other.Get(path)).Status);
            Assert.Equal(404, (await w.Other.Delete(path)).Status);
            Assert.Equal(200, (await w.Admin.Get(path)).Status);
        }
        Assert.Empty((await w.Other.Get("/v1/subnets")).Body.EnumerateArray());
        Assert.Equal(["default"], (await w.Other.Get("/v1/security-groups")).Body.EnumerateArray().Select(g => g.Str("name")));
        await Created(w.Other.Post("/v1/networks", new { name = "own", type = "vlan", physnet = "physnet2" }));
        Assert.Equal("securityGroups[0]", (await w.Other.Post("/v1/ports", new { name = "p", network = "own", securityGroups = new[] { group.Str("id") } })).Body.ErrorField());
        Assert.Equal("qosPolicy", (await w.Other.Post("/v1/ports", new { name = "p", network = "own", qosPolicy = policy.Str("id") })).Body.ErrorField());
        Assert.Equal("shared", (await w.Other.Post("/v1/qos-policies", new { name = "x", shared = true })).Body.ErrorField());

        // A shared network's subnets are seen by every project and give them addresses; only the owner changes them.
        await Created(w.Admin.Post("/v1/networks", new { name = "ext", type = "flat", physnet = "physnet3", shared = true, project = "tenant-a" }));
        await Created(w.Member.Post("/v1/subnets", new { name = "ext-v4", network = "ext", cidr = "203.0.113.0/24" }));
        Assert.Equal(["ext-v4"], (await w.Other.Get("/v1/subnets")).Body.EnumerateArray().Select(s => s.Str("name")));
        Assert.Equal(403, (await w.Other.Post("/v1/subnets", new { name = "mine", network = "ext", cidr = "198.51.100.0/24" })).Status);
        Assert.Equal(403, (await w.Other.Delete("/v1/subnets/ext-v4")).Status);
        Assert.Equal(["203.0.113.2"], Ips(await Created(w.Other.Post("/v1/ports", new { name = "p", network = "ext" }))));
        // A shared QoS policy (admin-made) is usable by every project.
        await Created(w.Admin.Post("/v1/qos-policies", new { name = "std", shared = true, project = "tenant-a", rules = new[] { new { type = "bandwidth-limit", maxKbps = 1 } } }));
        var vf = await Created(w.Other.Post("/v1/ports", new { name = "vf", network = "ext", vnicType = "direct", qosPolicy = "std" }));
        Assert.Equal(1, vf.GetProperty("spec").GetProperty("maxTxRateMbps").GetInt32());
    }
}

public sealed class SqliteNetworkResourcesTests : NetworkResourcesSuite, IDisposable
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
public sealed class PostgresNetworkResourcesTests(PostgresServer server) : NetworkResourcesSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
