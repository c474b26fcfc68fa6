using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Fixtures;
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

    public async Task InitializeAsync()
    {
        _server = await ApiServer.StartAsync(_dir.Sub("isola.db"));
        _admin = _server.Client(_server.AdminSecret);
        _host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = "sim1" }, _dir.Sub("root"));
        var agentToken = (await _admin.Post("/v1/tokens", new { role = "host", host = "sim1" })).Body.Str("secret");
        await _admin.Post("/v1/projects", new { name = "p" });
        _member = _server.Client((await _admin.Post("/v1/tokens", new { role = "member", project = "p" })).Body.Str("secret"));
        await _admin.Post("/v1/flavors", new
        {
            name = "nfv", vcpus = 2, ram = 2048, disk = 10,
            extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated", ["hw:mem_page_size"] = "1GB" },
        });
        Assert.Equal(201, (await _member.Post("/v1/networks", new { name = "lan", type = "vlan", physnet = "physnet2", segment = 100 })).Status);
        _agent = new HostAgent(_host.Host, ControllerClient.Create(new Uri(_server.Url), agentToken, "sim1"),
            new HostDriver(_host, _dir.Sub("root"), _dir.Sub("agent")), new AppliedStore(_dir.Sub("agent")), TimeProvider.System);
        await _agent.RegisterAsync(default);
    }

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
        Assert.True(status is 400 or 409, error.ToString());
        Assert.Contains("minimum", error.ToString(), StringComparison.OrdinalIgnoreCase);
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
}
