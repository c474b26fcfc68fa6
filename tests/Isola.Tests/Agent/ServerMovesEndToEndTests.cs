using System.Net.Http.Headers;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Tests.Server;
using Isola.Tests.Server.Images;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Agent;

/// <summary>
/// Resize and cold migration, confirmed and reverted, through the real API and real agents on two simulated hosts: the
/// new placement is claimed beside the old before anything goes, the domain is shut down and defined again from the new
/// plan (within a host) or its disk sent through the controller and made on the other host from it (between hosts), and
/// a confirm gives back the old placement while a revert gives it back exactly.
/// </summary>
public sealed class ServerMovesEndToEndTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly ImageFiles _files = new();
    private readonly ShiftedClock _clock = new();
    private ApiServer _server = null!;
    private HttpClient _admin = null!;
    private readonly Dictionary<string, (SimulatedHost Host, HostAgent Agent)> _hosts = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        _server = await ApiServer.StartAsync(_dir.Sub("isola.db"), time: _clock);
        _admin = _server.Client(_server.AdminSecret);
        await _admin.Post("/v1/projects", new { name = "p" });
        var dedicated = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" };
        await _admin.Post("/v1/flavors", new { name = "small", vcpus = 1, ram = 1024, disk = 1, extraSpecs = dedicated });
        await _admin.Post("/v1/flavors", new { name = "big", vcpus = 2, ram = 2048, disk = 2, extraSpecs = dedicated });
        await _admin.Post("/v1/flavors", new { name = "tiny-disk", vcpus = 2, ram = 1024, disk = 0, extraSpecs = dedicated });
        foreach (var name in new[] { "sim1", "sim2" })
        {
            var host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = name }, _dir.Sub(name + "-root"));
            var token = (await _admin.Post("/v1/tokens", new { role = "host", host = name })).Body.Str("secret");
            var client = ControllerClient.Create(new Uri(_server.Url), token, name);
            var state = _dir.Sub(name + "-agent");
            var agent = new HostAgent(host.Host, client, new HostDriver(host, _dir.Sub(name + "-root"), state, images: client), new AppliedStore(state), TimeProvider.System);
            await agent.RegisterAsync(default);
            _hosts[name] = (host, agent);
        }
        var (_, made) = await _admin.Post("/v1/images", new { name = "alpha", diskFormat = "qcow2", project = "p" });
        await using var file = File.OpenRead(await _files.Qcow2Async("alpha.qcow2", "64M"));
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _admin.PutAsync($"/v1/images/{made.Str("id")}/file", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _files.Dispose();
        _dir.Dispose();
    }

    private async Task<JsonElement> Server(string id) => (await _admin.Get($"/v1/servers/{id}")).Body;

    private SimulatedLibvirt.Domain? Domain(string host, string id) => _hosts[host].Host.Libvirt.Domains.GetValueOrDefault("isola-" + id);

    private string Disk(string host, string id) => File.ReadAllText(Path.Join(_dir.Sub(host + "-root"), "var/lib/isola/instances", "isola-" + id, "disk.qcow2"));

    private bool InstanceDirectory(string host, string id) => Directory.Exists(Path.Join(_dir.Sub(host + "-root"), "var/lib/isola/instances", "isola-" + id));

    /// <summary>The agents (both, unless named) cycle until the server is at <paramref name="status"/> with no task (a handful of cycles at most).</summary>
    private async Task Until(string id, string status, params string[] hosts)
    {
        var agents = (hosts.Length == 0 ? [.. _hosts.Keys] : hosts).Select(h => _hosts[h].Agent).ToList();
        for (var i = 0; i < 10; i++)
        {
            var server = await Server(id);
            if (server.Str("status") == status && server.GetProperty("taskState").ValueKind == JsonValueKind.Null)
            {
                // One more cycle each: what the agents do at rest (take down what left) is done.
                foreach (var agent in agents)
                    Assert.Empty((await agent.CycleAsync()).Failures);
                return;
            }
            foreach (var agent in agents)
                Assert.Empty((await agent.CycleAsync()).Failures);
        }
        Assert.Fail($"server {id} is {await Server(id)} after 10 cycles of each agent; expected {status}");
    }

    private async Task<string> CreateAsync(string name, string flavor = "small")
    {
        var (status, server) = await _admin.Post("/v1/servers", new { name, flavor, image = "alpha", project = "p" });
        Assert.True(status == 201, server.ToString());
        var id = server.Str("id");
        await Until(id, "ACTIVE");
        return id;
    }

    private async Task<JsonElement> Accepted(string id, object body)
    {
        var (status, answer) = await _admin.Post($"/v1/servers/{id}/action", body);
        Assert.True(status == 202, answer.ToString());
        return answer;
    }

    private T Service<T>() where T : notnull => _server.App.Services.GetRequiredService<T>();

    private async Task<string> Claims(string id) =>
        string.Join(",", (await Service<Isola.Store.PlacementStore>().ClaimsAsync()).Where(c => c.Server == id).Select(c => $"{c.Host}:{c.Kind}:{c.Item}")
            .Order(StringComparer.Ordinal));

    private static List<int> Pins(JsonElement server) =>
        [.. server.GetProperty("placement").GetProperty("cells").EnumerateArray().SelectMany(c => c.GetProperty("pins").EnumerateArray()).Select(p => p.GetProperty("pcpu").GetInt32())];

    private async Task<List<string>> Actions(string id) =>
        [.. (await _admin.Get($"/v1/servers/{id}/actions")).Body.EnumerateArray().Select(a => $"{a.Str("action")}:{a.GetProperty("result").GetString()}")];

    private async Task EnableAsync(string host, bool enabled) =>
        Assert.Equal(200, (await _admin.Send(HttpMethod.Patch, $"/v1/hosts/{host}", enabled ? new { enabled } : new { enabled, disabledReason = "kept out of this test" })).Status);

    private Task DisableAsync(string host) => EnableAsync(host, false);

    [Fact]
    public async Task A_resize_within_a_host_claims_the_new_pins_beside_the_old_redefines_the_domain_grows_the_disk_and_a_confirm_gives_the_old_back()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        var before = await Server(id);
        var oldClaims = await Claims(id);
        Assert.Single(Pins(before));

        var answer = await Accepted(id, new { resize = new { flavorRef = "big" } });
        Assert.Equal(("RESIZE", "resize_migrating"), (answer.Str("status"), answer.Str("taskState")));
        // Claimed beside the old at once: the old pin and two new ones, on the same host.
        var during = await Claims(id);
        Assert.Contains(oldClaims, during.Split(','));
        Assert.Equal(3, during.Split(',').Length);

        await Until(id, "VERIFY_RESIZE");
        var resized = await Server(id);
        Assert.Equal(("sim1", "big"), (resized.Str("host"), resized.Str("flavor")));
        var pins = Pins(resized);
        Assert.Equal(2, pins.Count);
        Assert.DoesNotContain(Pins(before)[0], pins);
        // The guest was shut down cleanly, its domain defined again from the new plan, its disk grown; it runs again.
        var domain = Domain("sim1", id)!;
        Assert.Equal("running", domain.State);
        Assert.Contains("<vcpu placement='static'>2</vcpu>", domain.Xml.Replace('"', '\''), StringComparison.Ordinal);
        Assert.Equal(1, _hosts["sim1"].Host.Libvirt.ShutdownRequests["isola-" + id]);
        Assert.StartsWith("simulated qcow2 2G", Disk("sim1", id), StringComparison.Ordinal);

        var confirm = await Accepted(id, new Dictionary<string, object?> { ["confirmResize"] = null });
        Assert.Equal("ACTIVE", confirm.Str("status"));
        await Until(id, "ACTIVE");
        Assert.Equal(2, (await Claims(id)).Split(',').Length);
        Assert.DoesNotContain(oldClaims, (await Claims(id)).Split(','));
        Assert.Equal(["create:Success", "resize:Success", "confirmResize:Success"], await Actions(id));
        var migrations = (await _admin.Get($"/v1/servers/{id}/migrations")).Body.EnumerateArray().ToList();
        Assert.Equal(("resize", "confirmed", "sim1", "sim1"),
            (migrations.Single().Str("kind"), migrations.Single().Str("status"), migrations.Single().Str("sourceHost"), migrations.Single().Str("destHost")));
    }

    [Fact]
    public async Task A_reverted_resize_gives_the_old_placement_and_domain_back_exactly()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        var before = await Server(id);
        var oldClaims = await Claims(id);
        var oldXml = Domain("sim1", id)!.Xml;

        await Accepted(id, new { resize = new { flavorRef = "big" } });
        await Until(id, "VERIFY_RESIZE");
        Assert.NotEqual(oldXml, Domain("sim1", id)!.Xml);

        var revert = await Accepted(id, new Dictionary<string, object?> { ["revertResize"] = null });
        Assert.Equal(("REVERT_RESIZE", "resize_reverting"), (revert.Str("status"), revert.Str("taskState")));
        // The new placement went at once; the old one it kept is its own again.
        Assert.Equal(oldClaims, await Claims(id));
        await Until(id, "ACTIVE");
        var after = await Server(id);
        Assert.Equal(before.GetProperty("placement").ToString(), after.GetProperty("placement").ToString());
        Assert.Equal("small", after.Str("flavor"));
        Assert.Equal(("running", oldXml), (Domain("sim1", id)!.State, Domain("sim1", id)!.Xml));
        Assert.Equal(["create:Success", "resize:Success", "revertResize:Success"], await Actions(id));
    }

    [Fact]
    public async Task A_migration_sends_the_disk_through_the_controller_starts_the_server_on_the_other_host_and_a_confirm_clears_the_first()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await EnableAsync("sim2", true);
        var oldClaims = await Claims(id);
        var marker = Disk("sim1", id);

        var answer = await Accepted(id, new Dictionary<string, object?> { ["migrate"] = null });
        Assert.Equal(("RESIZE", "resize_migrating"), (answer.Str("status"), answer.Str("taskState")));
        Assert.Contains("sim1:", await Claims(id), StringComparison.Ordinal);
        Assert.Contains("sim2:", await Claims(id), StringComparison.Ordinal);

        await Until(id, "VERIFY_RESIZE");
        var moved = await Server(id);
        Assert.Equal(("sim2", "small"), (moved.Str("host"), moved.Str("flavor")));
        Assert.Equal("running", Domain("sim2", id)!.State);
        // The first host keeps the domain, shut off, and the disk, until the move is confirmed; the second made its disk
        // from the one sent (backed by its own copy of the image), not from the image.
        Assert.Equal("shut off", Domain("sim1", id)!.State);
        Assert.True(InstanceDirectory("sim1", id));
        var disk = Disk("sim2", id);
        Assert.StartsWith("simulated qcow2 1G backing ", disk, StringComparison.Ordinal);
        Assert.Contains(_dir.Sub("sim2-agent"), disk, StringComparison.Ordinal);
        Assert.Equal(marker.Replace(_dir.Sub("sim1-agent"), ""), disk.Replace(_dir.Sub("sim2-agent"), ""));

        await Accepted(id, new Dictionary<string, object?> { ["confirmResize"] = null });
        await Until(id, "ACTIVE");
        Assert.Null(Domain("sim1", id));
        Assert.False(InstanceDirectory("sim1", id));
        var claims = await Claims(id);
        Assert.DoesNotContain("sim1:", claims, StringComparison.Ordinal);
        Assert.Equal(oldClaims.Split(',').Length, claims.Split(',').Length);
        Assert.Equal(["create:Success", "migrate:Success", "confirmResize:Success"], await Actions(id));
    }

    [Fact]
    public async Task A_reverted_migration_takes_the_server_back_and_leaves_nothing_on_the_other_host()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await EnableAsync("sim2", true);
        var before = await Server(id);
        var oldClaims = await Claims(id);
        await Accepted(id, new Dictionary<string, object?> { ["migrate"] = null });
        await Until(id, "VERIFY_RESIZE");
        Assert.Equal("sim2", (await Server(id)).Str("host"));

        await Accepted(id, new Dictionary<string, object?> { ["revertResize"] = null });
        await Until(id, "ACTIVE");
        var after = await Server(id);
        Assert.Equal("sim1", after.Str("host"));
        Assert.Equal(before.GetProperty("placement").ToString(), after.GetProperty("placement").ToString());
        Assert.Equal(oldClaims, await Claims(id));
        Assert.Equal("running", Domain("sim1", id)!.State);
        Assert.Null(Domain("sim2", id));
        Assert.False(InstanceDirectory("sim2", id));
    }

    [Fact]
    public async Task A_shutoff_server_migrated_waits_in_resize_until_the_destination_made_its_disk_and_stays_off()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await Accepted(id, new Dictionary<string, object?> { ["os-stop"] = null });
        await Until(id, "SHUTOFF");
        await EnableAsync("sim2", true);

        await Accepted(id, new Dictionary<string, object?> { ["migrate"] = null });
        // Only the source: the disk is sent, and the server waits for the destination (no confirm can find the disk on its way).
        Assert.Empty((await _hosts["sim1"].Agent.CycleAsync()).Failures);
        var waiting = await Server(id);
        Assert.Equal(("RESIZE", "resize_finish"), (waiting.Str("status"), waiting.Str("taskState")));
        var (status, refused) = await _admin.Post($"/v1/servers/{id}/action", new Dictionary<string, object?> { ["confirmResize"] = null });
        Assert.Equal((409, "invalid-state"), (status, refused.ErrorCode()));

        await Until(id, "VERIFY_RESIZE", "sim2");
        Assert.Equal("shut off", Domain("sim2", id)!.State);
        Assert.Contains(Path.Join(_dir.Sub("sim2-agent"), "images"), Disk("sim2", id), StringComparison.Ordinal);
        await Accepted(id, new Dictionary<string, object?> { ["confirmResize"] = null });
        await Until(id, "SHUTOFF");
        Assert.Equal("shut off", Domain("sim2", id)!.State);
        Assert.Null(Domain("sim1", id));
    }

    [Fact]
    public async Task A_revert_between_hosts_starts_the_old_domain_only_once_the_other_host_took_the_server_down_and_holds_its_claims_till_then()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await EnableAsync("sim2", true);
        await Accepted(id, new Dictionary<string, object?> { ["migrate"] = null });
        await Until(id, "VERIFY_RESIZE");
        var moved = await Claims(id);

        await Accepted(id, new Dictionary<string, object?> { ["revertResize"] = null });
        // The source alone: its domain stays shut off, the destination's claims held, while sim2 still has the server.
        for (var i = 0; i < 3; i++)
            Assert.Empty((await _hosts["sim1"].Agent.CycleAsync()).Failures);
        var waiting = await Server(id);
        Assert.Equal(("REVERT_RESIZE", "resize_reverting", "sim1"), (waiting.Str("status"), waiting.Str("taskState"), waiting.Str("host")));
        Assert.Equal("shut off", Domain("sim1", id)!.State);
        Assert.Equal("running", Domain("sim2", id)!.State);
        Assert.Equal(moved, await Claims(id));
        // A move while that is open is refused.
        var (status, _) = await _admin.Post($"/v1/servers/{id}/action", new Dictionary<string, object?> { ["migrate"] = null });
        Assert.Equal(409, status);

        // sim2 takes it down, reports; then sim1 starts it.
        Assert.Empty((await _hosts["sim2"].Agent.CycleAsync()).Failures);
        Assert.Null(Domain("sim2", id));
        Assert.DoesNotContain("sim2:", await Claims(id), StringComparison.Ordinal);
        await Until(id, "ACTIVE", "sim1");
        Assert.Equal("running", Domain("sim1", id)!.State);
        var migration = (await _admin.Get($"/v1/servers/{id}/migrations")).Body.EnumerateArray().Single();
        Assert.Equal("reverted", migration.Str("status"));
    }

    [Fact]
    public async Task A_migration_that_does_not_go_on_is_reverted_from_resize_back_to_the_placement_it_left()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await EnableAsync("sim2", true);
        var before = await Server(id);
        var claims = await Claims(id);
        await Accepted(id, new Dictionary<string, object?> { ["migrate"] = null });
        // The source's agent does nothing (gone): the disk is never sent, the destination never holds the server.
        Assert.Empty((await _hosts["sim2"].Agent.CycleAsync()).Failures);
        Assert.Equal(("RESIZE", "resize_migrating"), ((await Server(id)).Str("status"), (await Server(id)).Str("taskState")));
        Assert.Null(Domain("sim2", id));

        var revert = await Accepted(id, new Dictionary<string, object?> { ["revertResize"] = null });
        Assert.Equal("REVERT_RESIZE", revert.Str("status"));
        await Until(id, "ACTIVE");
        var after = await Server(id);
        Assert.Equal(("sim1", before.GetProperty("placement").ToString()), (after.Str("host"), after.GetProperty("placement").ToString()));
        Assert.Equal(claims, await Claims(id));
        Assert.Equal("running", Domain("sim1", id)!.State);
        Assert.Equal("reverted", (await _admin.Get($"/v1/servers/{id}/migrations")).Body.EnumerateArray().Single().Str("status"));
        // A confirm still wants VERIFY_RESIZE.
        var (status, refused) = await _admin.Post($"/v1/servers/{id}/action", new Dictionary<string, object?> { ["confirmResize"] = null });
        Assert.Equal((409, "invalid-state"), (status, refused.ErrorCode()));
    }

    [Fact]
    public async Task Moves_the_server_cannot_make_are_refused_naming_why_and_change_nothing()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        var claims = await Claims(id);
        async Task<(int, string)> Refused(object body)
        {
            var (status, answer) = await _admin.Post($"/v1/servers/{id}/action", body);
            return (status, status == 400 ? answer.ErrorField() : answer.GetProperty("error").Str("message"));
        }

        Assert.Equal((400, "resize.flavorRef"), await Refused(new { resize = new { flavorRef = "small" } }));
        Assert.Equal((400, "resize.flavorRef"), await Refused(new { resize = new { flavorRef = "tiny-disk" } }));
        Assert.Equal((400, "resize.flavorRef"), await Refused(new { resize = new { flavorRef = "nope" } }));
        Assert.Equal((400, "resize.flavorRef"), await Refused(new { resize = new { } }));
        var (status, message) = await Refused(new Dictionary<string, object?> { ["confirmResize"] = null });
        Assert.Equal(409, status);
        Assert.Contains("not VERIFY_RESIZE", message, StringComparison.Ordinal);
        // The only other host is disabled: no host to migrate to.
        (status, message) = await Refused(new Dictionary<string, object?> { ["migrate"] = null });
        Assert.Equal(409, status);
        Assert.Contains("no host can take server vm elsewhere", message, StringComparison.Ordinal);
        // A project's user may resize, but not migrate (an operator's move, as in Nova).
        var user = _server.Client((await _admin.Post("/v1/tokens", new { project = "p", role = "member" })).Body.Str("secret"));
        Assert.Equal(403, (await user.Post($"/v1/servers/{id}/action", new Dictionary<string, object?> { ["migrate"] = null })).Status);

        Assert.Equal(("ACTIVE", claims), ((await Server(id)).Str("status"), await Claims(id)));
        Assert.Equal(["create:Success"], await Actions(id));
    }

    [Fact]
    public async Task An_evacuation_rebuilds_the_server_elsewhere_and_the_old_hosts_claims_go_only_once_its_agent_took_the_server_down()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await EnableAsync("sim2", true);
        var oldClaims = await Claims(id);
        var evacuate = new Dictionary<string, object?> { ["evacuate"] = null };
        // Its host's agent still reports: no evacuation.
        var (status, refused) = await _admin.Post($"/v1/servers/{id}/action", evacuate);
        Assert.Equal((409, "host-up"), (status, refused.ErrorCode()));

        // sim1's agent falls silent (sim2's goes on) and is marked down.
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty((await _hosts["sim2"].Agent.CycleAsync()).Failures);
        Assert.Equal(["sim1"], await new Isola.Server.Supervision.AgentWatch(Service<Isola.Store.Lifecycle.LifecycleStore>(),
            Service<Isola.Coordination.PlacementService>(), _clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<Isola.Server.Supervision.AgentWatch>.Instance).SweepAsync());

        var answer = await Accepted(id, evacuate);
        Assert.Equal(("REBUILD", "rebuild_spawning"), (answer.Str("status"), answer.Str("taskState")));
        await Until(id, "ACTIVE", "sim2");
        Assert.Equal("sim2", (await Server(id)).Str("host"));
        Assert.Equal("running", Domain("sim2", id)!.State);
        // Made from the image on sim2 (nothing of sim1's disk can be had).
        Assert.Contains(Path.Join(_dir.Sub("sim2-agent"), "images"), Disk("sim2", id), StringComparison.Ordinal);
        // What it held on sim1 stays held while sim1's agent is away: nothing new can take those CPUs before the domain is gone.
        Assert.Contains(oldClaims, (await Claims(id)).Split(','));
        Assert.Equal("running", Domain("sim1", id)!.State);

        // sim1's agent comes back: it takes the server down, reports, and only then are its claims there given back.
        var back = await _hosts["sim1"].Agent.CycleAsync();
        Assert.Empty(back.Failures);
        Assert.Contains(back.Done, s => s is Isola.Agent.Facets.DomainFacet.Destroy);
        Assert.Null(Domain("sim1", id));
        Assert.False(InstanceDirectory("sim1", id));
        Assert.DoesNotContain("sim1:", await Claims(id), StringComparison.Ordinal);
        var fleet = Service<Isola.Coordination.PlacementService>().Fleet;
        Assert.All(fleet.Host("sim1")!.Cells, c => Assert.Equal(c.Cpus.TotalThreads, c.Cpus.FreeThreads));
        var migration = (await _admin.Get($"/v1/servers/{id}/migrations")).Body.EnumerateArray().Single();
        Assert.Equal(("evacuation", "done"), (migration.Str("kind"), migration.Str("status")));
        Assert.Equal(["create:Success", "evacuate:Success"], await Actions(id));
    }

    [Fact]
    public async Task A_server_deleted_while_it_waits_for_a_confirm_leaves_nothing_on_either_host()
    {
        await DisableAsync("sim2");
        var id = await CreateAsync("vm");
        await EnableAsync("sim2", true);
        await Accepted(id, new Dictionary<string, object?> { ["migrate"] = null });
        await Until(id, "VERIFY_RESIZE");

        Assert.Equal(204, (await _admin.Delete($"/v1/servers/{id}")).Status);
        foreach (var (_, agent) in _hosts.Values)
            Assert.Empty((await agent.CycleAsync()).Failures);
        Assert.Equal("", await Claims(id));
        Assert.Null(Domain("sim1", id));
        Assert.Null(Domain("sim2", id));
        Assert.False(InstanceDirectory("sim1", id));
        Assert.False(InstanceDirectory("sim2", id));
        // Both hosts can take the whole of their CPUs again: the fleet gave both placements back.
        var fleet = Service<Isola.Coordination.PlacementService>().Fleet;
        foreach (var name in new[] { "sim1", "sim2" })
            Assert.All(fleet.Host(name)!.Cells, c => Assert.Equal(c.Cpus.TotalThreads, c.Cpus.FreeThreads));
    }
}
