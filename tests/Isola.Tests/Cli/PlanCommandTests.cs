using System.Text.Json;
using Isola.Cli;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

public class PlanCommandTests
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "examples", "requests.yaml");

    [Fact]
    public async Task Plans_the_example_requests_and_explains_what_did_not_fit()
    {
        var (exit, output, _) = await CliRunner.Run("plan", "--fleet", "x710-2s:3,ixgbe-2s-smt:2@az2", "--requests", Examples, "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        using var doc = JsonDocument.Parse(output);
        var placements = doc.RootElement.GetProperty("placements").EnumerateArray().ToList();
        var failures = doc.RootElement.GetProperty("failures").EnumerateArray().ToList();
        Assert.Equal(14, placements.Count + failures.Count);
        // Three x710 hosts can hold one member each of the anti-affinity group; the ixgbe hosts have
        // one physnet2 PF per cell, too few for an HA bond with required NUMA affinity.
        var vnfs = placements.Where(p => p.GetProperty("server").GetString()!.StartsWith("vnf-a", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, vnfs.Select(p => p.GetProperty("host").GetString()).Distinct().Count());
        var vnf4 = failures.Single(f => f.GetProperty("server").GetString() == "vnf-a-4");
        var codes = vnf4.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()).ToList();
        Assert.Equal(["group-anti-affinity", "ha-distinct-pfs"], codes);
        var bond = vnfs[0].GetProperty("vfs").EnumerateArray().Where(v => v.GetProperty("port").GetString() == "ext").ToList();
        Assert.Equal(2, bond.Count);
        Assert.NotEqual(bond[0].GetProperty("pf").GetString(), bond[1].GetProperty("pf").GetString());
        Assert.Equal(bond[0].GetProperty("mac").GetString(), bond[1].GetProperty("mac").GetString());
        Assert.NotEmpty(doc.RootElement.GetProperty("utilisation").EnumerateArray());
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_plan()
    {
        var a = await CliRunner.Run("plan", "--fleet", "cx5-2s-smt:2", "--requests", Examples, "-f", "json", "--seed", "7");
        var b = await CliRunner.Run("plan", "--fleet", "cx5-2s-smt:2", "--requests", Examples, "-f", "json", "--seed", "7");
        Assert.Equal(a.Out, b.Out);
    }

    [Fact]
    public async Task The_table_names_reasons_and_utilisation()
    {
        var (_, output, _) = await CliRunner.Run("plan", "--fleet", "x710-2s:3,ixgbe-2s-smt:2@az2", "--requests", Examples);
        Assert.Contains("not enough free hugepages of the asked size in a NUMA cell │ 6", output, StringComparison.Ordinal);
        Assert.Contains("7 placed, 7 not placed, on 5 hosts", output, StringComparison.Ordinal);
        Assert.Matches(@"nfv-x710-1 │ -\s+│ 9/28\s+│ 8/16", output);
    }

    [Fact]
    public async Task Plans_on_hosts_from_inventory_files()
    {
        using var dir = new TempDir();
        await CliRunner.Run("fixture", "--profile", "cx5-2s-smt", "--out", dir.Sub("h1"));
        var (_, json, _) = await CliRunner.Run("host", "discover", "--root", dir.Sub("h1"), "-f", "json");
        File.WriteAllText(dir.Sub("h1.json"), json);
        var (exit, output, _) = await CliRunner.Run("plan", "--inventory", dir.Sub("h1.json") + "@az9", "--requests", Examples, "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Contains(doc.RootElement.GetProperty("placements").EnumerateArray(), p => p.GetProperty("host").GetString() == "game-cx5");
    }

    [Theory]
    [InlineData("--fleet", "x710-2s", "--requests", "EXAMPLES")]
    [InlineData("--fleet", "nosuch:3", "--requests", "EXAMPLES")]
    [InlineData("--requests", "EXAMPLES")]
    [InlineData("--fleet", "x710-2s:2", "--requests", "/nonexistent.yaml")]
    public async Task Bad_input_exits_2(params string[] args)
    {
        var (exit, _, error) = await CliRunner.Run(["plan", .. args.Select(a => a == "EXAMPLES" ? Examples : a)]);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.StartsWith("isola: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_request_names_the_server_and_field()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("r.yaml"), """
            flavors:
              - { name: f, vcpus: 2, ram: 2048, extraSpecs: { "hw:cpu_thread_policy": isolate } }
            servers:
              - { name: a, flavor: f, ports: [ { name: p, vnicType: macvtap, ha: true } ] }
            """);
        var (exit, _, error) = await CliRunner.Run("plan", "--fleet", "x710-2s:1", "--requests", dir.Sub("r.yaml"));
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("servers[0] (a): hw:cpu_thread_policy: needs hw:cpu_policy=dedicated", error, StringComparison.Ordinal);
        Assert.Contains("ports[0].physnet", error, StringComparison.Ordinal);
        Assert.Contains("ports[0].ha: an HA bond needs vnic type direct", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_planned_port_goes_only_where_its_pf_driver_can_do_what_it_asks()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("r.yaml"), """
            flavors:
              - { name: f, vcpus: 2, ram: 2048, extraSpecs: { "hw:cpu_policy": dedicated, "hw:mem_page_size": 1GB } }
              - { name: g, vcpus: 2, ram: 2048, extraSpecs: { "hw:cpu_policy": dedicated, "hw:mem_page_size": 1GB, "hw:pci_numa_affinity_policy": preferred } }
            servers:
              - { name: rate, flavor: f, ports: [ { name: p, vnicType: direct, physnet: physnet2, minTxRateMbps: 500 } ] }
              - { name: strict, flavor: g, ports: [ { name: b, vnicType: direct, physnet: physnet2, ha: true, haDistinctAdapters: true } ] }
            """);
        var (exit, output, _) = await CliRunner.Run("plan", "--fleet", "x710-2s:1,cx5-2s-smt:1", "--requests", dir.Sub("r.yaml"), "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        using var doc = JsonDocument.Parse(output);
        var placements = doc.RootElement.GetProperty("placements").EnumerateArray().ToDictionary(p => p.GetProperty("server").GetString()!);
        // The guaranteed rate needs mlx5 (the cx5 host); the strict bond two cards: the x710 host's two sockets' cards (policy preferred).
        Assert.StartsWith("game-cx5", placements["rate"].GetProperty("host").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("nfv-x710", placements["strict"].GetProperty("host").GetString(), StringComparison.Ordinal);
        var pfs = placements["strict"].GetProperty("vfs").EnumerateArray().Select(v => v.GetProperty("pf").GetString()![..10]).ToList();
        Assert.Equal(2, pfs.Distinct().Count());
    }

    [Fact]
    public async Task Capacity_counts_how_many_more_fit_and_why_it_stops()
    {
        var (exit, output, _) = await CliRunner.Run("capacity", "--fleet", "x710-2s:10",
            "--flavor", "vcpus=4,ram=8192,hw:cpu_policy=dedicated,hw:mem_page_size=1GB,hw:pci_numa_affinity_policy=required",
            "--port", "direct:physnet2:ha", "--port", "direct:physnet2", "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        using var doc = JsonDocument.Parse(output);
        // 14 pinnable pCPUs per cell hold 3 guests of 4; 2 cells, 10 hosts.
        Assert.Equal(60, doc.RootElement.GetProperty("fit").GetInt32());
        Assert.Equal(6, doc.RootElement.GetProperty("maxPerHost").GetInt32());
        Assert.Equal("dedicated-cpus", doc.RootElement.GetProperty("stoppedBy")[0].GetProperty("code").GetString());
    }

    [Fact]
    public async Task Capacity_after_the_requests_already_placed()
    {
        var (_, before, _) = await CliRunner.Run("capacity", "--fleet", "x710-2s:3", "--flavor", "vcpus=2,ram=4096", "-f", "json");
        var (_, after, _) = await CliRunner.Run("capacity", "--fleet", "x710-2s:3", "--requests", Examples, "--flavor", "web.small", "-f", "json");
        var fitBefore = JsonDocument.Parse(before).RootElement.GetProperty("fit").GetInt32();
        var fitAfter = JsonDocument.Parse(after).RootElement.GetProperty("fit").GetInt32();
        // The example places 4 web.small (2 shared vCPUs each) on this fleet.
        Assert.Equal(fitBefore - 4, fitAfter);
    }
}
