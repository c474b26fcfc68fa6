using System.Diagnostics;
using System.Text.Json;
using Isola.Server.Supervision;
using Isola.Tests.Store;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Server;

/// <summary>
/// A server's way from BUILD to ACTIVE (or to ERROR) over real HTTP, with the host's agent played by
/// a client holding the host's token; run on SQLite and on PostgreSQL.
/// </summary>
public abstract class LifecycleSuite
{
    protected abstract Task<string> NewStoreAsync();

    private readonly ShiftedClock _clock = new();

    private async Task<ApiWorld> Start() => await ApiWorld.StartAsync(await NewStoreAsync(), _clock);

    private static async Task<HttpClient> Agent(ApiWorld w, string host)
    {
        var (_, token) = await w.Admin.Post("/v1/tokens", new { role = "host", host });
        return w.Server.Client(token.Str("secret"));
    }

    /// <summary>A server with one direct port on a VLAN network; answers (server id, port id, host).</summary>
    private static async Task<(string Server, string Port, string Host)> CreateServer(ApiWorld w, string name = "vnf1")
    {
        if ((await w.Member.Get("/v1/networks/lan")).Status == 404)
            await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        var (_, port) = await w.Member.Post("/v1/ports", new { name = name + "-p", network = "lan", vnicType = "direct" });
        var (status, server) = await w.Member.Post("/v1/servers", new { name, flavor = "nfv.small", ports = new[] { name + "-p" } });
        Assert.Equal(201, status);
        return (server.Str("id"), port.Str("id"), server.Str("host"));
    }

    private static Task<(int Status, JsonElement Body)> Report(HttpClient agent, string host, long applied, object[] servers, object[] ports) =>
        agent.Post($"/v1/hosts/{host}/report", new { appliedRevision = applied, servers, ports });

    [Fact]
    public async Task A_server_resumes_once_its_ports_are_active_and_is_active_once_running()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var agent = await Agent(w, host);
        var server = (await w.Member.Get($"/v1/servers/{id}")).Body;
        Assert.Equal(("BUILD", "scheduled", "paused"), (server.Str("status"), server.Str("taskState"), server.Str("powerState")));

        // The desired state holds the server, paused, with its rendered plan and its port.
        var (_, desired) = await agent.Get($"/v1/hosts/{host}/desired");
        var revision = desired.GetProperty("revision").GetInt64();
        var mine = desired.GetProperty("servers").EnumerateArray().Single();
        Assert.Equal((id, "paused"), (mine.Str("id"), mine.Str("powerState")));
        Assert.Contains("<domain type=\"kvm\"", mine.GetProperty("plan").Str("domainXml"), StringComparison.Ordinal);
        Assert.Equal(port, mine.GetProperty("ports")[0].Str("id"));

        // Defined and paused, port not up yet: spawning, still paused.
        var (status, answer) = await Report(agent, host, revision, [new { id, vmState = "paused" }], [new { id = port, status = "DOWN" }]);
        Assert.Equal(200, status);
        Assert.False(answer.GetProperty("revisionMoved").GetBoolean());
        Assert.Equal("spawning", (await w.Member.Get($"/v1/servers/{id}")).Body.Str("taskState"));

        // Port ACTIVE: the desired power state turns running and the host's revision moves.
        (_, answer) = await Report(agent, host, revision, [], [new { id = port, status = "ACTIVE" }]);
        Assert.True(answer.GetProperty("revisionMoved").GetBoolean());
        (_, desired) = await agent.Get($"/v1/hosts/{host}/desired?after={revision}");
        Assert.True(desired.GetProperty("revision").GetInt64() > revision);
        Assert.Equal("running", desired.GetProperty("servers")[0].Str("powerState"));
        Assert.Equal("ACTIVE", (await w.Member.Get($"/v1/ports/{port}")).Body.Str("status"));

