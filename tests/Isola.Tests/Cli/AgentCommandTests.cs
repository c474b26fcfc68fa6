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
}
