using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Domain.Pci;
using Isola.Host.Commands;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Agent;

/// <summary>
/// A real API server, a real agent, a simulated host (a NIC that keeps VF state, a libvirt that keeps
/// domains): servers created and deleted through the API, the host checked after each step.
/// </summary>
public sealed class AgentEndToEndTests : SimulatedSiteTest
{

    private async Task<(string Id, string Mac)> CreateServer(string name)
    {
        var (_, port) = await Admin.Post("/v1/ports", new { name = name + "-p", network = "lan", vnicType = "direct", project = "p" });
        var (status, server) = await Admin.Post("/v1/servers", new { name, flavor = "nfv", ports = new[] { name + "-p" }, project = "p" });
        Assert.Equal(201, status);
        return (server.Str("id"), port.Str("mac"));
    }

    private async Task<string> Status(string id) => (await Admin.Get($"/v1/servers/{id}")).Body.Str("status");

    [Fact]
    public async Task A_server_goes_active_its_vf_programmed_and_leaves_no_trace()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (id, mac) = await CreateServer("vm1");

        var first = await agent.CycleAsync();
        Assert.Empty(first.Failures);
        // Defined and paused, the VF programmed, the port reported ACTIVE: the server is told to resume.
        Assert.Equal("paused", Host.Libvirt.Domains["isola-" + id].State);
        var programmed = Assert.Single(Host.Nic.Programmed());
        Assert.Equal((mac, 100, true), (programmed.State.Mac, programmed.State.Vlan, programmed.State.SpoofCheck));
        await agent.CycleAsync(first.Revision);
        Assert.Equal("running", Host.Libvirt.Domains["isola-" + id].State);
        await agent.CycleAsync();
        Assert.Equal("ACTIVE", await Status(id));
        Assert.Equal("ACTIVE", (await Admin.Get("/v1/ports/vm1-p")).Body.Str("status"));