        // Running: ACTIVE.
        await Report(agent, host, desired.GetProperty("revision").GetInt64(), [new { id, vmState = "running" }], []);
        server = (await w.Member.Get($"/v1/servers/{id}")).Body;
        Assert.Equal(("ACTIVE", JsonValueKind.Null, "running"), (server.Str("status"), server.GetProperty("taskState").ValueKind, server.Str("vmState")));
        Assert.Equal(200, (await w.Member.Get($"/v1/servers/{id}/plan")).Status);
    }

    [Fact]
    public async Task A_long_poll_answers_when_the_hosts_desired_state_changes()
    {
        await using var w = await Start();
        var agents = new[] { await Agent(w, "h1"), await Agent(w, "h2") };
        var revisions = new List<long>();
        foreach (var (agent, host) in agents.Zip(new[] { "h1", "h2" }))
            revisions.Add((await agent.Get($"/v1/hosts/{host}/desired")).Body.GetProperty("revision").GetInt64());
        var clock = Stopwatch.StartNew();
        var polls = agents.Zip(new[] { "h1", "h2" }, (agent, host) => agent.Get($"/v1/hosts/{host}/desired?after={revisions[host == "h1" ? 0 : 1]}&wait=20")).ToList();
        await Task.Delay(200);
        Assert.DoesNotContain(polls, p => p.IsCompleted);
        var (_, _, on) = await CreateServer(w);
        var woken = await Task.WhenAny(polls);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the poll took {clock.Elapsed}");
        var body = (await woken).Body;
        Assert.Equal(on, body.Str("host"));
        Assert.Single(body.GetProperty("servers").EnumerateArray());
        var (_, quiet) = await agents[0].Get("/v1/hosts/h1/desired?after=999999&wait=1");
        Assert.True(quiet.GetProperty("revision").GetInt64() < 999999);
    }

    [Fact]
    public async Task A_build_that_times_out_goes_to_error_and_gives_back_everything()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var agent = await Agent(w, host);
        await Report(agent, host, 1, [new { id, vmState = "paused" }], [new { id = port, status = "DOWN" }]);
        var sweeper = w.Server.App.Services.GetRequiredService<BuildTimeouts>();
        Assert.Empty(await sweeper.SweepAsync());

        _clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal([id], await sweeper.SweepAsync());
        var server = (await w.Member.Get($"/v1/servers/{id}")).Body;
        Assert.Equal("ERROR", server.Str("status"));
        Assert.Contains("vnf1-p DOWN", server.Str("fault"), StringComparison.Ordinal);
        var portNow = (await w.Member.Get($"/v1/ports/{port}")).Body;
        Assert.Equal(("DOWN", JsonValueKind.Null), (portNow.Str("status"), portNow.GetProperty("binding").ValueKind));
        Assert.All((await w.Admin.Get("/v1/hosts")).Body.EnumerateArray(), h => Assert.Equal(0, h.GetProperty("pinnedUsed").GetInt32()));
        Assert.Empty((await agent.Get($"/v1/hosts/{host}/desired")).Body.GetProperty("servers").EnumerateArray());
        // A late report of it (the agent read its desired state before the timeout) is passed over: the server stays in ERROR.
        Assert.Equal(200, (await Report(agent, host, 2, [new { id, vmState = "running" }], [])).Status);
        Assert.Equal("ERROR", (await w.Member.Get($"/v1/servers/{id}")).Body.Str("status"));
        Assert.Empty(await sweeper.SweepAsync());

        // What it held is free again: a server of the same shape fits where it was.
        Assert.Equal(201, (await w.Member.Post("/v1/servers", new { name = "vnf2", flavor = "nfv.small", ports = new[] { "vnf1-p" } })).Status);
        Assert.Equal(204, (await w.Member.Delete($"/v1/servers/{id}")).Status);
        Assert.Equal(404, (await w.Member.Delete($"/v1/servers/{id}")).Status);
    }

    [Fact]
    public async Task An_active_server_is_not_failed_by_the_timeout()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var agent = await Agent(w, host);
        await Report(agent, host, 1, [new { id, vmState = "paused" }], [new { id = port, status = "ACTIVE" }]);
        await Report(agent, host, 2, [new { id, vmState = "running" }], []);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Empty(await w.Server.App.Services.GetRequiredService<BuildTimeouts>().SweepAsync());
        Assert.Equal("ACTIVE", (await w.Member.Get($"/v1/servers/{id}")).Body.Str("status"));
    }

    [Fact]
    public async Task A_server_whose_guest_powered_off_is_shutoff_keeps_its_claims_and_never_times_out()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var agent = await Agent(w, host);
        await Report(agent, host, 1, [new { id, vmState = "paused" }], [new { id = port, status = "ACTIVE" }]);
        await Report(agent, host, 2, [new { id, vmState = "running" }], []);
        var pinned = (await HostView(w.Admin, host)).GetProperty("pinnedUsed").GetInt32();
        var revision = (await agent.Get($"/v1/hosts/{host}/desired")).Body.GetProperty("revision").GetInt64();

        // The agent finds the domain shut off: SHUTOFF, and the host's agent is told to leave it off.
        var (_, answer) = await Report(agent, host, revision, [new { id, vmState = "shutoff" }], [new { id = port, status = "DOWN" }]);
        Assert.True(answer.GetProperty("revisionMoved").GetBoolean());
        var server = (await w.Member.Get($"/v1/servers/{id}")).Body;
        Assert.Equal(("SHUTOFF", "shutoff", "shutoff"), (server.Str("status"), server.Str("powerState"), server.Str("vmState")));
        var mine = (await agent.Get($"/v1/hosts/{host}/desired?after={revision}")).Body.GetProperty("servers").EnumerateArray().Single();
        Assert.Equal(("SHUTOFF", "shutoff"), (mine.Str("status"), mine.Str("powerState")));
        Assert.Equal(JsonValueKind.Object, mine.GetProperty("plan").ValueKind);

        // Long past any build deadline: still SHUTOFF, its claims and its port's binding kept.
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Empty(await w.Server.App.Services.GetRequiredService<BuildTimeouts>().SweepAsync());
        await Report(agent, host, revision + 1, [new { id, vmState = "shutoff" }], [new { id = port, status = "DOWN" }]);
        Assert.Equal("SHUTOFF", (await w.Member.Get($"/v1/servers/{id}")).Body.Str("status"));
        Assert.Equal(pinned, (await HostView(w.Admin, host)).GetProperty("pinnedUsed").GetInt32());
        Assert.Equal(JsonValueKind.Object, (await w.Member.Get($"/v1/ports/{port}")).Body.GetProperty("binding").ValueKind);
        Assert.Equal(200, (await w.Member.Get($"/v1/servers/{id}/plan")).Status);

        // Deleted: everything given back.
        Assert.Equal(204, (await w.Member.Delete($"/v1/servers/{id}")).Status);
        Assert.Equal(0, (await HostView(w.Admin, host)).GetProperty("pinnedUsed").GetInt32());
        Assert.Empty((await agent.Get($"/v1/hosts/{host}/desired")).Body.GetProperty("servers").EnumerateArray());
    }

    [Fact]
    public async Task A_host_whose_agent_went_silent_shows_down()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var other = host == "h1" ? "h2" : "h1";
        await Report(await Agent(w, host), host, 1, [new { id, vmState = "paused" }], [new { id = port, status = "DOWN" }]);
        string AgentOf(System.Text.Json.JsonElement hosts, string name) => hosts.EnumerateArray().Single(h => h.Str("name") == name).Str("agent");
        var (_, hosts) = await w.Admin.Get("/v1/hosts");
        Assert.Equal(("up", "never-reported"), (AgentOf(hosts, host), AgentOf(hosts, other)));
        _clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal("down", (await w.Admin.Get($"/v1/hosts/{host}")).Body.Str("agent"));
    }

    private static async Task<JsonElement> HostView(HttpClient admin, string host) => (await admin.Get($"/v1/hosts/{host}")).Body;

    private static async Task<string> HostStatus(ApiWorld w, string server) => (await w.Member.Get($"/v1/servers/{server}")).Body.Str("hostStatus");

    [Fact]
    public async Task A_host_whose_agent_fell_silent_takes_no_new_servers_until_it_reports_again()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var other = host == "h1" ? "h2" : "h1";
        var agent = await Agent(w, host);
        await Report(agent, host, 1, [new { id, vmState = "paused" }], [new { id = port, status = "DOWN" }]);
        var generation = (await HostView(w.Admin, host)).GetProperty("generation").GetInt64();
        Assert.Equal("UP", await HostStatus(w, id));
        // Heartbeats and sweeps of a reporting host leave its generation alone.
        var watch = w.Server.App.Services.GetRequiredService<AgentWatch>();
        await Report(agent, host, 1, [], []);
        await watch.SweepAsync();
        var view = await HostView(w.Admin, host);
        Assert.Equal((generation, JsonValueKind.Null), (view.GetProperty("generation").GetInt64(), view.GetProperty("agentDownAt").ValueKind));

        _clock.Advance(TimeSpan.FromSeconds(31));
        await watch.SweepAsync();
        Assert.Empty(await watch.SweepAsync()); // marked once
        view = await HostView(w.Admin, host);
        Assert.Equal(("down", generation + 1, JsonValueKind.String), (view.Str("agent"), view.GetProperty("generation").GetInt64(), view.GetProperty("agentDownAt").ValueKind));
        // Its server stays where it is; its host shows DOWN.
        var server = (await w.Member.Get($"/v1/servers/{id}")).Body;
        Assert.Equal((host, "BUILD", "DOWN"), (server.Str("host"), server.Str("status"), server.Str("hostStatus")));
        Assert.Contains(server.Str("hostStatus"), (await w.Member.Get("/v1/servers")).Body.EnumerateArray().Select(s => s.Str("hostStatus")));
        // With the other host disabled there is nowhere to go, and both reasons are named.
        await w.Admin.Send(HttpMethod.Patch, $"/v1/hosts/{other}", new { enabled = false });
        var (status, error) = await w.Member.Post("/v1/servers", new { name = "vnf2", flavor = "nfv.small" });
        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        var codes = error.GetProperty("error").GetProperty("extra").GetProperty("reasons").EnumerateArray().Select(r => r.Str("code")).Order().ToList();
        Assert.Equal(["agent-down", "host-disabled"], codes);
        Assert.Contains($"{host}: its agent stopped reporting", error.GetProperty("error").Str("message"), StringComparison.Ordinal);

        // It reports again: up, and it takes new servers.
        await Report(agent, host, 1, [], []);
        view = await HostView(w.Admin, host);
        Assert.Equal(("up", generation + 2, JsonValueKind.Null), (view.Str("agent"), view.GetProperty("generation").GetInt64(), view.GetProperty("agentDownAt").ValueKind));
        var (placed, second) = await w.Member.Post("/v1/servers", new { name = "vnf2", flavor = "nfv.small" });
        Assert.Equal((201, host), (placed, second.Str("host")));
        Assert.Equal("UP", await HostStatus(w, id));
    }

    [Fact]
    public async Task A_host_whose_agent_never_reported_stays_schedulable()
    {
        await using var w = await Start();
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Empty(await w.Server.App.Services.GetRequiredService<AgentWatch>().SweepAsync());
        var (status, server) = await w.Member.Post("/v1/servers", new { name = "vm", flavor = "nfv.small" });
        Assert.Equal(201, status);
        var id = server.Str("id");
        var host = server.Str("host");
        Assert.Equal(("never-reported", JsonValueKind.Null), ((await HostView(w.Admin, host)).Str("agent"), (await HostView(w.Admin, host)).GetProperty("agentDownAt").ValueKind));
        Assert.Equal("UNKNOWN", await HostStatus(w, id));
        await w.Admin.Send(HttpMethod.Patch, $"/v1/hosts/{host}", new { enabled = false });
        Assert.Equal("MAINTENANCE", await HostStatus(w, id));
    }

    /// <summary>Two server processes on one store: one sees its agents fall silent and come back, the other follows.</summary>
    [Fact]
    public async Task A_host_marked_down_or_up_by_one_server_process_is_skipped_or_taken_by_the_other()
    {
        var store = await NewStoreAsync();
        await using var w = await ApiWorld.StartAsync(store, _clock);
        await using var two = await ApiServer.StartAsync(store, w.Server.AdminSecret, _clock);
        var admin2 = two.Client(w.Server.AdminSecret);
        var agents = new Dictionary<string, HttpClient>();
        foreach (var host in new[] { "h1", "h2" })
        {
            agents[host] = two.Client((await admin2.Post("/v1/tokens", new { role = "host", host })).Body.Str("secret"));
            await Report(agents[host], host, 0, [], []);
        }
        _clock.Advance(TimeSpan.FromSeconds(31));
        await Report(agents["h2"], "h2", 0, [], []);
        await two.App.Services.GetRequiredService<AgentWatch>().SweepAsync();
        await admin2.Send(HttpMethod.Patch, "/v1/hosts/h2", new { enabled = false });

        // The first process learns it when its commit meets the moved generation, and says why.
        var (status, error) = await w.Member.Post("/v1/servers", new { name = "a", flavor = "nfv.small" });
        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        Assert.Equal(["agent-down", "host-disabled"], error.GetProperty("error").GetProperty("extra").GetProperty("reasons").EnumerateArray().Select(r => r.Str("code")).Order());

        // h1's agent is back, through the second process; the first takes h1 again at its next sweep.
        await Report(agents["h1"], "h1", 0, [], []);
        await w.Server.App.Services.GetRequiredService<AgentWatch>().SweepAsync();
        var (placed, server) = await w.Member.Post("/v1/servers", new { name = "a", flavor = "nfv.small" });
        Assert.Equal((201, "h1"), (placed, server.Str("host")));
    }

    [Fact]
    public async Task An_agent_reads_and_writes_only_its_own_host()
    {
        await using var w = await Start();
        var (id, port, host) = await CreateServer(w);
        var other = host == "h1" ? "h2" : "h1";
        var stranger = await Agent(w, other);
        Assert.Equal(403, (await stranger.Get($"/v1/hosts/{host}/desired")).Status);
        Assert.Equal(403, (await stranger.Post($"/v1/hosts/{host}/report", new { appliedRevision = 1 })).Status);
        var (status, error) = await Report(stranger, other, 0, [], [new { id = port, status = "ACTIVE" }]);
        Assert.Equal(403, status);
        Assert.Contains(port, error.GetProperty("error").Str("message"), StringComparison.Ordinal);
        Assert.Equal("BOUND", (await w.Member.Get($"/v1/ports/{port}")).Body.Str("status"));
        Assert.Equal(403, (await w.Member.Get($"/v1/hosts/{host}/desired")).Status);
        var agent = await Agent(w, host);
        (status, error) = await Report(agent, host, 1, [new { id, vmState = "sleeping" }], []);
        Assert.Equal((400, "servers[0].vmState"), (status, error.ErrorField()));
        (status, error) = await Report(agent, host, 1, [], [new { id = port, status = "UP" }]);
        Assert.Equal((400, "ports[0].status"), (status, error.ErrorField()));
    }

    [Fact]
    public async Task A_server_made_from_networks_makes_its_ports_and_takes_them_along()
    {
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        await w.Member.Post("/v1/networks", new { name = "overlay", type = "vxlan" });
        Assert.Equal(201, (await w.Member.Post("/v1/subnets", new { name = "lan4", network = "lan", cidr = "10.0.0.0/24" })).Status);

        // A NIC that cannot be: the field is named under networks[i] and no port is left behind.
        var (status, error) = await w.Member.Post("/v1/servers", new
        {
            name = "bad", flavor = "nfv.small", networks = new object[] { new { network = "lan", vnicType = "direct" }, new { network = "overlay", vnicType = "direct" } },
        });
        Assert.Equal((400, "networks[1].vnicType"), (status, error.ErrorField()));
        Assert.Equal(0, (await w.Member.Get("/v1/ports")).Body.GetArrayLength());
        // No room: no port left either.
        await w.Admin.Post("/v1/flavors", new { name = "huge", vcpus = 64, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        (status, _) = await w.Member.Post("/v1/servers", new { name = "big", flavor = "huge", networks = new[] { new { network = "lan", vnicType = "direct" } } });
        Assert.Equal(409, status);
        Assert.Equal(0, (await w.Member.Get("/v1/ports")).Body.GetArrayLength());

        var (created, server) = await w.Member.Post("/v1/servers", new
        {
            name = "g1", flavor = "nfv.small", networks = new object[] { new { network = "lan", vnicType = "direct" }, new { network = "lan" } },
        });
        Assert.Equal(201, created);
        Assert.Equal(["g1-nic0", "g1-nic1"], server.GetProperty("ports").EnumerateArray().Select(p => p.Str("name")));
        var nic0 = (await w.Member.Get("/v1/ports/g1-nic0")).Body;
        Assert.Equal(("BOUND", "10.0.0.2"), (nic0.Str("status"), nic0.GetProperty("fixedIps")[0].Str("ipAddress")));
        Assert.Single(server.GetProperty("placement").GetProperty("vfs").EnumerateArray());

        Assert.Equal(204, (await w.Member.Delete("/v1/servers/g1")).Status);
        Assert.Equal(0, (await w.Member.Get("/v1/ports")).Body.GetArrayLength());
    }

    [Fact]
    public async Task Ports_made_for_a_server_that_never_committed_are_swept()
    {
        await using var w = await Start();
        var (_, net) = await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        var store = w.Server.App.Services.GetRequiredService<Isola.Store.Resources.ResourceStore>();
        var project = (await w.Admin.Get("/v1/projects")).Body.EnumerateArray().Single(p => p.Str("name") == "tenant-a").Str("id");
        // What a process that died between making a server's ports and committing the server leaves.
        var spec = new Isola.Rendering.PortSpec("ghost-nic0", Isola.Scheduling.Requests.VnicType.Direct, "fa:16:3e:00:00:99", Physnet: "physnet2");
        var ghost = new Isola.Store.Resources.PortRecord("p-ghost", project, net.Str("id"), "ghost-nic0", spec.Mac, "DOWN", null,
            Isola.Store.Documents.StoredDocument<Isola.Rendering.PortSpec>.Of(spec), null);
        await store.Ports.CreateAsync(ghost, new Isola.Store.Resources.PortOptions([], null, [], true, [], CreatedFor: "never-committed"), _ => spec);
        var (_, mine) = await w.Member.Post("/v1/ports", new { name = "mine", network = "lan", vnicType = "direct" });
        var sweeper = w.Server.App.Services.GetRequiredService<BuildTimeouts>();
        await sweeper.SweepAsync();
        Assert.Equal(200, (await w.Member.Get("/v1/ports/ghost-nic0")).Status);
        _clock.Advance(BuildTimeouts.OrphanAge + TimeSpan.FromMinutes(1));
        await sweeper.SweepAsync();
        Assert.Equal(404, (await w.Member.Get("/v1/ports/ghost-nic0")).Status);
        Assert.Equal(200, (await w.Member.Get($"/v1/ports/{mine.Str("id")}")).Status);
    }

    /// <summary>The API shows a port's binding as it was stored: one written before bindings said haLegs gets no such key.</summary>
    [Fact]
    public async Task A_binding_stored_by_an_earlier_release_is_shown_as_it_was_stored()
    {
        await using var w = await Start();
        await w.Member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2" });
        var (_, port) = await w.Member.Post("/v1/ports", new { name = "old", network = "lan", vnicType = "direct" });
        const string Earlier = """{"host":"h1","vfs":[{"pf":"0000:3b:00.0","pfNetDev":"ens1f0","vf":"0000:3b:02.0","vfIndex":0}],"pf":null}""";
        var factory = w.Server.App.Services.GetRequiredService<Isola.Store.PlacementStore>().Factory;
        await using (var c = await factory.OpenAsync())
            await Dapper.SqlMapper.ExecuteAsync(c, "UPDATE ports SET binding = @binding WHERE id = @id", new { binding = Earlier, id = port.Str("id") });

        var binding = (await w.Member.Get("/v1/ports/old")).Body.GetProperty("binding");

        Assert.Equal(JsonSerializer.Serialize(JsonDocument.Parse(Earlier).RootElement), JsonSerializer.Serialize(binding));
        Assert.False(binding.TryGetProperty("haLegs", out _));
    }

    [Fact]
    public async Task Server_groups_keep_anti_affinity_members_apart()
    {
        await using var w = await Start();
        var (status, group) = await w.Member.Post("/v1/server-groups", new { name = "pair", policy = "anti-affinity" });
        Assert.Equal(201, status);
        Assert.Equal("policy", (await w.Member.Post("/v1/server-groups", new { name = "x", policy = "together" })).Body.ErrorField());
        var hosts = new List<string>();
        foreach (var name in new[] { "a", "b" })
        {
            var (s, server) = await w.Member.Post("/v1/servers", new { name, flavor = "nfv.small", group = "pair" });
            Assert.Equal(201, s);
            Assert.Equal(group.Str("id"), server.Str("group"));
            hosts.Add(server.Str("host"));
        }
        Assert.Equal(2, hosts.Distinct().Count());
        var (third, error) = await w.Member.Post("/v1/servers", new { name = "c", flavor = "nfv.small", group = "pair" });
        Assert.Equal((409, "no-valid-host"), (third, error.ErrorCode()));
        Assert.Equal(2, (await w.Member.Get("/v1/server-groups/pair")).Body.GetProperty("members").GetArrayLength());
        Assert.Equal(404, (await w.Other.Get("/v1/server-groups/pair")).Status);
        Assert.Equal("group", (await w.Other.Post("/v1/servers", new { name = "d", flavor = "nfv.small", group = "pair" })).Body.ErrorField());
        Assert.Equal(409, (await w.Member.Delete("/v1/server-groups/pair")).Status);
        await w.Member.Delete("/v1/servers/a");
        await w.Member.Delete("/v1/servers/b");
        Assert.Equal(204, (await w.Member.Delete("/v1/server-groups/pair")).Status);
    }
}

public sealed class SqliteLifecycleTests : LifecycleSuite, IDisposable
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
public sealed class PostgresLifecycleTests(PostgresServer server) : LifecycleSuite
{
    protected override Task<string> NewStoreAsync() => server.CreateDatabaseAsync();
}
