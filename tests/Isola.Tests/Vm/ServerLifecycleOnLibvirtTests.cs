using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Isola.Agent;
using Isola.Agent.Driver;
using Isola.Agent.Facets;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Lab;
using Isola.Tests.Lab;
using Isola.Tests.Server;
using Isola.Tests.Support;
using Xunit.Abstractions;

namespace Isola.Tests.Vm;

/// <summary>
/// A server's whole life on this machine's libvirtd and QEMU, through the real API and a real agent: created
/// from an uploaded image, stopped (the guest answers the ACPI power button and powers off), started, soft and
/// hard rebooted (its disk's data kept), paused and unpaused, rebuilt (a fresh disk: the data gone, the new user
/// data run), powered off by its guest (SHUTOFF, and the agent leaves it so), deleted (nothing of it left).
/// </summary>
[Collection(LabHostFixture.Collection)]
public sealed class ServerLifecycleOnLibvirtTests(RealVmFixture vm, ITestOutputHelper output) : RealVmApiTest, IClassFixture<RealVmFixture>
{

    private const string FirstUserData = """
        #!/bin/sh
        if [ -f /disk/marker ]; then echo "isola-guest: marker kept $(cat /disk/marker)"; else echo "first" > /disk/marker; sync; echo "isola-guest: marker written"; fi
        """;

    // After a rebuild: says whether its disk is fresh, then powers itself off a little later (the guest's own poweroff).
    private const string RebuiltUserData = """
        #!/bin/sh
        if [ -f /disk/marker ]; then echo "isola-guest: rebuilt over an old disk"; else echo "isola-guest: rebuilt on a fresh disk"; fi
        ( sleep 3; echo "isola-guest: powering itself off"; sync; umount /disk; poweroff -f ) &
        """;