        // Delete: the domain goes, the VF is reset, nothing of it is left on the host.
        Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
        var cleanup = await agent.CycleAsync();
        Assert.Empty(cleanup.Failures);
        Assert.Empty(Host.Libvirt.Domains);
        Assert.Empty(Host.Nic.Programmed());
        Assert.Empty(new AppliedStore(Dir.Sub("agent")).Load());
    }

    /// <summary>Every file under the agent's state directory and the host's root, with its content.</summary>
    private Dictionary<string, string> Files() =>
        new[] { Dir.Sub("agent"), Dir.Sub("root") }.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .ToDictionary(f => Path.GetRelativePath(Dir.Path, f), File.ReadAllText, StringComparer.Ordinal);

    private async Task UntilActive(HostAgent agent, string id)
    {
        for (var i = 0; i < 10 && await Status(id) != "ACTIVE"; i++)
            await agent.CycleAsync();
        Assert.Equal("ACTIVE", await Status(id));
    }

    [Fact]
    public async Task A_deleted_server_leaves_nothing_in_the_agents_state_or_on_the_host()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        // One server stays throughout: what the host holds for every server (irqbalance, drop-ins) is there before and after.
        var (first, _) = await CreateServer("vm1");
        await UntilActive(agent, first);
        var before = Files();

        var (id, _) = await CreateServer("vm2");
        await UntilActive(agent, id);
        var during = Files();
        Assert.Contains(Path.Join("agent", "domains", $"isola-{id}.xml"), during.Keys);
        Assert.Contains(Path.Join("agent", "servers", $"{id}.json"), during.Keys);

        Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
        Assert.Empty((await agent.CycleAsync()).Failures);
        var after = Files();
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        Assert.All(before, f => Assert.Equal(f.Value, after[f.Key]));
        Assert.Equal(["isola-" + first], Host.Libvirt.Domains.Keys);
    }

    [Fact]
    public async Task Domain_xml_an_earlier_agent_left_behind_is_removed_and_the_live_ones_kept()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (id, _) = await CreateServer("vm1");
        await UntilActive(agent, id);
        // What agents before this one left for every deleted server.
        var stale = Path.Join(Dir.Sub("agent"), "domains", "isola-gone.xml");
        File.WriteAllText(stale, "<domain><name>isola-gone</name></domain>");

        var restarted = await Agent().CycleAsync();
        Assert.Contains(new Isola.Agent.Facets.DomainXmlFacet.RemoveDomainXml("isola-gone", "isola-gone"), restarted.Done);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(Path.Join(Dir.Sub("agent"), "domains", $"isola-{id}.xml")));
        Assert.Equal("running", Host.Libvirt.Domains["isola-" + id].State);
    }

    [Fact]
    public async Task A_guest_that_powers_off_is_shutoff_stays_off_keeps_its_claims_and_still_goes_when_deleted()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (id, _) = await CreateServer("vm1");
        await UntilActive(agent, id);
        var domain = "isola-" + id;
        async Task<(int Pinned, int Vfs)> Claims()
        {
            var host = (await Admin.Get("/v1/hosts/sim1")).Body;
            return (host.GetProperty("pinnedUsed").GetInt32(), host.GetProperty("vfsUsed").GetInt32());
        }
        var claims = await Claims();
        Assert.True(claims.Pinned > 0 && claims.Vfs == 1, $"{claims}");
        var programmed = Assert.Single(Host.Nic.Programmed());

        // The guest powers itself off: the agent reports it and does not start it.
        Host.Libvirt.Stop(domain);
        var seen = await agent.CycleAsync();
        Assert.Empty(seen.Failures);
        Assert.DoesNotContain(seen.Done, s => s is Isola.Agent.Facets.DomainFacet.StartPaused or Isola.Agent.Facets.PowerFacet.Resume);
        var server = (await Admin.Get($"/v1/servers/{id}")).Body;
        Assert.Equal(("SHUTOFF", "shutoff", "shutoff"), (server.Str("status"), server.Str("powerState"), server.Str("vmState")));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, server.GetProperty("taskState").ValueKind);

        // Cycles later (the long poll answers at once: the revision moved): still off, still SHUTOFF, nothing given back.
        var revision = seen.Revision;
        for (var i = 0; i < 3; i++)
        {
            var cycle = await agent.CycleAsync(i == 0 ? revision : null);
            Assert.Empty(cycle.Done);
            Assert.Empty(cycle.Failures);
        }
        Assert.Equal("shut off", Host.Libvirt.Domains[domain].State);
        Assert.Equal("SHUTOFF", await Status(id));
        Assert.Equal(claims, await Claims());
        Assert.Equal("DOWN", (await Admin.Get("/v1/ports/vm1-p")).Body.Str("status"));
        // Its VF keeps the server's settings: it is still the server's.
        Assert.Equal(programmed, Assert.Single(Host.Nic.Programmed()));
        // The CLI shows it.
        var (exit, shown, _) = await Isola.Tests.Cli.CliRunner.Run("server", "show", id, "--url", Server.Url, "--token", Server.AdminSecret!);
        Assert.Equal(0, exit);
        Assert.Matches(@"│ status\s+│ SHUTOFF\s+│", shown);
        var (_, listed, _) = await Isola.Tests.Cli.CliRunner.Run("server", "list", "--url", Server.Url, "--token", Server.AdminSecret!);
        Assert.Contains("SHUTOFF", listed, StringComparison.Ordinal);

        // Deleted: torn down like any other.
        Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
        Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.Empty(Host.Libvirt.Domains);
        Assert.Empty(Host.Nic.Programmed());
        Assert.Empty(new AppliedStore(Dir.Sub("agent")).Load());
        Assert.Empty(Directory.GetFiles(Path.Join(Dir.Sub("agent"), "domains")));
        Assert.Equal((0, 0), await Claims());
    }

    [Fact]
    public async Task After_a_host_reboot_that_lost_its_domains_the_active_servers_are_defined_again_and_stay_shutoff()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (vm1, mac1) = await CreateServer("vm1");
        var (vm2, _) = await CreateServer("vm2");
        await UntilActive(agent, vm1);
        await UntilActive(agent, vm2);
        var claims = (await Admin.Get("/v1/hosts/sim1")).Body.GetProperty("pinnedUsed").GetInt32();

        // The host reboots: a libvirt without the domains, VFs back to their reset state; the agent starts again on its state directory.
        var rebooted = new SimulatedHost(Host.Host, Dir.Sub("root"));
        var restarted = new HostAgent(Host.Host, ControllerClient.Create(new Uri(Server.Url), AgentToken, "sim1"),
            new HostDriver(rebooted, Dir.Sub("root"), Dir.Sub("agent")), new AppliedStore(Dir.Sub("agent")), TimeProvider.System);
        await restarted.RegisterAsync(default);
        var first = await restarted.CycleAsync();
        Assert.Empty(first.Failures);
        // Each domain defined again from the XML the agent kept, none started; the VFs set again (reported: the reboot reset them).
        Assert.Equal(2, first.Done.OfType<Isola.Agent.Facets.DomainFacet.Define>().Count());
        Assert.DoesNotContain(first.Done, s => s is Isola.Agent.Facets.DomainFacet.StartPaused or Isola.Agent.Facets.PowerFacet.Resume);
        Assert.Equal(2, first.Drift.Count);
        Assert.All(new[] { vm1, vm2 }, id => Assert.Equal("shut off", rebooted.Libvirt.Domains["isola-" + id].State));
        Assert.Contains(rebooted.Nic.Programmed(), v => v.State.Mac == mac1);
        // Taken at the host's word, as a guest's own poweroff: SHUTOFF, to stay so (no start endpoint yet), claims kept.
        foreach (var id in new[] { vm1, vm2 })
        {
            var server = (await Admin.Get($"/v1/servers/{id}")).Body;
            Assert.Equal(("SHUTOFF", "shutoff", "shutoff"), (server.Str("status"), server.Str("powerState"), server.Str("vmState")));
        }
        for (var i = 0; i < 2; i++)
        {
            var cycle = await restarted.CycleAsync();
            Assert.Empty(cycle.Done);
            Assert.Empty(cycle.Failures);
        }
        Assert.Equal(claims, (await Admin.Get("/v1/hosts/sim1")).Body.GetProperty("pinnedUsed").GetInt32());
        Assert.Equal(2, rebooted.Libvirt.Domains.Count(d => d.Value.State == "shut off"));

        // Delete is the way out today: taken down like any other.
        Assert.Equal(204, (await Admin.Delete($"/v1/servers/{vm1}")).Status);
        Assert.Empty((await restarted.CycleAsync()).Failures);
        Assert.False(rebooted.Libvirt.Domains.ContainsKey("isola-" + vm1));
        Assert.DoesNotContain(rebooted.Nic.Programmed(), v => v.State.Mac == mac1);
    }

    [Fact]
    public async Task A_host_hears_at_once_when_a_remote_group_gains_or_loses_a_member_elsewhere()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        Host.Ovs.AddBridge("br-int");
        await Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" });
        await Admin.Post("/v1/subnets", new { name = "overlay4", network = "overlay", cidr = "10.7.0.0/24", project = "p" });
        await Admin.Post("/v1/ports", new { name = "web", network = "overlay", project = "p" });
        Assert.Equal(201, (await Admin.Post("/v1/servers", new { name = "vm1", flavor = "nfv", ports = new[] { "web" }, project = "p" })).Status);
        async Task<long> Revision() => (await Admin.Get("/v1/hosts/sim1")).Body.GetProperty("revision").GetInt64();
        async Task<string[]> Members() => (await Server.Client(AgentToken).Get("/v1/hosts/sim1/desired?plans=omit")).Body.GetProperty("network")
            .GetProperty("remoteGroups").EnumerateObject().Single().Value.EnumerateArray().Select(a => a.GetString()!).Order().ToArray();
        var before = await Revision();
        Assert.Single(await Members());

        // A port elsewhere (not on any host) joins the default group that web's ingress rule names as remote.
        var (_, other) = await Admin.Post("/v1/ports", new { name = "db", network = "overlay", project = "p" });
        var joined = await Revision();
        Assert.True(joined > before, $"revision {before} -> {joined}");
        Assert.Equal(2, (await Members()).Length);
        Assert.Equal(204, (await Admin.Delete($"/v1/ports/{other.Str("id")}")).Status);
        Assert.True(await Revision() > joined);
        Assert.Single(await Members());
    }

    [Fact]
    public async Task Each_plan_is_fetched_once_and_again_only_when_the_inventory_changes()
    {
        var client = ControllerClient.Create(new Uri(Server.Url), AgentToken, "sim1");
        var agent = new HostAgent(Host.Host, client, new HostDriver(Host, Dir.Sub("root"), Dir.Sub("agent")), new AppliedStore(Dir.Sub("agent")), TimeProvider.System);
        await agent.RegisterAsync(default);
        var (a, _) = await CreateServer("vm1");
        var (b, _) = await CreateServer("vm2");
        await agent.CycleAsync();
        Assert.Equal(2, client.PlansFetched);
        await agent.CycleAsync();
        Assert.Equal(0, client.PlansFetched);
        var (c, _) = await CreateServer("vm3");
        await agent.CycleAsync();
        Assert.Equal(1, client.PlansFetched);
        for (var i = 0; i < 3; i++)
            await agent.CycleAsync();
        Assert.All(new[] { a, b, c }, id => Assert.Equal("running", Host.Libvirt.Domains["isola-" + id].State));

        // The poll carries stamps, not plans; the plans endpoint answers for the host's own servers only.
        var agentApi = Server.Client(AgentToken);
        var poll = (await agentApi.Get("/v1/hosts/sim1/desired?plans=omit")).Body;
        Assert.All(poll.GetProperty("servers").EnumerateArray(), s =>
        {
            Assert.Equal(System.Text.Json.JsonValueKind.Null, s.GetProperty("plan").ValueKind);
            Assert.False(string.IsNullOrEmpty(s.Str("planStamp")));
        });
        var plans = (await agentApi.Get($"/v1/hosts/sim1/plans?server={a}&server=not-a-server")).Body;
        Assert.Equal([a], plans.EnumerateObject().Select(p => p.Name));
        Assert.Equal("isola-" + a, plans.GetProperty(a).GetProperty("plan").Str("server"));
        Assert.Equal(400, (await agentApi.Get("/v1/hosts/sim1/desired?plans=sometimes")).Status);
        Assert.Equal(400, (await agentApi.Get("/v1/hosts/sim1/plans")).Status);

        // A re-registered inventory moves every stamp: every plan is fetched again.
        await agent.RegisterAsync(default);
        await agent.CycleAsync();
        Assert.Equal(3, client.PlansFetched);
    }

    [Fact]
    public async Task A_vf_changed_behind_the_agents_back_is_set_again_and_reported()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (id, mac) = await CreateServer("vm1");
        for (var i = 0; i < 3; i++)
            await agent.CycleAsync();
        Assert.Equal("ACTIVE", await Status(id));
        var (pf, vf, _) = Assert.Single(Host.Nic.Programmed());
        Host.Nic.Tamper(pf, vf, s => s with { Mac = "fa:16:3e:66:66:66", Vlan = 200 });

        var repair = await agent.CycleAsync();
        var drift = Assert.Single(repair.Drift);
        Assert.Contains("mac fa:16:3e:66:66:66", drift, StringComparison.Ordinal);
        Assert.Contains("vlan 200 (want 100)", drift, StringComparison.Ordinal);
        Assert.Equal((mac, 100), (Host.Nic.Vf(pf, vf).Mac, Host.Nic.Vf(pf, vf).Vlan));
        // Nothing else was redone: the domain kept running.
        Assert.DoesNotContain(repair.Done, s => s is Isola.Agent.Facets.DomainFacet.Define or Isola.Agent.Facets.DomainFacet.StartPaused);
        Assert.Empty((await agent.CycleAsync()).Drift);
    }

    [Fact]
    public async Task The_agent_makes_the_integration_bridge_before_starting_a_domain_with_a_virtio_port()
    {
        var agent = new HostAgent(Host.Host, ControllerClient.Create(new Uri(Server.Url), AgentToken, "sim1", "198.51.100.1"),
            new HostDriver(Host, Dir.Sub("root"), Dir.Sub("agent")), new AppliedStore(Dir.Sub("agent")), TimeProvider.System)
        {
            Ovs = new OvsCycle(new OvsDriver(Host, Dir.Sub("agent")), Isola.Rendering.Flows.OvsLayout.Parse("br-int", null)),
        };
        await agent.RegisterAsync(default);
        await Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" });
        await Admin.Post("/v1/ports", new { name = "web", network = "overlay", project = "p" });
        var (_, server) = await Admin.Post("/v1/servers", new { name = "vm1", flavor = "nfv", ports = new[] { "web" }, project = "p" });
        Assert.Empty(Host.Ovs.BridgeNames);
        var first = await agent.CycleAsync();
        Assert.Empty(first.Failures);
        Assert.Equal("paused", Host.Libvirt.Domains["isola-" + server.Str("id")].State);
        Assert.Equal(["br-int"], Host.Ovs.BridgeNames);
        Assert.Contains(Host.Log, c => string.Join(' ', c).StartsWith("ovs-vsctl --timeout=10 --may-exist add-br br-int", StringComparison.Ordinal));
        for (var i = 0; i < 3; i++)
            await agent.CycleAsync();
        Assert.Equal("ACTIVE", await Status(server.Str("id")));
    }

    [Fact]
    public async Task A_virtio_ports_qos_policy_becomes_its_meters_and_dscp_mark_in_the_hosts_flows()
    {
        var agent = new HostAgent(Host.Host, ControllerClient.Create(new Uri(Server.Url), AgentToken, "sim1", "198.51.100.1"),
            new HostDriver(Host, Dir.Sub("root"), Dir.Sub("agent")), new AppliedStore(Dir.Sub("agent")), TimeProvider.System)
        {
            Ovs = new OvsCycle(new OvsDriver(Host, Dir.Sub("agent")), Isola.Rendering.Flows.OvsLayout.Parse("br-int", null)),
        };
        await agent.RegisterAsync(default);
        await Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" });
        Assert.Equal(201, (await Admin.Post("/v1/qos-policies", new
        {
            name = "ef", project = "p",
            rules = new object[]
            {
                new { type = "dscp-marking", dscpMark = 46 },
                new { type = "bandwidth-limit", maxKbps = 10_000, maxBurstKbps = 1_000 },
                new { type = "bandwidth-limit", maxKbps = 20_000, direction = "ingress" },
            },
        })).Status);
        await Admin.Post("/v1/ports", new { name = "web", network = "overlay", qosPolicy = "ef", project = "p" });
        var (_, server) = await Admin.Post("/v1/servers", new { name = "vm1", flavor = "nfv", ports = new[] { "web" }, project = "p" });

        // The host's desired state carries the policy's rules for the port...
        var port = (await Server.Client(AgentToken).Get("/v1/hosts/sim1/desired?plans=omit")).Body.GetProperty("network").GetProperty("ports")[0];
        Assert.Equal(46, port.GetProperty("dscpMark").GetInt32());
        Assert.Equal((10_000, 1_000), (port.GetProperty("egress").GetProperty("kbps").GetInt64(), port.GetProperty("egress").GetProperty("burstKb").GetInt64()));
        Assert.Equal((20_000, 16_000), (port.GetProperty("ingress").GetProperty("kbps").GetInt64(), port.GetProperty("ingress").GetProperty("burstKb").GetInt64()));

        // ...and the agent makes them the bridge's: the mark in table 40, a meter each way.
        for (var i = 0; i < 3; i++)
            Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.Equal("ACTIVE", await Status(server.Str("id")));
        var ofport = Host.Ovs.Find(Isola.Rendering.Flows.TapNames.Of((await Admin.Get("/v1/ports/web")).Body.Str("id")))!.Ofport;
        var flows = Host.Ovs.Flows("br-int");
        Assert.Contains(flows, f => f.EndsWith($"table=40,priority=100,reg5={ofport},ip actions=set_field:46->ip_dscp,goto_table:50", StringComparison.Ordinal));
        Assert.Contains(flows, f => f.EndsWith($"table=40,priority=100,reg5={ofport},ipv6 actions=set_field:46->ip_dscp,goto_table:50", StringComparison.Ordinal));
        Assert.Equal([Isola.Rendering.Flows.FlowPipeline.EgressMeter(ofport), Isola.Rendering.Flows.FlowPipeline.IngressMeter(ofport)], Host.Ovs.Meters("br-int").Keys);
    }

    [Fact]
    public async Task A_virtio_ports_vhost_workers_are_pinned_before_it_is_active_kept_there_and_gone_with_it()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        // This agent leaves Open vSwitch alone: the operator made br-int (libvirt starts no domain without its bridge).
        Host.Ovs.AddBridge("br-int");
        await Admin.Post("/v1/networks", new { name = "overlay", type = "vxlan", project = "p" });
        await Admin.Post("/v1/ports", new { name = "web", network = "overlay", project = "p" });
        var (_, server) = await Admin.Post("/v1/servers", new { name = "vm1", flavor = "nfv", ports = new[] { "web" }, project = "p" });
        var id = server.Str("id");
        var domain = "isola-" + id;
        // Two vCPUs: two queue pairs, each worker on the pCPU the plan gives its queue.
        var want = (await Admin.Get($"/v1/servers/{id}/plan")).Body.GetProperty("irqs").GetProperty("vhost").EnumerateArray()
            .Select(p => p.GetProperty("cpu").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(2, want.Count);

        // One cycle: defined, started paused, then (QEMU runs now) its workers pinned and the port reported ACTIVE.
        var first = await agent.CycleAsync();
        Assert.Empty(first.Failures);
        var pid = Host.Qemu.Pid(domain)!.Value;
        Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Join(Dir.Sub("root"), "run", "libvirt", "qemu", domain + ".pid")));
        Assert.Equal(want, Host.Qemu.Workers(domain).Select(w => w.Cpus));
        Assert.Contains(Host.Log, c => string.Join(' ', c) == $"taskset -p -c {want[0]} {Host.Qemu.Workers(domain)[0].Tid}");
        Assert.Equal("ACTIVE", (await Admin.Get("/v1/ports/web")).Body.Str("status"));
        await agent.CycleAsync(first.Revision);
        await agent.CycleAsync();
        Assert.Equal("ACTIVE", await Status(id));
        Assert.Empty((await agent.CycleAsync()).Done);

        // Moved behind the agent's back: pinned again, and said so.
        var moved = Host.Qemu.Workers(domain)[1];
        Host.Qemu.Tamper(moved.Tid, "0-3");
        var repair = await agent.CycleAsync();
        var drift = Assert.Single(repair.Drift);
        Assert.Contains($"vhost-{pid} task {moved.Tid} (web queue 1): on 0-3 (want {want[1]})", drift, StringComparison.Ordinal);
        Assert.Equal(want, Host.Qemu.Workers(domain).Select(w => w.Cpus));
        Assert.DoesNotContain(repair.Done, s => s is Isola.Agent.Facets.DomainFacet.Define or Isola.Agent.Facets.DomainFacet.StartPaused);

        // Deleted: QEMU goes, and its pid file and tasks with it.
        Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
        Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.Empty(Host.Libvirt.Domains);
        Assert.Null(Host.Qemu.Pid(domain));
        Assert.False(File.Exists(Path.Join(Dir.Sub("root"), "run", "libvirt", "qemu", domain + ".pid")));
        Assert.False(Directory.Exists(Path.Join(Dir.Sub("root"), "proc", pid.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public async Task A_failing_command_is_reported_and_the_next_cycle_converges()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (id, _) = await CreateServer("vm1");
        Host.Fail(argv => argv.Contains("vlan"), new CommandResult(2, "", "RTNETLINK answers: Device or resource busy\n"));

        var failed = await agent.CycleAsync();
        Assert.Contains(failed.Failures, f => f.Contains("Device or resource busy", StringComparison.Ordinal));
        Assert.Equal("DOWN", (await Admin.Get("/v1/ports/vm1-p")).Body.Str("status"));
        for (var i = 0; i < 3; i++)
            Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.Equal("ACTIVE", await Status(id));
    }

    [Fact]
    public async Task Garbage_from_ip_is_a_failure_not_a_crash()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        await CreateServer("vm1");
        Host.Fail(argv => argv.Contains("-j"), new CommandResult(0, "this is not json", ""));
        await Assert.ThrowsAsync<DriverException>(() => agent.CycleAsync());
        Assert.Empty((await agent.CycleAsync()).Failures);
    }

    [Fact]
    public async Task An_agent_killed_mid_apply_and_restarted_converges_without_duplicates()
    {
        var agent = Agent();
        await agent.RegisterAsync(default);
        var (id, _) = await CreateServer("vm1");
        // The agent dies after defining the domain, before starting it (the start never comes back).
        Host.Fail(argv => argv.Contains("start"), new CommandResult(CommandResult.TimedOut, "", ""));
        await agent.CycleAsync();
        Assert.Equal("shut off", Host.Libvirt.Domains["isola-" + id].State);

        var restarted = Agent();
        for (var i = 0; i < 3; i++)
            await restarted.CycleAsync();
        Assert.Equal("ACTIVE", await Status(id));
        Assert.Single(Host.Libvirt.Domains);
        Assert.Equal(1, Host.Log.Count(a => a.Contains("define")));

        // Deleted while no agent runs; the next agent takes it down from what is on disk.
        await Admin.Delete($"/v1/servers/{id}");
        await Agent().CycleAsync();
        Assert.Empty(Host.Libvirt.Domains);
        Assert.Empty(Host.Nic.Programmed());
    }
}
