using Isola.Domain.Pci;
using Isola.Host.Config;
using Isola.Tests.Support;

namespace Isola.Tests.Host.Config;

public class HostConfigTests
{
    [Fact]
    public void Neutron_syntax_for_mappings_and_exclusions()
    {
        var config = HostConfig.Parse(["physnet2:p2p1,physnet2:p3p1", "physnet3:p2p2"], ["p2p1:0000:08:10.1;0000:08:10.3,p2p2:0000:08:10.5", "p2p1:0000:08:10.7"], []);
        Assert.Equal(["physnet2", "physnet2", "physnet3"], config.PhysicalDeviceMappings.Select(m => m.Physnet));
        Assert.Equal("physnet3", config.PhysnetOf("p2p2"));
        Assert.Null(config.PhysnetOf("eno1"));
        var p2p1 = config.ExcludeDevices.Single(e => e.Device == "p2p1");
        Assert.Equal(["0000:08:10.1", "0000:08:10.3", "0000:08:10.7"], p2p1.Vfs.Select(a => a.ToString()));
    }

    [Fact]
    public void Every_error_is_reported_with_its_field()
    {
        var e = Assert.Throws<ConfigException>(() => HostConfig.Parse(
            ["physnet2", "physnet2:p2p1", "physnet3:p2p1", "phys net:p1"],
            ["p2p1", "p2p1:0000:08:10.9"],
            [new DeviceMatcher(), new DeviceMatcher(VendorId: "intel")]));
        Assert.Equal(7, e.Errors.Count);
        Assert.Equal(3, e.Errors.Count(x => x.Field == PhysnetMapping.Field));
        Assert.Contains(e.Errors, x => x.Message.Contains("mapped to both physnet2 and physnet3", StringComparison.Ordinal));
        Assert.Equal(2, e.Errors.Count(x => x.Field == ExcludedVfs.Field));
        Assert.Contains(e.Errors, x => x.Field == "device_allow_list.vendorId");
    }

    [Theory]
    [InlineData("8086:10fb", "0000:08:00.0", "p2p1", true)]
    [InlineData("8086:10ed", "0000:08:00.0", "p2p1", true)]
    [InlineData("8086:*", "0000:08:00.0", "p2p1", true)]
    [InlineData("15b3:1017", "0000:08:00.0", "p2p1", false)]
    [InlineData("0000:08:00.*", "0000:08:00.1", "p2p2", true)]
    [InlineData("08:00.1", "0000:08:00.1", "p2p2", true)]
    [InlineData("0000:08:00.*", "0000:86:00.0", "p3p1", false)]
    [InlineData("p2p1", "0000:08:00.0", "p2p1", true)]
    [InlineData("p2p1", "0000:08:00.1", "p2p2", false)]
    public void Allow_list_short_forms(string entry, string address, string netDev, bool matches)
    {
        var errors = new List<ConfigError>();
        var matcher = DeviceMatcher.Parse(entry, errors)!;
        Assert.Empty(errors);
        Assert.Equal(matches, matcher.Matches(PciAddress.Parse(address), PciId.Parse("8086:10fb"), 0x10ed, netDev));
    }

    [Fact]
    public void Reads_the_host_section_of_appsettings_json()
    {
        using var dir = new TempDir();
        var path = dir.Sub("appsettings.json");
        File.WriteAllText(path, """
            {
              // comments are fine
              "Isola": { "Host": {
                "physicalDeviceMappings": ["physnet2:p2p1"],
                "excludeDevices": ["p2p1:0000:08:10.1"],
                "deviceAllowList": [{ "vendorId": "8086", "productId": "10fb" }],
              } }
            }
            """);
        var config = HostConfigFile.Load(path).ToConfig();
        Assert.Equal("physnet2", config.PhysnetOf("p2p1"));
        Assert.Single(config.ExcludeDevices);
        Assert.Equal("10fb", config.DeviceAllowList.Single().ProductId);
    }
}
