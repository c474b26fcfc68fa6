using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Tests.Server;
using Isola.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Isola.Tests.Agent;

/// <summary>
/// A member's bad port meets a host that runs other servers (real API, real agent, simulated X710
/// host whose i40e VFs can guarantee no minimum rate): what the host would refuse is refused at
/// create, and a plan that still cannot be made fails that one server while the host, its agent and
/// every other server go on.
/// </summary>
public sealed class OneBadServerTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private ApiServer _server = null!;
    private HttpClient _admin = null!;
    private HttpClient _member = null!;
    private SimulatedHost _host = null!;
    private HostAgent _agent = null!;
    private string _agentToken = null!;

    public async Task InitializeAsync()
    {
        _server = await ApiServer.StartAsync(_dir.Sub("isola.db"));
        _admin = _server.Client(_server.AdminSecret);
        _host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s"), "sim1"), _dir.Sub("root"));
        _agentToken = (await _admin.Post("/v1/tokens", new { role = "host", host = "sim1" })).Body.Str("secret");
        await _admin.Post("/v1/projects", new { name = "p" });
        _member = _server.Client((await _admin.Post("/v1/tokens", new { role = "member", project = "p" })).Body.Str("secret"));
        await _admin.Post("/v1/flavors", new
        {
            name = "nfv", vcpus = 2, ram = 2048, disk = 10,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        Assert.Equal(201, (await _member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 })).Status);
        _agent = NewAgent(planDeltas: true);
        await _agent.RegisterAsync(default);
    }

    /// <summary>The host's agent; <paramref name="planDeltas"/>: it polls with plans=omit and fetches plans apart (the default), else plans come inline.</summary>
    private HostAgent NewAgent(bool planDeltas) =>
        new(_host.Host, ControllerClient.Create(new Uri(_server.Url), _agentToken, "sim1", planDeltas: planDeltas),
            new HostDriver(_host, _dir.Sub("root"), _dir.Sub("agent")), new AppliedStore(_dir.Sub("agent")), TimeProvider.System);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private async Task<string> CreateServerAsync(string name)
    {
        Assert.Equal(201, (await _member.Post("/v1/ports", new { name = name + "-p", network = "lan", vnicType = "direct" })).Status);
        var (status, server) = await _member.Post("/v1/servers", new { name, flavor = "nfv", ports = new[] { name + "-p" } });
        Assert.True(status == 201, server.ToString());
        return server.Str("id");
    }

    private static Isola.Domain.Topology.HostTopology WithPfDriver(Isola.Domain.Topology.HostTopology host, string driver) =>
        host with { Devices = host.Devices.Select(d => d.NetDev is null ? d : d with { Driver = driver }).ToList() };

    private async Task<System.Text.Json.JsonElement> ShowAsync(string id) => (await _admin.Get($"/v1/servers/{id}")).Body;

    /// <summary>Agent cycles until the condition holds (each cycle must run without failures), or a bounded number of them.</summary>
    private async Task CycleUntilAsync(Func<Task<bool>> done, string what)
    {
        for (var i = 0; i < 20; i++)
        {
            var cycle = await _agent.CycleAsync();
            Assert.Empty(cycle.Failures);
            if (await done())
                return;
        }
        Assert.Fail($"after 20 agent cycles: not {what}");
    }

    private async Task<int> PinnedAsync() => (await _admin.Get("/v1/hosts/sim1")).Body.GetProperty("pinnedUsed").GetInt32();

    [Fact]
    public async Task What_the_host_would_refuse_is_refused_at_create_and_leaves_nothing()
    {
        var good = await CreateServerAsync("vm1");
        await CycleUntilAsync(async () => (await ShowAsync(good)).Str("status") == "ACTIVE", "vm1 ACTIVE");
        var pinned = await PinnedAsync();

        // An HA bond without port security: its two VFs carry one MAC, so spoof check must stay on.
        var (ha, haError) = await _member.Post("/v1/ports", new { name = "bond", network = "lan", vnicType = "direct", ha = true, portSecurityEnabled = false });
        Assert.Equal(400, ha);
        Assert.Contains(haError.ErrorField(), new[] { "spoofCheck", "portSecurityEnabled" });

        // A guaranteed rate that no VF of this fleet's drivers (i40e) can give: the server is refused, nothing claimed or bound.
        Assert.Equal(201, (await _member.Post("/v1/ports", new { name = "min", network = "lan", vnicType = "direct", minTxRateMbps = 100 })).Status);
        var (status, error) = await _member.Post("/v1/servers", new { name = "vm2", flavor = "nfv", ports = new[] { "min" } });
        // No host can take it (a fleet of i40e only): the scheduler's answer names the driver rule, not a field of the body.
        Assert.Equal((409, "no-valid-host"), (status, error.ErrorCode()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("error").GetProperty("field").ValueKind);
        var reason = Assert.Single(error.GetProperty("error").GetProperty("extra").GetProperty("reasons").EnumerateArray());
        Assert.Equal(("vf-driver-capability", 1), (reason.Str("code"), reason.GetProperty("hosts").GetInt32()));
        Assert.Contains("guarantee a minimum TX rate (port min; i40e cannot)", reason.Str("example"), StringComparison.Ordinal);
        Assert.Equal(pinned, await PinnedAsync());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await _member.Get("/v1/ports/min")).Body.GetProperty("server").ValueKind);
        Assert.Equal(404, (await _member.Get("/v1/servers/vm2")).Status);

        // The host goes on: the good server is still running, a new one comes up.
        var next = await CreateServerAsync("vm3");
        await CycleUntilAsync(async () => (await ShowAsync(next)).Str("status") == "ACTIVE", "vm3 ACTIVE");
        Assert.Equal("ACTIVE", (await ShowAsync(good)).Str("status"));
    }

    [Fact]
    public async Task A_plan_that_cannot_be_made_fails_that_server_alone()
    {
        var good = await CreateServerAsync("vm1");
        await CycleUntilAsync(async () => (await ShowAsync(good)).Str("status") == "ACTIVE", "vm1 ACTIVE");
        var bad = await CreateServerAsync("vm2");
        // What a rule the create missed would leave (or an older version's row): a VLAN priority no VF takes.
        await using (var c = new SqliteConnection($"Data Source={_dir.Sub("isola.db")};Pooling=False"))
        {
            await c.OpenAsync();
            await using var update = c.CreateCommand();
            update.CommandText = """UPDATE servers SET spec = replace(spec, '"vlanQos":0', '"vlanQos":9') WHERE id = $id""";
            update.Parameters.AddWithValue("$id", bad);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        await CycleUntilAsync(async () => (await ShowAsync(bad)).Str("status") == "ERROR", "vm2 ERROR");
        var failed = await ShowAsync(bad);
        Assert.Contains("vlanQos", failed.GetProperty("fault").GetString(), StringComparison.Ordinal);
        Assert.Contains("host plan", failed.GetProperty("fault").GetString(), StringComparison.Ordinal);
        // It gave back what it held; its domain never reached the host.
        Assert.False(_host.Libvirt.Domains.ContainsKey("isola-" + bad));
        Assert.Equal(2, await PinnedAsync());

        // The host's desired state still answers, its agent still reports, the others are still reconciled.
        Assert.Equal(200, (await _admin.Get("/v1/hosts/sim1/desired")).Status);
        Assert.Equal("UP", (await ShowAsync(good)).Str("hostStatus"));
        Assert.Equal("ACTIVE", (await ShowAsync(good)).Str("status"));
        Assert.Equal(204, (await _member.Delete($"/v1/servers/{good}")).Status);
        await CycleUntilAsync(() => Task.FromResult(!_host.Libvirt.Domains.ContainsKey("isola-" + good)), "vm1's domain gone");
        var next = await CreateServerAsync("vm3");
        await CycleUntilAsync(async () => (await ShowAsync(next)).Str("status") == "ACTIVE", "vm3 ACTIVE");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_active_server_whose_plan_stops_rendering_keeps_running_as_it_is(bool planDeltas)
    {
        // The host's tree (its VFs' IRQs under proc/irq among the rest), so the agent steers interrupts as on a real host.
        SysfsTreeWriter.Write(_host.Host, ProfileCatalog.Get("x710-2s").HostConfig, _dir.Sub("root"), replace: true);
        // Its PFs first run a driver that can guarantee a minimum TX rate (ice), and vm1's port asks for one.
        var i40e = _host.Host;
        _host = new SimulatedHost(WithPfDriver(i40e, "ice"), _dir.Sub("root"));
        _agent = NewAgent(planDeltas);
        await _agent.RegisterAsync(default);
        Assert.Equal(201, (await _member.Post("/v1/ports", new { name = "vm1-p", network = "lan", vnicType = "direct", minTxRateMbps = 100 })).Status);
        var (created, body) = await _member.Post("/v1/servers", new { name = "vm1", flavor = "nfv", ports = new[] { "vm1-p" } });
        Assert.True(created == 201, body.ToString());
        var kept = body.Str("id");
        var other = await CreateServerAsync("vm2");
        await CycleUntilAsync(async () => (await ShowAsync(kept)).Str("status") == "ACTIVE" && (await ShowAsync(other)).Str("status") == "ACTIVE",
            "vm1 and vm2 ACTIVE");
        string PfOf(System.Text.Json.JsonElement server) => server.GetProperty("placement").GetProperty("vfs")[0].Str("pf");
        Assert.NotEqual(PfOf(await ShowAsync(kept)), PfOf(await ShowAsync(other))); // VF balance: the second server took the other PF
        var domain = _host.Libvirt.Domains["isola-" + kept];
        var vfs = _host.Nic.Programmed();
        var irqs = Directory.GetFiles(Path.Join(_dir.Sub("root"), "sys", "bus", "pci", "devices", (await ShowAsync(kept)).GetProperty("placement").GetProperty("vfs")[0].Str("vf"),
            "msi_irqs")).Select(Path.GetFileName).ToList();
        // The guest enabled MSI-X as it started running: its vectors are steered, and banned, in the cycle after.
        string Irqbalance() => File.ReadAllText(Path.Join(_dir.Sub("root"), "etc", "default", "irqbalance"));
        await CycleUntilAsync(() => Task.FromResult(irqs.All(q => Irqbalance().Contains($"--banirq={q}", StringComparison.Ordinal))), "vm1's vectors banned from irqbalance");
        var irqbalance = Irqbalance();
        string Affinity(string? irq) => File.ReadAllText(Path.Join(_dir.Sub("root"), "proc", "irq", irq!, "smp_affinity_list")).Trim();
        var affinities = irqs.Select(Affinity).ToList();
        Assert.NotEmpty(irqs);
        Assert.All(irqs, q => Assert.Contains($"--banirq={q}", irqbalance, StringComparison.Ordinal));
        var pinned = await PinnedAsync();

        // The host comes back with its PFs on i40e (another driver loaded at boot), which cannot guarantee vm1's minimum rate:
        // the inventory is valid and holds everything vm1 holds, but vm1's plan cannot be made.
        await ControllerClient.Create(new Uri(_server.Url), _agentToken, "sim1").RegisterAsync(i40e, default);

        for (var i = 0; i < 3; i++)
        {
            var cycle = await _agent.CycleAsync();
            Assert.Empty(cycle.Failures);
            Assert.True(cycle.Done.Count == 0, string.Join("; ", cycle.Done));
            // The agent says what it leaves alone, and why.
            var note = Assert.Single(cycle.Untouched);
            Assert.Contains($"vm1 ({kept})", note, StringComparison.Ordinal);
            Assert.Contains("i40e", note, StringComparison.Ordinal);
        }
        // vm1 is as it was: its domain runs, its VFs and irqbalance's file hold what they held, its claims and status are kept.
        Assert.Same(domain, _host.Libvirt.Domains["isola-" + kept]);
        Assert.Equal("running", domain.State);
        Assert.Equal(vfs, _host.Nic.Programmed());
        Assert.Equal(irqbalance, File.ReadAllText(Path.Join(_dir.Sub("root"), "etc", "default", "irqbalance")));
        Assert.Equal(affinities, irqs.Select(Affinity).ToList());
        Assert.Equal(pinned, await PinnedAsync());
        var shown = await ShowAsync(kept);
        Assert.Equal(("ACTIVE", "running"), (shown.Str("status"), shown.Str("vmState")));
        Assert.Equal("ACTIVE", (await _member.Get("/v1/ports/vm1-p")).Body.Str("status"));
        // The desired state lists it, without a plan and with the reason, in both forms.
        foreach (var query in new[] { "", "?plans=omit" })
        {
            var listed = (await _admin.Get("/v1/hosts/sim1/desired" + query)).Body.GetProperty("servers").EnumerateArray().Single(s => s.Str("id") == kept);
            Assert.Equal(System.Text.Json.JsonValueKind.Null, listed.GetProperty("plan").ValueKind);
            if (query == "")
                Assert.Contains("i40e", listed.Str("planError"), StringComparison.Ordinal);
        }
        var fetched = (await _admin.Get($"/v1/hosts/sim1/plans?server={kept}&server={other}")).Body;
        Assert.Equal(System.Text.Json.JsonValueKind.Null, fetched.GetProperty(kept).GetProperty("plan").ValueKind);
        Assert.Contains("i40e", fetched.GetProperty(kept).Str("planError"), StringComparison.Ordinal);
        Assert.Equal(System.Text.Json.JsonValueKind.Object, fetched.GetProperty(other).GetProperty("plan").ValueKind);

        // The host and everything else go on: vm2 is deleted and taken down, a new server comes up.
        Assert.Equal("UP", (await ShowAsync(kept)).Str("hostStatus"));
        Assert.Equal(204, (await _member.Delete($"/v1/servers/{other}")).Status);
        await CycleUntilAsync(() => Task.FromResult(!_host.Libvirt.Domains.ContainsKey("isola-" + other)), "vm2's domain gone");
        var next = await CreateServerAsync("vm3");
        await CycleUntilAsync(async () => (await ShowAsync(next)).Str("status") == "ACTIVE", "vm3 ACTIVE");
        Assert.Equal("running", _host.Libvirt.Domains["isola-" + kept].State);

        // Deleted at last, it is taken down like any other.
        Assert.Equal(204, (await _member.Delete($"/v1/servers/{kept}")).Status);
        await CycleUntilAsync(() => Task.FromResult(!_host.Libvirt.Domains.ContainsKey("isola-" + kept)), "vm1's domain gone");
    }
}
