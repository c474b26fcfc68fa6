using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.Hardware;
using Isola.Tests.Support;

namespace Isola.Tests.Host.Hardware;

public class ProfileRoundTripTests
{
    public static TheoryData<string> BuiltInProfiles() => new(ProfileCatalog.BuiltIn.Select(p => p.Name));

    [Theory]
    [MemberData(nameof(BuiltInProfiles))]
    public async Task Fixture_then_discover_gives_back_the_same_host(string name)
    {
        using var dir = new TempDir();
        var profile = ProfileCatalog.Get(name);
        var expected = ProfileExpander.Expand(profile);
        SysfsTreeWriter.Write(expected, profile.HostConfig, dir.Path);

        var config = HostConfigFile.Load(Path.Join(dir.Path, SysfsTreeWriter.HostConfigPath)).ToConfig();
        var discovered = await new HostDiscovery(dir.Path, CommandRunners.ForRoot(dir.Path), config).DiscoverAsync();

        // The only warnings: PFs whose VFs the profile leaves unbound (no-driver).
        Assert.Equal(expected.Devices.Where(d => d.Vfs.Any(v => v.Driver is null)).Select(d => (d.Address.ToString(), WarningCodes.NoDriver)),
            discovered.Warnings.Select(w => (w.Subject, w.Code)));
        Assert.Equal(Json(expected), Json(discovered with { Warnings = [] }));
    }

    [Fact]
    public void The_built_in_profiles_cover_the_shapes_users_run()
    {
        var hosts = ProfileCatalog.BuiltIn.Select(p => ProfileExpander.Expand(p)).ToList();
        var drivers = hosts.SelectMany(h => h.Devices).Select(d => d.Driver).ToHashSet();
        Assert.Superset(new HashSet<string?> { "igb", "ixgbe", "i40e", "mlx5_core", "nvme" }, drivers);
        Assert.Contains(hosts, h => h.SocketCount == 1);
        Assert.Contains(hosts, h => h.SocketCount == 2);
        Assert.Contains(hosts, h => h.SmtEnabled);
        Assert.Contains(hosts, h => !h.SmtEnabled);
        Assert.Contains(hosts, h => h.Cells.Any(c => c.Hugepages.Any(p => p.PageSizeKiB == HugepagePool.Size2M)));
        Assert.Contains(hosts, h => h.Cells.Any(c => c.Hugepages.Any(p => p.PageSizeKiB == HugepagePool.Size1G)));
        Assert.Contains(hosts, h => h.Devices.Any(d => d.Kind == Isola.Domain.Pci.DeviceKind.Storage && d.TotalVfs > 0));
        // The benchmark shape: 2 sockets, 2 PFs x 64 VFs per socket.
        Assert.Contains(hosts, h => h.SocketCount == 2 && h.Cells.All(c => h.Devices.Count(d => d.NumaNode == c.Id && d.NumVfs == 64) == 2));
    }

    [Fact]
    public void Vf_addresses_follow_offset_and_stride_and_never_collide()
    {
        foreach (var host in ProfileCatalog.BuiltIn.Select(p => ProfileExpander.Expand(p)))
        {
            var all = host.Devices.Select(d => d.Address).Concat(host.Devices.SelectMany(d => d.Vfs).Select(v => v.Address)).ToList();
            Assert.Equal(all.Count, all.Distinct().Count());
        }
        var ixgbe = ProfileExpander.Expand(ProfileCatalog.Get("ixgbe-2s-smt"));
        var p2p2 = ixgbe.Devices.Single(d => d.NetDev == "p2p2");
        // 82599: offset 0x80, stride 2 -- function 1's VFs interleave with function 0's.
        Assert.Equal(["0000:08:10.1", "0000:08:10.3", "0000:08:10.5"], p2p2.Vfs.Take(3).Select(v => v.Address.ToString()));
    }

    [Fact]
    public void Same_profile_and_name_give_the_same_host()
    {
        var profile = ProfileCatalog.Get("cx5-2s-smt");
        Assert.Equal(Json(ProfileExpander.Expand(profile, "a")), Json(ProfileExpander.Expand(profile, "a")));
        Assert.NotEqual(ProfileExpander.Expand(profile, "a").Devices[1].Mac, ProfileExpander.Expand(profile, "b").Devices[1].Mac);
    }

    [Fact]
    public void A_bad_profile_names_every_field_it_breaks()
    {
        var profile = ProfileCatalog.Parse("""
            name: broken
            sockets: 2
            coresPerSocket: 4
            threadsPerCore: 3
            memoryPerCellMiB: 1024
            hugepages:
              - size: 4M
                perCell: 10
            devices:
              - model: intel-e1000
                bus: "zz"
                ports: [a]
              - model: intel-82599es
                bus: "0x08"
                cell: 2
                ports: [a]
                numVfs: 64
            """, "broken.yaml");
        var e = Assert.Throws<ArgumentException>(() => ProfileExpander.Expand(profile));
        foreach (var field in new[] { "threadsPerCore", "hugepages[0].size", "memoryPerCellMiB", "devices[0].model", "devices[0].bus", "devices[1].cell", "devices[1].ports", "devices[1].numVfs" })
            Assert.Contains(field + ":", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_errors_say_the_line()
    {
        var e = Assert.Throws<ArgumentException>(() => ProfileCatalog.Parse("name: x\nsockets: [\n", "x.yaml"));
        Assert.Contains("x.yaml: line", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_writer_refuses_to_overwrite_what_it_did_not_write()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.Sub("precious.txt"), "keep me");
        var host = ProfileExpander.Expand(ProfileCatalog.Get("igb-1s"));
        Assert.Throws<IOException>(() => SysfsTreeWriter.Write(host, null, dir.Path));
        Assert.Throws<IOException>(() => SysfsTreeWriter.Write(host, null, dir.Path, replace: true));
        Assert.True(File.Exists(dir.Sub("precious.txt")));

        using var generated = new TempDir();
        SysfsTreeWriter.Write(host, null, generated.Path);
        Assert.Throws<IOException>(() => SysfsTreeWriter.Write(host, null, generated.Path));
        SysfsTreeWriter.Write(host, null, generated.Path, replace: true);
    }

    private static string Json(HostTopology host) => JsonSerializer.Serialize(host, IsolaJson.Options);
}
