using System.Net.Http.Headers;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Host.Hardware;
using Isola.Host.Simulation;
using Isola.Server.Supervision;
using Isola.Tests.Server;
using Isola.Tests.Server.Images;
using Isola.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Isola.Tests.Agent;

/// <summary>
/// A server's life after its build, through the real API and a real agent on a simulated host (its
/// libvirt keeps domain states, its guests answer ACPI unless told not to): stop, start, soft and hard
/// reboot, pause, unpause, rebuild, a guest's own poweroff, and a clean shutdown that times out; each
/// with its status on the way, the domain's state on the host, and the action recorded with its result.
/// </summary>
public sealed class ServerActionsEndToEndTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly ImageFiles _files = new();
    private readonly ShiftedClock _clock = new();
    private ApiServer _server = null!;
    private HttpClient _admin = null!;
    private SimulatedHost _host = null!;
    private HostAgent _agent = null!;
    private string State => _dir.Sub("agent");

    public async Task InitializeAsync()
    {
        _server = await ApiServer.StartAsync(_dir.Sub("isola.db"), time: _clock);
        _admin = _server.Client(_server.AdminSecret);
        await _admin.Post("/v1/projects", new { name = "p" });
        await _admin.Post("/v1/flavors", new { name = "f", vcpus = 1, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        _host = new SimulatedHost(ProfileExpander.Expand(ProfileCatalog.Get("x710-2s")) with { Hostname = "sim1" }, _dir.Sub("root"));
        var token = (await _admin.Post("/v1/tokens", new { role = "host", host = "sim1" })).Body.Str("secret");
        var client = ControllerClient.Create(new Uri(_server.Url), token, "sim1");
        _agent = new HostAgent(_host.Host, client, new HostDriver(_host, _dir.Sub("root"), State, images: client), new AppliedStore(State), TimeProvider.System);
        await _agent.RegisterAsync(default);
        await ImageAsync("alpha", await _files.Qcow2Async("alpha.qcow2", "64M"));
        await ImageAsync("beta", await _files.Qcow2Async("beta.qcow2", "32M"));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _files.Dispose();
        _dir.Dispose();
    }

    private async Task ImageAsync(string name, string path)
    {
        var (_, made) = await _admin.Post("/v1/images", new { name, diskFormat = "qcow2", project = "p" });
        await using var file = File.OpenRead(path);
        using var content = new StreamContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await _admin.PutAsync($"/v1/images/{made.Str("id")}/file", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> Server(string id) => (await _admin.Get($"/v1/servers/{id}")).Body;

    private async Task<string> Status(string id) => (await Server(id)).Str("status");

    private string DomainState(string id) => _host.Libvirt.Domains["isola-" + id].State;

    /// <summary>Agent cycles until the server is at <paramref name="status"/> with no task (a handful at most: each cycle reports).</summary>
    private async Task Until(string id, string status)
    {
        for (var i = 0; i < 8; i++)
        {
            var server = await Server(id);
            if (server.Str("status") == status && server.GetProperty("taskState").ValueKind == JsonValueKind.Null)
                return;
            var cycle = await _agent.CycleAsync();
            Assert.Empty(cycle.Failures);
        }
        Assert.Fail($"server {id} is {(await Server(id))} after 8 cycles; expected {status}");
    }

    private async Task<string> CreateAsync(string name, string image = "alpha")
    {
        var (status, server) = await _admin.Post("/v1/servers", new { name, flavor = "f", image, project = "p" });
        Assert.True(status == 201, server.ToString());
        var id = server.Str("id");
        await Until(id, "ACTIVE");
        return id;
    }

    private Task<(int Status, JsonElement Body)> Act(string id, object body) => _admin.Post($"/v1/servers/{id}/action", body);

    private async Task<JsonElement> Accepted(string id, object body)
    {
        var (status, answer) = await Act(id, body);
        Assert.True(status == 202, answer.ToString());
        return answer;
    }

    private async Task<List<JsonElement>> Actions(string id) =>
        (await _admin.Get($"/v1/servers/{id}/actions")).Body.EnumerateArray().ToList();

    [Fact]
    public async Task Stop_start_reboots_and_pause_take_the_domain_where_nova_would_and_each_is_recorded()
    {
        var id = await CreateAsync("vm");
        Assert.Equal("running", DomainState(id));

        // Stop: the guest is asked (ACPI), powers off; SHUTOFF, and the agent leaves it off.
        var stop = await Accepted(id, new Dictionary<string, object?> { ["os-stop"] = null });
        Assert.Equal(("ACTIVE", "powering-off"), (stop.Str("status"), stop.Str("taskState")));
        await Until(id, "SHUTOFF");
        Assert.Equal("shut off", DomainState(id));
        Assert.Equal(1, _host.Libvirt.ShutdownRequests["isola-" + id]);
        await _agent.CycleAsync();
        Assert.Equal("shut off", DomainState(id));

        // Start: started paused, resumed; ACTIVE.
        await Accepted(id, new Dictionary<string, object?> { ["os-start"] = null });
        await Until(id, "ACTIVE");
        Assert.Equal("running", DomainState(id));

        // Soft reboot: a clean shutdown and a start (as Nova's libvirt driver does).
        var reboot = await Accepted(id, new { reboot = new { type = "SOFT" } });
        Assert.Equal(("REBOOT", "reboot_pending"), (reboot.Str("status"), reboot.Str("taskState")));
        await Until(id, "ACTIVE");
        Assert.Equal("running", DomainState(id));
        Assert.Equal(2, _host.Libvirt.ShutdownRequests["isola-" + id]);

        // Hard reboot: powered off, no ACPI request.
        var hard = await Accepted(id, new { reboot = new { type = "HARD" } });
        Assert.Equal(("HARD_REBOOT", "reboot_pending_hard"), (hard.Str("status"), hard.Str("taskState")));
        await Until(id, "ACTIVE");
        Assert.Equal(2, _host.Libvirt.ShutdownRequests["isola-" + id]);
        Assert.Contains(_host.Log, argv => argv is ["virsh", _, _, "destroy", var d] && d == "isola-" + id);

        // Pause and unpause.
        await Accepted(id, new Dictionary<string, object?> { ["pause"] = null });
        await Until(id, "PAUSED");
        Assert.Equal("paused", DomainState(id));
        await _agent.CycleAsync();
        Assert.Equal("paused", DomainState(id)); // stays paused: the agent does not resume a PAUSED server
        await Accepted(id, new Dictionary<string, object?> { ["unpause"] = null });
        await Until(id, "ACTIVE");
        Assert.Equal("running", DomainState(id));

        // Every action, in order, each done.
        var actions = await Actions(id);
        Assert.Equal(["create", "stop", "start", "reboot", "reboot", "pause", "unpause"], actions.Select(a => a.Str("action")));
        Assert.All(actions, a => Assert.Equal("Success", a.Str("result")));
        Assert.All(actions, a => Assert.NotEqual(JsonValueKind.Null, a.GetProperty("finishedAt").ValueKind));
        Assert.Equal(reboot.Str("requestId"), actions[3].Str("requestId"));
        var one = (await _admin.Get($"/v1/servers/{id}/actions/{stop.Str("requestId")}")).Body;
        Assert.Equal(("stop", "Success"), (one.Str("action"), one.Str("result")));
    }

    [Fact]
    public async Task Actions_that_do_not_fit_the_servers_state_are_409_naming_it_and_bad_bodies_400_naming_the_field()
    {
        var id = await CreateAsync("vm");
        async Task<string> Refused(object body, int expected = 409)
        {
            var (status, answer) = await Act(id, body);
            Assert.True(status == expected, $"{JsonSerializer.Serialize(body)}: {status} {answer}");
            return expected == 409 ? answer.GetProperty("error").Str("message") : answer.ErrorField();
        }

        Assert.Contains("cannot start the server while it is ACTIVE", await Refused(new Dictionary<string, object?> { ["os-start"] = null }), StringComparison.Ordinal);
        Assert.Contains("cannot unpause the server while it is ACTIVE", await Refused(new Dictionary<string, object?> { ["unpause"] = null }), StringComparison.Ordinal);
        await Accepted(id, new Dictionary<string, object?> { ["os-stop"] = null });
        // While the stop is in progress, nothing else (but the agent finishes it).
        Assert.Contains("with task powering-off", await Refused(new { reboot = new { type = "HARD" } }), StringComparison.Ordinal);
        await Until(id, "SHUTOFF");
        Assert.Contains("(a hard reboot can)", await Refused(new { reboot = new { type = "SOFT" } }), StringComparison.Ordinal);
        Assert.Contains("cannot pause the server while it is SHUTOFF", await Refused(new Dictionary<string, object?> { ["pause"] = null }), StringComparison.Ordinal);

        Assert.Equal("reboot.type", await Refused(new { reboot = new { type = "WARM" } }, 400));
        Assert.Equal("reboot.type", await Refused(new { reboot = new { } }, 400));
        Assert.Equal("reboot.force", await Refused(new { reboot = new { type = "HARD", force = true } }, 400));
        Assert.Equal("os-migrateLive", await Refused(new Dictionary<string, object?> { ["os-migrateLive"] = null }, 400));
        Assert.Equal("action", await Refused(new Dictionary<string, object?> { ["os-stop"] = null, ["os-start"] = null }, 400));
        Assert.Equal("action", await Refused(new { }, 400));
        Assert.Equal("os-start", await Refused(new Dictionary<string, object?> { ["os-start"] = 5 }, 400));
        Assert.Equal("rebuild.image", await Refused(new { rebuild = new { } }, 400));
        Assert.Equal("rebuild.image", await Refused(new { rebuild = new { image = "nope" } }, 400));
        Assert.Equal("rebuild.userData", await Refused(new { rebuild = new { image = "beta", userData = "%%%" } }, 400));
        // None of it changed the server, nor recorded anything.
        Assert.Equal("SHUTOFF", await Status(id));
        Assert.Equal(["create", "stop"], (await Actions(id)).Select(a => a.Str("action")));
        Assert.Equal(404, (await Act(Guid.NewGuid().ToString(), new Dictionary<string, object?> { ["os-stop"] = null })).Status);
    }

    [Fact]
    public async Task A_guest_that_powers_itself_off_is_shutoff_stays_off_and_the_stop_is_recorded_as_the_systems()
    {
        var id = await CreateAsync("vm");
        _host.Libvirt.Stop("isola-" + id);
        await Until(id, "SHUTOFF");
        for (var i = 0; i < 3; i++)
            await _agent.CycleAsync();
        Assert.Equal("shut off", DomainState(id));
        var stop = (await Actions(id)).Last();
        Assert.Equal(("stop", JsonValueKind.Null, "Success"), (stop.Str("action"), stop.GetProperty("user").ValueKind, stop.Str("result")));
        Assert.Contains("found shut off", stop.Str("message"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_guest_that_ignores_the_shutdown_request_is_powered_off_once_the_shutdown_timeout_passed()
    {
        var id = await CreateAsync("vm");
        _host.Libvirt.IgnoringAcpi.Add("isola-" + id);
        await Accepted(id, new Dictionary<string, object?> { ["os-stop"] = null });
        await _agent.CycleAsync();
        await _agent.CycleAsync();
        // Asked at each cycle, still running: the server waits, powering-off.
        Assert.Equal("running", DomainState(id));
        Assert.Equal(2, _host.Libvirt.ShutdownRequests["isola-" + id]);
        var sweep = _server.App.Services.GetRequiredService<ShutdownTimeouts>();
        Assert.Empty(await sweep.SweepAsync());
        Assert.Equal("powering-off", (await Server(id)).Str("taskState"));

        _clock.Advance(TimeSpan.FromSeconds(_server.Settings.ShutdownTimeoutSeconds + 1));
        // This pass or the server's own background one (which may come first) turns the shutdown hard.
        await sweep.SweepAsync();
        await Until(id, "SHUTOFF");
        Assert.Equal("shut off", DomainState(id));
        Assert.Equal(2, _host.Libvirt.ShutdownRequests["isola-" + id]);
        Assert.Contains(_host.Log, argv => argv is ["virsh", _, _, "destroy", var d] && d == "isola-" + id);
    }

    [Fact]
    public async Task A_rebuild_makes_a_new_disk_from_the_new_image_and_config_drive_and_a_shutoff_server_stays_off()
    {
        var id = await CreateAsync("vm");
        var disk = Path.Join(_dir.Sub("root"), $"/var/lib/isola/instances/isola-{id}/disk.qcow2");
        var beta = (await _admin.Get("/v1/images/beta")).Body.Str("id");
        var before = await File.ReadAllTextAsync(disk);

        var rebuild = await Accepted(id, new { rebuild = new { image = "beta", userData = Convert.ToBase64String("#!/bin/sh\necho rebuilt\n"u8.ToArray()) } });
        Assert.Equal(("REBUILD", "rebuilding"), (rebuild.Str("status"), rebuild.Str("taskState")));
        await Until(id, "ACTIVE");
        Assert.Equal("running", DomainState(id));
        // The disk is an overlay of beta now, the config drive has the new user data, the image shown is beta.
        var after = await File.ReadAllTextAsync(disk);
        Assert.NotEqual(before, after);
        Assert.Contains(Path.Join(State, "images", beta), after, StringComparison.Ordinal);
        var drive = await File.ReadAllTextAsync(Path.Join(_dir.Sub("root"), $"/var/lib/isola/instances/isola-{id}/config.iso"));
        Assert.Contains("echo rebuilt", drive, StringComparison.Ordinal);
        Assert.Equal("beta", (await Server(id)).GetProperty("image").Str("name"));
        Assert.Equal(1, StorageFacet.DiskVersion(new AppliedStore(State).Load()[id]));
        // The image it was built from is no longer used here: pruned; beta is cached.
        Assert.Equal([beta], Directory.GetFiles(Path.Join(_dir.Sub("root"), State, "images")).Select(Path.GetFileName));
        // alpha is free to delete now.
        Assert.Equal(204, (await _admin.Delete("/v1/images/alpha")).Status);

        // A SHUTOFF server rebuilt is SHUTOFF again, on its new disk.
        await Accepted(id, new Dictionary<string, object?> { ["os-stop"] = null });
        await Until(id, "SHUTOFF");
        await Accepted(id, new { rebuild = new { image = "beta" } });
        await Until(id, "SHUTOFF");
        Assert.Equal("shut off", DomainState(id));
        Assert.Equal(2, StorageFacet.DiskVersion(new AppliedStore(State).Load()[id]));
        Assert.Equal(3, _host.Log.Count(argv => argv is ["qemu-img", "create", ..]));
        Assert.Equal(["create", "rebuild", "stop", "rebuild"], (await Actions(id)).Select(a => a.Str("action")));
    }

    [Fact]
    public async Task A_deleted_servers_actions_stay_readable_by_id_and_end_with_the_delete()
    {
        var id = await CreateAsync("vm");
        await Accepted(id, new Dictionary<string, object?> { ["pause"] = null });
        Assert.Equal(204, (await _admin.Delete($"/v1/servers/{id}")).Status);
        var actions = await Actions(id);
        Assert.Equal([("create", "Success"), ("pause", "Error"), ("delete", "Success")], actions.Select(a => (a.Str("action"), a.Str("result"))));
        Assert.Equal("the server was deleted", actions[1].Str("message"));
        // Another project's member does not see them.
        await _admin.Post("/v1/projects", new { name = "q" });
        var other = _server.Client((await _admin.Post("/v1/tokens", new { role = "member", project = "q" })).Body.Str("secret"));
        Assert.Equal(404, (await other.Get($"/v1/servers/{id}/actions")).Status);
    }

    [Fact]
    public async Task The_cli_stops_starts_reboots_and_lists_the_events_as_the_openstack_client_does()
    {
        var id = await CreateAsync("vm");
        Task<(int Exit, string Out, string Err)> Cli(params string[] args) =>
            Isola.Tests.Cli.CliRunner.Run([.. args, "--url", _server.Url, "--token", _server.AdminSecret!]);

        // --wait follows the server: the agent runs beside it here.
        using var agentStop = new CancellationTokenSource();
        var cycles = Task.Run(async () =>
        {
            while (!agentStop.IsCancellationRequested)
            {
                await _agent.CycleAsync();
                await Task.Delay(50);
            }
        });
        try
        {
            var (exit, output, error) = await Cli("server", "stop", "--wait", "vm", "-f", "json");
            Assert.True(exit == 0, error);
            Assert.Equal("stop", JsonDocument.Parse(output).RootElement.Str("action"));
            Assert.Contains("server vm: ACTIVE (powering-off)", error, StringComparison.Ordinal);
            Assert.EndsWith("server vm: SHUTOFF", error.Trim(), StringComparison.Ordinal);
            (exit, _, error) = await Cli("server", "start", "--wait", "vm");
            Assert.True(exit == 0, error);
            (exit, _, error) = await Cli("server", "reboot", "--hard", "--wait", "vm");
            Assert.True(exit == 0, error);
            Assert.Contains("HARD_REBOOT", error, StringComparison.Ordinal);
            Assert.Equal("ACTIVE", await Status(id));
        }
        finally
        {
            await agentStop.CancelAsync();
            await cycles;
        }
        // A state the action does not fit: 409's exit code, the API's words.
        var (code, _, why) = await Cli("server", "unpause", "vm");
        Assert.Equal((Isola.Cli.ExitCodes.Conflict, true), (code, why.Contains("cannot unpause the server while it is ACTIVE", StringComparison.Ordinal)));
        var (listed, table, _) = await Cli("server", "event", "list", "vm", "-f", "value", "-c", "action", "-c", "result");
        Assert.Equal(0, listed);
        Assert.Equal(["create Success", "stop Success", "start Success", "reboot Success"], table.Trim().Split('\n'));
    }

    [Fact]
    public async Task The_guests_console_log_reaches_the_api_after_a_cycle_and_the_cli_prints_its_last_lines()
    {
        var id = await CreateAsync("vm");
        var log = Path.Join(_dir.Sub("root"), $"/var/lib/isola/instances/isola-{id}/console.log");
        // What virtlogd would write: more than the 64 KiB kept, so only the tail arrives, from a whole line.
        var lines = Enumerable.Range(1, 5000).Select(i => $"line {i} of the guest's boot").ToList();
        await File.WriteAllTextAsync(log, string.Join('\n', lines) + "\n");
        Assert.Empty((await _agent.CycleAsync()).Failures);

        var answer = (await _admin.Get($"/v1/servers/{id}/console-log")).Body;
        var output = answer.Str("output");
        Assert.EndsWith("line 5000 of the guest's boot\n", output, StringComparison.Ordinal);
        Assert.StartsWith("line ", output, StringComparison.Ordinal);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(output) <= ConsoleLogs.MaxBytes);
        Assert.DoesNotContain("line 1 of", output, StringComparison.Ordinal);
        Assert.Equal("line 4998 of the guest's boot\nline 4999 of the guest's boot\nline 5000 of the guest's boot\n",
            (await _admin.Get($"/v1/servers/{id}/console-log?lines=3")).Body.Str("output"));
        Assert.Equal("lines", (await _admin.Get($"/v1/servers/{id}/console-log?lines=0")).Body.ErrorField());

        var (exit, printed, error) = await Isola.Tests.Cli.CliRunner.Run("server", "console", "log", "vm", "--lines", "1", "--url", _server.Url, "--token", _server.AdminSecret!);
        Assert.True(exit == 0, error);
        Assert.Equal("line 5000 of the guest's boot\n", printed);

        // Another host's agent may not write it.
        var other = _server.Client((await _admin.Post("/v1/tokens", new { role = "host", host = "sim2" })).Body.Str("secret"));
        using var content = new StringContent("forged", System.Text.Encoding.UTF8, "text/plain");
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, (await other.PutAsync($"/v1/hosts/sim1/servers/{id}/console-log", content)).StatusCode);
    }
}