    [SkippableFact]
    public async Task AServer_lives_through_stop_start_reboots_pause_rebuild_and_its_guests_own_poweroff_on_real_libvirt()
    {
        Skip.If(vm.Unavailable is not null, vm.Unavailable);
        await Admin.Post("/v1/projects", new { name = "p" });
        await Admin.Post("/v1/flavors", new { name = "tiny", vcpus = 1, ram = 256, disk = 1 });
        await RealHostAgent.UploadImageAsync(Admin, "guest", "p", vm.Image);
        await using var host = await RealHostAgent.StartAsync(Server, Admin, vm.Dir.Path, "lifecycle", output);
        var driver = host.Driver;
        var instances = host.Instances;
        string? id = null;
        var clock = Stopwatch.StartNew();
        var steps = new List<string>();
        void Step(string what) => steps.Add($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
        try
        {
            var (created, server) = await Admin.Post("/v1/servers", new
            {
                name = "life", flavor = "tiny", image = "guest", project = "p", userData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(FirstUserData)),
            });
            Assert.True(created == 201, server.ToString());
            id = server.Str("id");
            var domain = "isola-" + id;
            var console = Path.Join(instances, domain, "console.log");
            await UntilAsync(id, "ACTIVE");
            await ConsoleAsync(console, "marker written", 1);
            Step("created: ACTIVE, its user data ran");
            var pid = driver.QemuPid(domain);

            await ActAsync(id, new Dictionary<string, object?> { ["os-stop"] = null });
            await UntilAsync(id, "SHUTOFF");
            Assert.Equal("shut off", await DomStateAsync(domain));
            await ConsoleAsync(console, "power button: powering off", 1); // the clean shutdown: the guest got the ACPI button
            Assert.Null(driver.QemuPid(domain));
            Step("stopped: SHUTOFF, the guest shut down on the ACPI button, QEMU gone");

            await ActAsync(id, new Dictionary<string, object?> { ["os-start"] = null });
            await UntilAsync(id, "ACTIVE");
            await ConsoleAsync(console, "marker kept first", 1);
            Step("started: ACTIVE, the disk kept what the guest wrote");

            await ActAsync(id, new { reboot = new { type = "SOFT" } });
            await UntilAsync(id, "ACTIVE");
            await ConsoleAsync(console, "power button: powering off", 2);
            await ConsoleAsync(console, "marker kept first", 2);
            Step("soft reboot: ACTIVE, the guest shut down cleanly first, its data kept");

            var before = driver.QemuPid(domain);
            await ActAsync(id, new { reboot = new { type = "HARD" } });
            await UntilAsync(id, "ACTIVE");
            await ConsoleAsync(console, "marker kept first", 3);
            Assert.Equal(2, Count(File.ReadAllText(console), "power button: powering off")); // powered off, not asked
            Assert.NotEqual(before, driver.QemuPid(domain));
            Step("hard reboot: ACTIVE, a new QEMU, no ACPI request, its data kept");

            await ActAsync(id, new Dictionary<string, object?> { ["pause"] = null });
            await UntilAsync(id, "PAUSED");
            Assert.Equal("paused", await DomStateAsync(domain));
            await ActAsync(id, new Dictionary<string, object?> { ["unpause"] = null });
            await UntilAsync(id, "ACTIVE");
            Assert.Equal("running", await DomStateAsync(domain));
            Step("paused and unpaused");

            await ActAsync(id, new { rebuild = new { image = "guest", userData = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(RebuiltUserData)) } });
            await UntilAsync(id, "ACTIVE", orLater: "SHUTOFF");
            await ConsoleAsync(console, "rebuilt on a fresh disk", 1);
            Assert.DoesNotContain("rebuilt over an old disk", File.ReadAllText(console), StringComparison.Ordinal);
            Step("rebuilt: a fresh disk from the image, the new config drive's user data ran");

            // The rebuilt guest powers itself off: SHUTOFF, and left so by the agent's next cycles.
            await ConsoleAsync(console, "powering itself off", 1);
            await UntilAsync(id, "SHUTOFF");
            var at = host.Cycles;
            await Eventually.UntilAsync(() => host.Cycles >= at + 3, "three more agent cycles");
            Assert.Equal("shut off", await DomStateAsync(domain));
            Assert.Equal("SHUTOFF", (await Admin.Get($"/v1/servers/{id}")).Body.Str("status"));
            Step("the guest's own poweroff: SHUTOFF, not started again");

            var actions = (await Admin.Get($"/v1/servers/{id}/actions")).Body.EnumerateArray().Select(a => (a.Str("action"), a.Str("result"))).ToList();
            Assert.Equal([("create", "Success"), ("stop", "Success"), ("start", "Success"), ("reboot", "Success"), ("reboot", "Success"),
                ("pause", "Success"), ("unpause", "Success"), ("rebuild", "Success"), ("stop", "Success")], actions);
            // The console as the API serves it: what the agent sent after its cycles.
            var served = await Eventually.UntilAsync(async () => (await Admin.Get($"/v1/servers/{id}/console-log")).Body.Str("output"),
                text => text.Contains("powering itself off", StringComparison.Ordinal), "the console log through the API");
            Assert.Contains("rebuilt on a fresh disk", served, StringComparison.Ordinal);

            Assert.Equal(204, (await Admin.Delete($"/v1/servers/{id}")).Status);
            await Eventually.UntilAsync(async () => !(await LibvirtDaemon.VirshAsync("list", "--all", "--name")).StandardOutput.Contains(domain, StringComparison.Ordinal),
                "the domain undefined");
            await Eventually.UntilAsync(() => !Directory.Exists(Path.Join(instances, domain)), "the instance directory removed");
            await Eventually.UntilAsync(() => driver.Storage.CachedImages().Count == 0, "the cached image pruned");
            Assert.True(pid is null || !Process.GetProcesses().Any(p => p.Id == pid));
            Step("deleted: no domain, no instance directory, no cached image");
        }
        finally
        {
            foreach (var line in steps)
                output.WriteLine(line);
            if (id is not null)
            {
                await LibvirtDaemon.VirshAsync("destroy", "isola-" + id);
                await LibvirtDaemon.VirshAsync("undefine", "isola-" + id);
            }
        }
    }

    private static async Task<string> DomStateAsync(string domain) => (await LibvirtDaemon.VirshAsync("domstate", domain)).StandardOutput.Trim();
}
