using Isola.Cli;
using Isola.Host.Hardware;
using Isola.Tests.Server;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

/// <summary><c>isola agent</c> with the simulated driver against a real API server, on a generated host tree.</summary>
public sealed class AgentCommandTests
{
    [Fact]
    public async Task The_agent_registers_its_host_and_brings_a_server_to_active()
    {
        using var dir = new TempDir();
        await using var server = await ApiServer.StartAsync(dir.Sub("isola.db"));
        var admin = server.Client(server.AdminSecret);
        var hw = ProfileCatalog.Get("x710-2s");
        SysfsTreeWriter.Write(ProfileExpander.Expand(hw, "edge1"), hw.HostConfig, dir.Sub("root"), replace: true);
        var token = (await admin.Post("/v1/tokens", new { role = "host", host = "edge1" })).Body.Str("secret");

        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("agent", "--controller", server.Url, "--token", token, "--root", dir.Sub("nope"))).Exit);
        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("agent", "--controller", server.Url, "--token", token, "--root", dir.Sub("root"), "--driver", "xen")).Exit);
        // A simulated host writes its QEMU processes' /proc and pid files under its root: never the real one.
        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("agent", "--controller", server.Url, "--token", token, "--root", "/", "--driver", "simulated")).Exit);

        var badIp = await CliRunner.Run("agent", "--controller", server.Url, "--token", token, "--root", dir.Sub("root"), "--driver", "simulated", "--tunnel-ip", "10.0.0.300");
        Assert.Equal(ExitCodes.Usage, badIp.Exit);
        Assert.Contains("--tunnel-ip", badIp.Err, StringComparison.Ordinal);
        var badMap = await CliRunner.Run("agent", "--controller", server.Url, "--token", token, "--root", dir.Sub("root"), "--driver", "simulated", "--bridge-mappings", "physnet2");
        Assert.Equal(ExitCodes.Usage, badMap.Exit);
        Assert.Contains("physnet:bridge", badMap.Err, StringComparison.Ordinal);

        using var stop = new CancellationTokenSource();
        var run = CliApp.RunAsync(["agent", "--controller", server.Url, "--token", token, "--root", dir.Sub("root"), "--driver", "simulated", "--state-dir", dir.Sub("state"),
            "--tunnel-ip", "198.51.100.7"],
            new CliConsole(new StringWriter(), new StringWriter(), interactive: false), stop.Token);
        await using var stopped = new StopOnDispose(stop, run); // a failed assertion stops it too
        await Eventually.UntilAsync(async () => (await admin.Get("/v1/hosts")).Body.GetArrayLength() > 0 || run.IsCompleted, "edge1 registered");
        Assert.False(run.IsCompleted, "the agent ended before it registered its host");
        await admin.Post("/v1/projects", new { name = "p" });
        await admin.Post("/v1/flavors", new { name = "f", vcpus = 1, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        var (status, created) = await admin.Post("/v1/servers", new { name = "vm", flavor = "f", project = "p" });
        Assert.Equal((201, "edge1"), (status, created.Str("host")));
        var now = await Eventually.UntilAsync(async () => (await admin.Get($"/v1/servers/{created.Str("id")}")).Body.Str("status"),
            status => status is "ACTIVE" or "ERROR", "vm ACTIVE");
        Assert.Equal("ACTIVE", now);
        // The host registered its tunnel endpoint with its inventory.
        Assert.Equal("198.51.100.7", (await new Isola.Store.Lifecycle.HostNetworkStore(Isola.Store.StoreConnectionFactory.Sqlite(dir.Sub("isola.db"))).RowsAsync("edge1"))!.TunnelIp);
        Assert.Single(Directory.GetFiles(dir.Sub(Path.Join("state", "servers"))));
        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);
    }

    [Fact]
    public async Task The_agent_registers_its_instances_directory_and_domain_type_and_boots_a_server_from_an_image_it_fetches()
    {
        using var dir = new TempDir();
        using var files = new Isola.Tests.Server.Images.ImageFiles();
        await using var server = await ApiServer.StartAsync(dir.Sub("isola.db"));
        var admin = server.Client(server.AdminSecret);
        var hw = ProfileCatalog.Get("x710-2s");
        // A host with /dev/kvm: discovery says kvm; the operator says qemu.
        SysfsTreeWriter.Write(ProfileExpander.Expand(hw, "edge1"), hw.HostConfig, dir.Sub("root"), replace: true);
        Assert.True(File.Exists(Path.Join(dir.Sub("root"), "dev", "kvm")));
        var token = (await admin.Post("/v1/tokens", new { role = "host", host = "edge1" })).Body.Str("secret");
        string[] common = ["agent", "--controller", server.Url, "--token", token, "--root", dir.Sub("root"), "--driver", "simulated"];

        var badType = await CliRunner.Run([.. common, "--domain-type", "xen"]);
        Assert.Equal(ExitCodes.Usage, badType.Exit);
        Assert.Contains("--domain-type: 'xen' is not auto, kvm or qemu", badType.Err, StringComparison.Ordinal);
        var badDir = await CliRunner.Run([.. common, "--instances-dir", "srv/instances"]);
        Assert.Equal(ExitCodes.Usage, badDir.Exit);
        Assert.Contains("--instances-dir", badDir.Err, StringComparison.Ordinal);
        Assert.Equal(0, (await admin.Get("/v1/hosts")).Body.GetArrayLength());

        using var stop = new CancellationTokenSource();
        var run = CliApp.RunAsync([.. common, "--state-dir", dir.Sub("state"), "--instances-dir", "/srv/isola/instances", "--domain-type", "qemu", "--no-ovs"],
            new CliConsole(new StringWriter(), new StringWriter(), interactive: false), stop.Token);
        await using var stopped = new StopOnDispose(stop, run);
        await Eventually.UntilAsync(async () => (await admin.Get("/v1/hosts")).Body.GetArrayLength() > 0 || run.IsCompleted, "edge1 registered");
        Assert.False(run.IsCompleted, "the agent ended before it registered its host");
        await admin.Post("/v1/projects", new { name = "p" });
        await admin.Post("/v1/flavors", new { name = "f", vcpus = 1, ram = 1024, disk = 1, extraSpecs = new Dictionary<string, string> { ["hw:cpu_policy"] = "dedicated" } });
        var image = await files.Qcow2Async("cirros.qcow2", "64M");
        var (_, made) = await admin.Post("/v1/images", new { name = "cirros", diskFormat = "qcow2", project = "p" });
        await using (var bytes = File.OpenRead(image))
        {
            using var content = new StreamContent(bytes);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
            Assert.True((await admin.PutAsync($"/v1/images/{made.Str("id")}/file", content)).IsSuccessStatusCode);
        }
        var (status, created) = await admin.Post("/v1/servers", new { name = "vm", flavor = "f", image = "cirros", project = "p" });
        Assert.Equal((201, "edge1"), (status, created.Str("host")));
        var id = created.Str("id");

        // The server renders the plan with what the agent registered: QEMU's translator, the disk in the agent's instances directory.
        var plan = (await admin.Get($"/v1/servers/{id}/plan")).Body;
        Assert.Contains("<domain type=\"qemu\"", plan.Str("domainXml"), StringComparison.Ordinal);
        Assert.Equal($"/srv/isola/instances/isola-{id}/disk.qcow2", plan.GetProperty("disk").Str("path"));
        var now = await Eventually.UntilAsync(async () => (await admin.Get($"/v1/servers/{id}")).Body.Str("status"),
            status => status is "ACTIVE" or "ERROR", "vm ACTIVE");
        Assert.Equal("ACTIVE", now);
        // The agent made the disk there, over the image it fetched from the controller.
        Assert.StartsWith("simulated qcow2 1G backing ", await File.ReadAllTextAsync(Path.Join(dir.Sub("root"), $"srv/isola/instances/isola-{id}/disk.qcow2")),
            StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(image), await File.ReadAllBytesAsync(Path.Join(dir.Sub("root"), dir.Sub("state"), "images", made.Str("id"))));
        await stop.CancelAsync();
        Assert.Equal(ExitCodes.Ok, await run);
    }

    [Theory]
    [InlineData("auto", "kvm", "kvm")]
    [InlineData("auto", "qemu", "qemu")]
    [InlineData("qemu", "kvm", "qemu")]
    [InlineData("kvm", "qemu", "kvm")]
    public void The_domain_type_is_discoverys_unless_the_operator_says_otherwise_and_the_instances_directory_is_the_agents(string option, string discovered, string registered)
    {
        var found = ProfileExpander.Expand(ProfileCatalog.Get("x710-2s"), "edge1") with
        {
            Virtualization = new Isola.Domain.Topology.HostVirtualization(discovered, VhostNet: false),
        };

        var inventory = Isola.Cli.Commands.AgentCommand.WithVirtualization(found, "/srv/instances", option);

        Assert.Equal(new Isola.Domain.Topology.HostVirtualization(registered, false, "/srv/instances"), inventory.Virt);
        Assert.Equal(found with { Virtualization = null }, inventory with { Virtualization = null });
    }
}
