using System.Text.Json;
using Isola.Cli;
using Isola.Domain.Serialization;
using Isola.Host.Hardware;
using Isola.Tests.Support;

namespace Isola.Tests.Cli;

public class HostDiscoverCommandTests
{
    [Fact]
    public async Task Fixture_then_discover_json_is_the_profile_host()
    {
        using var dir = new TempDir();
        var (exit, output, _) = await CliRunner.Run("fixture", "--profile", "x710-2s", "--out", dir.Path, "--hostname", "nfv-7");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("nfv-7 (x710-2s: 32 CPUs, 2 NUMA cells, 5 PCI functions, 256 VFs)", output, StringComparison.Ordinal);

        (exit, output, _) = await CliRunner.Run("host", "discover", "--root", dir.Path, "-f", "json");
        Assert.Equal(ExitCodes.Ok, exit);
        var doc = InventoryDocument.Parse(output);
        var profile = ProfileCatalog.Get("x710-2s");
        Assert.Equal(JsonSerializer.Serialize(ProfileExpander.Expand(profile, "nfv-7"), IsolaJson.Options), JsonSerializer.Serialize(doc.Host, IsolaJson.Options));
        // The document re-serializes to the same text: the format round-trips.
        Assert.Equal(output.Trim(), doc.ToJson());
    }

    [Fact]
    public async Task The_table_shows_cells_devices_and_physnets()
    {
        using var dir = new TempDir();
        await CliRunner.Run("fixture", "--profile", "ixgbe-2s-smt", "--out", dir.Path);
        var (exit, output, _) = await CliRunner.Run("host", "discover", "--root", dir.Path);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("compute-ixgbe: 2 socket(s), 48 CPUs, SMT on, IOMMU passthrough", output, StringComparison.Ordinal);
        Assert.Matches(@"│ 0\s+│ 0\s+│ 0-11,24-35\s+│ 1-11,25-35\s+│", output);
        // p2p1 has one VF excluded by the profile's host configuration: 62 of 63 assignable.
        Assert.Matches(@"0000:08:00\.0 │ p2p1 .*│ 63/63 │ ixgbevf\s+│ physnet2\s+│ 62 ", output);
    }

    [Fact]
    public async Task Flags_add_to_the_host_configuration()
    {
        using var dir = new TempDir();
        await CliRunner.Run("fixture", "--profile", "igb-1s", "--out", dir.Path);
        var (_, output, _) = await CliRunner.Run("host", "discover", "--root", dir.Path, "-f", "json",
            "--exclude", "p1p2:0000:03:10.1;0000:03:10.3", "--allow", "p1p2");
        var host = InventoryDocument.Parse(output).Host;
        var p1p1 = host.Devices.Single(d => d.NetDev == "p1p1");
        var p1p2 = host.Devices.Single(d => d.NetDev == "p1p2");
        Assert.False(p1p1.Allowed);
        Assert.True(p1p2.Allowed);
        Assert.Equal(5, p1p2.AssignableVfs.Count());
    }

    [Fact]
    public async Task Warnings_exit_3_only_when_strict()
    {
        using var dir = new TempDir();
        await CliRunner.Run("fixture", "--profile", "igb-1s", "--out", dir.Path);
        File.WriteAllText(Path.Join(dir.Path, "proc/cmdline"), "intel_iommu=on isolcpus=9-3\n");
        var (exit, output, _) = await CliRunner.Run("host", "discover", "--root", dir.Path);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("1 warning(s):", output, StringComparison.Ordinal);
        Assert.Contains("kernel: /proc/cmdline: isolcpus=9-3", output, StringComparison.Ordinal);
        (exit, _, _) = await CliRunner.Run("host", "discover", "--root", dir.Path, "--strict");
        Assert.Equal(ExitCodes.Warnings, exit);
    }

    [Theory]
    [InlineData("host", "discover", "--root", "/nonexistent-isola-root")]
    [InlineData("host", "discover", "-f", "xml")]
    [InlineData("host", "discover", "--physnet-mapping", "nocolon")]
    [InlineData("host", "discover", "--allow", "not/a/thing")]
    [InlineData("fixture", "--profile", "no-such-profile", "--out", "/tmp/x")]
    [InlineData("fixture", "--out", "/tmp/x")]
    [InlineData("no-such-command")]
    public async Task Usage_errors_exit_2_and_say_what_is_wrong(params string[] args)
    {
        var (exit, _, error) = await CliRunner.Run(args);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.StartsWith("isola: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fixture_refuses_a_non_empty_directory()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("notes.txt"), "mine");
        var (exit, _, error) = await CliRunner.Run("fixture", "--profile", "igb-1s", "--out", dir.Path);
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("is not empty", error, StringComparison.Ordinal);
        Assert.True(File.Exists(dir.Sub("notes.txt")));
    }

    [Fact]
    public async Task Fixture_lists_the_built_in_profiles()
    {
        var (exit, output, _) = await CliRunner.Run("fixture", "--list");
        Assert.Equal(ExitCodes.Ok, exit);
        foreach (var p in ProfileCatalog.BuiltIn)
            Assert.Contains(p.Name, output, StringComparison.Ordinal);
    }
}
