using Isola.Cli;
using Isola.Host.Commands;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

public class RenderCommandTests
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples", "requests.yaml");

    [Fact]
    public async Task Plan_renders_every_placement_and_render_reproduces_it()
    {
        using var dir = new TempDir();
        var (exit, _, error) = await CliRunner.Run("plan", "--fleet", "x710-2s:3,cx5-2s-smt:2", "--requests", Examples, "--render", dir.Sub("plans"), "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("rendered 9 host plan(s)", error, StringComparison.Ordinal);
        var vnf = dir.Sub("plans/vnf-a-1");
        foreach (var file in new[] { "domain.xml", "network-config.yaml", "vf-commands.txt", "vf-reset-commands.txt", "irq-plan.json", "host-plan.json",
                     "render-input.json", "host/etc/default/irqbalance", "host/etc/systemd/system/system.slice.d/50-isola-cpus.conf" })
            Assert.True(File.Exists(Path.Join(vnf, file)), file);
        // The HA bond's two VFs both get VLAN 100 and the port's one MAC.
        var commands = File.ReadAllLines(Path.Join(vnf, "vf-commands.txt"));
        Assert.Equal(2, commands.Count(c => c.EndsWith("vlan 100 qos 0 proto 802.1Q", StringComparison.Ordinal)));
        Assert.Single(commands.Where(c => c.Contains(" mac ", StringComparison.Ordinal)).Select(c => c.Split(' ')[^1]).Take(2).Distinct());

        (exit, _, _) = await CliRunner.Run("render", "--placement", Path.Join(vnf, "render-input.json"), "--out", dir.Sub("again"));
        Assert.Equal(ExitCodes.Ok, exit);
        foreach (var file in Directory.GetFiles(vnf, "*", SearchOption.AllDirectories))
            Assert.Equal(File.ReadAllText(file), File.ReadAllText(Path.Join(dir.Sub("again"), Path.GetRelativePath(vnf, file))));

        var virsh = await new ProcessCommandRunner().RunAsync(["virsh", "-c", "test:///default", $"define --validate {Path.Join(vnf, "domain.xml")}"]);
        Assert.True(virsh.Succeeded, virsh.StandardError);
    }

    [Fact]
    public async Task A_plan_the_nic_cannot_carry_out_is_refused_with_the_field()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("r.yaml"), """
            flavors:
              - { name: f, vcpus: 2, ram: 2048, extraSpecs: { "hw:cpu_policy": dedicated, "hw:mem_page_size": 1GB } }
            servers:
              - { name: a, flavor: f, ports: [ { name: p, vnicType: direct, physnet: physnet2, minTxRateMbps: 100 } ] }
            """);
        // Placement knows what the VF's driver can do: the server is not placed there (and no plan is rendered to fail on the host).
        var (exit, output, error) = await CliRunner.Run("plan", "--fleet", "x710-2s:1", "--requests", dir.Sub("r.yaml"), "--render", dir.Sub("out"), "-f", "json");
        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Contains("guarantee a minimum TX rate (port p; i40e cannot)", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Sub("out/a")));
    }

    [Fact]
    public async Task Render_without_a_readable_input_exits_2()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("bad.json"), "{ not json");
        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("render", "--placement", dir.Sub("bad.json"))).Exit);
        Assert.Equal(ExitCodes.Usage, (await CliRunner.Run("render", "--placement", dir.Sub("missing.json"))).Exit);
    }
}
