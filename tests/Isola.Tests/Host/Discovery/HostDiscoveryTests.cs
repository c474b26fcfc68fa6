using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.Discovery;
using Isola.Host.IpLink;
using Isola.Tests.Support;

namespace Isola.Tests.Host.Discovery;

public sealed class HostDiscoveryTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TreeBuilder _tree;

    public HostDiscoveryTests() => _tree = LiteralHost.Write(_dir.Path);

    public void Dispose() => _dir.Dispose();

    private Task<HostTopology> Discover(ICommandRunner? commands = null, HostConfig? config = null) =>
        new HostDiscovery(_dir.Path, commands ?? LiteralHost.Commands(), config ?? HostConfig.Empty).DiscoverAsync();

    [Fact]
    public async Task Reads_cpus_cells_memory_and_hugepages()
    {
        var host = await Discover();
        Assert.Equal("lab1", host.Hostname);
        Assert.Equal(IommuMode.Passthrough, host.Kernel.Iommu);
        Assert.True(host.IommuActive);
        Assert.Equal(8, host.Cpus.Count);
        Assert.True(host.SmtEnabled);
        Assert.Equal(2, host.SocketCount);
        var cpu6 = host.Cpus[6];
        Assert.Equal((1, 0, 1, "2,6", true, true), (cpu6.Socket, cpu6.Core, cpu6.Cell, cpu6.Siblings.ToString(), cpu6.Online, cpu6.Isolated));
        Assert.False(host.Cpus[1].Isolated);
        Assert.Equal(["0-1,4-5", "2-3,6-7"], host.Cells.Select(c => c.Cpus.ToString()));
        Assert.Equal([0, 1], host.Cells.Select(c => c.Socket));
        var cell0 = host.Cells[0];
        Assert.Equal((16384000L, 12000000L), (cell0.MemTotalKiB, cell0.MemFreeKiB));
        Assert.Equal([new HugepagePool(2048, 0, 0), new HugepagePool(1048576, 2, 1)], cell0.Hugepages);
        Assert.Equal([10, 21], cell0.Distances);
    }

    [Fact]
    public async Task Reads_the_pf_its_vfs_and_their_runtime_state()
    {
        var host = await Discover();
        Assert.Equal(["0000:08:00.0", "0000:c1:00.0"], host.Devices.Select(d => d.Address.ToString()));
        var pf = host.Devices[0];
        Assert.Equal(PciId.Parse("8086:10fb"), pf.Id);
        Assert.Equal("Intel Corporation", pf.VendorName);
        Assert.Equal("82599ES 10-Gigabit SFI/SFP+ Network Connection", pf.DeviceName);
        Assert.Equal((DeviceKind.Network, "ixgbe", "p2p1", "90:e2:ba:11:22:33", 10000, 0, 30), (pf.Kind, pf.Driver, pf.NetDev, pf.Mac, pf.LinkSpeedMbps, pf.NumaNode, pf.IommuGroup));
        Assert.Equal((63, 2, (ushort?)0x10ed), (pf.TotalVfs, pf.NumVfs, pf.VfDeviceId));

        var vf0 = pf.Vfs[0];
        Assert.Equal((PciAddress.Parse("0000:08:10.0"), 0, "ixgbevf", "p2p1v0", 31), (vf0.Address, vf0.Index, vf0.Driver, vf0.NetDev, vf0.IommuGroup));
        Assert.Equal([130, 131, 132], vf0.MsiIrqs);
        Assert.Equal(new VfState("fa:16:3e:00:00:01", 100, 3, "802.1Q", true, false, VfLinkState.Enable, 1000, 0), vf0.State);

        var vf1 = pf.Vfs[1];
        Assert.Equal((PciAddress.Parse("0000:08:10.2"), 1, (string?)null, (string?)null), (vf1.Address, vf1.Index, vf1.Driver, vf1.NetDev));
        Assert.Empty(vf1.MsiIrqs);
        Assert.Equal(VfState.Reset, vf1.State);
    }

    [Fact]
    public async Task Reads_sriov_devices_that_are_not_nics()
    {
        var nvme = (await Discover()).Devices[1];
        Assert.Equal((DeviceKind.Storage, 0x010802, "nvme", (string?)null, 32, 0, (int?)null), (nvme.Kind, nvme.ClassCode, nvme.Driver, nvme.NetDev, nvme.TotalVfs, nvme.NumVfs, nvme.NumaNode));
        Assert.Equal("Samsung Electronics Co Ltd", nvme.VendorName);
        Assert.Null(nvme.DeviceName);
    }

    [Fact]
    public async Task Asks_ip_exactly_once_per_pf_with_vfs_and_warns_about_the_unbound_vf_and_the_unknown_numa_node()
    {
        var commands = LiteralHost.Commands();
        var host = await Discover(commands);
        Assert.Equal([["ip", "-d", "-j", "link", "show", "dev", "p2p1"]], commands.Calls);
        Assert.Equal([("0000:08:00.0", WarningCodes.NoDriver), ("0000:c1:00.0", WarningCodes.NumaUnknown)],
            host.Warnings.Select(w => (w.Subject, w.Code)));
        Assert.Contains("1 of 2 VFs have no driver bound", host.Warnings[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Applies_physnet_mappings_exclusions_and_the_allow_list()
    {
        var config = HostConfig.Parse(["physnet2:p2p1,physnet3:p9p9"], ["p2p1:0000:08:10.2;0000:08:11.0"], [new DeviceMatcher(VendorId: "8086", ProductId: "10ed")]);
        var host = await Discover(config: config);
        var pf = host.Devices[0];
        Assert.Equal("physnet2", pf.Physnet);
        Assert.True(pf.Allowed);
        Assert.Equal([false, true], pf.Vfs.Select(v => v.Excluded));
        Assert.Equal([PciAddress.Parse("0000:08:10.0")], pf.AssignableVfs.Select(v => v.Address));
        Assert.False(host.Devices[1].Allowed);
        Assert.Empty(host.Devices[1].AssignableVfs);
        var unmatched = host.Warnings.Where(w => w.Code == WarningCodes.ConfigUnmatched).Select(w => w.Message).ToList();
        Assert.Equal(2, unmatched.Count);
        Assert.Contains(unmatched, m => m.Contains("p9p9", StringComparison.Ordinal));
        Assert.Contains(unmatched, m => m.Contains("0000:08:11.0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Malformed_numa_node_is_a_warning_and_the_device_stays()
    {
        _tree.File($"{LiteralHost.PfDir}/numa_node", "invalid content\n");
        var host = await Discover();
        Assert.Null(host.Devices[0].NumaNode);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:08:00.0", Code: WarningCodes.Malformed } && w.Message.Contains("invalid content", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Missing_sriov_numvfs_is_a_warning()
    {
        _tree.Remove($"{LiteralHost.PfDir}/sriov_numvfs");
        var host = await Discover();
        Assert.Equal(2, host.Devices[0].Vfs.Count);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:08:00.0", Code: WarningCodes.MissingFile } && w.Message.Contains("sriov_numvfs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_virtfn_link_to_nothing_is_skipped_with_a_warning()
    {
        _tree.Remove(LiteralHost.Vf1Dir);
        var host = await Discover();
        Assert.Equal([0], host.Devices[0].Vfs.Select(v => v.Index));
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:08:00.0", Code: WarningCodes.DanglingLink } && w.Message.Contains("virtfn1", StringComparison.Ordinal));
        Assert.Contains(host.Warnings, w => w is { Code: WarningCodes.DanglingLink } && w.Subject == "0000:08:10.2");
        Assert.Contains(host.Warnings, w => w.Message.Contains("sriov_numvfs is 2 but 1 virtfn", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_driver_link_to_nothing_is_a_warning()
    {
        _tree.Remove($"{LiteralHost.Vf0Dir}/driver").Link($"{LiteralHost.Vf0Dir}/driver", "../../../../bus/pci/drivers/gone");
        var host = await Discover();
        Assert.Null(host.Devices[0].Vfs[0].Driver);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:08:10.0", Code: WarningCodes.DanglingLink });
    }

    [Fact]
    public async Task A_pf_without_a_driver_is_a_warning()
    {
        _tree.Remove($"{LiteralHost.PfDir}/driver");
        var host = await Discover();
        Assert.Null(host.Devices[0].Driver);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:08:00.0", Code: WarningCodes.NoDriver });
    }

    [Fact]
    public async Task Unreadable_vendor_id_skips_the_device_with_a_warning()
    {
        _tree.File($"{LiteralHost.NvmeDir}/vendor", "samsung\n");
        var host = await Discover();
        Assert.Single(host.Devices);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:c1:00.0", Code: WarningCodes.Malformed } && w.Message.Contains("samsung", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_device_entry_that_links_to_nothing_is_a_warning()
    {
        _tree.Link("sys/bus/pci/devices/0000:09:00.0", "../../../devices/pci0000:00/0000:00:04.0/0000:09:00.0");
        var host = await Discover();
        Assert.Equal(2, host.Devices.Count);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:09:00.0", Code: WarningCodes.DanglingLink });
    }

    [Fact]
    public async Task A_failing_ip_command_leaves_vf_state_unknown()
    {
        var commands = new ScriptedCommandRunner().Answer(IpCommands.LinkShowDetails("p2p1"), new CommandResult(1, "", "Device \"p2p1\" does not exist.\n"));
        var host = await Discover(commands);
        Assert.All(host.Devices[0].Vfs, vf => Assert.Null(vf.State));
        var w = Assert.Single(host.Warnings, w => w.Code == WarningCodes.CommandFailed);
        Assert.Equal("p2p1", w.Subject);
        Assert.Contains("`ip -d -j link show dev p2p1` exited 1: Device \"p2p1\" does not exist.", w.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{\"ifname\":\"p2p1\"}")]
    [InlineData("[{\"ifname\":\"p2p2\"}]")]
    [InlineData("[{\"ifname\":\"p2p1\",\"vfinfo_list\":[{\"vf\":0,\"address\":7}]}]")]
    [InlineData("[{\"ifname\":\"p2p1\",\"vfinfo_list\":[{\"vf\":0,\"address\":\"00:00:00:00:00:00\",\"link_state\":\"sideways\"}]}]")]
    public async Task Garbage_from_ip_is_a_warning(string output)
    {
        var host = await Discover(new ScriptedCommandRunner().Answer(IpCommands.LinkShowDetails("p2p1"), output));
        Assert.All(host.Devices[0].Vfs, vf => Assert.Null(vf.State));
        Assert.Contains(host.Warnings, w => w is { Subject: "p2p1", Code: WarningCodes.Malformed });
    }

    [Fact]
    public async Task A_vf_the_pf_does_not_report_is_a_warning()
    {
        var json = LiteralHost.IpLinkJson.Replace("{\"vf\":1,", "{\"vf\":5,", StringComparison.Ordinal);
        var host = await Discover(new ScriptedCommandRunner().Answer(IpCommands.LinkShowDetails("p2p1"), json));
        Assert.NotNull(host.Devices[0].Vfs[0].State);
        Assert.Null(host.Devices[0].Vfs[1].State);
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:08:10.2", Code: WarningCodes.VfStateMissing });
    }

    [Fact]
    public async Task Missing_cmdline_and_malformed_cpulist_are_warnings()
    {
        _tree.Remove("proc/cmdline").File("sys/devices/system/node/node1/cpulist", "2-a\n");
        var host = await Discover();
        Assert.Equal(IommuMode.Default, host.Kernel.Iommu);
        Assert.True(host.Cells[1].Cpus.IsEmpty);
        Assert.Contains(host.Warnings, w => w is { Subject: "kernel", Code: WarningCodes.MissingFile });
        Assert.Contains(host.Warnings, w => w is { Subject: "node1", Code: WarningCodes.Malformed });
        Assert.Contains(host.Warnings, w => w is { Subject: "cpu2", Code: WarningCodes.NumaUnknown });
    }

    [Fact]
    public async Task An_offline_cpu_has_no_topology_and_that_is_not_a_fault()
    {
        _tree.File("sys/devices/system/cpu/cpu7/online", "0\n").Remove("sys/devices/system/cpu/cpu7/topology");
        var host = await Discover();
        Assert.False(host.Cpus[7].Online);
        Assert.Equal(-1, host.Cpus[7].Socket);
        Assert.DoesNotContain(host.Warnings, w => w.Subject == "cpu7");
    }

    [Fact]
    public async Task A_kernel_without_numa_is_one_cell()
    {
        _tree.Remove("sys/devices/system/node").File("proc/meminfo", "MemTotal:       32768000 kB\nMemFree:        24000000 kB\n");
        var host = await Discover();
        var cell = Assert.Single(host.Cells);
        Assert.Equal(("0-7", 32768000L, 24000000L), (cell.Cpus.ToString(), cell.MemTotalKiB, cell.MemFreeKiB));
        Assert.All(host.Cpus, c => Assert.Equal(0, c.Cell));
        // With one cell an unknown device NUMA node is harmless, and the warning says so.
        Assert.Contains(host.Warnings, w => w is { Subject: "0000:c1:00.0", Code: WarningCodes.NumaUnknown } && w.Message.Contains("harmless", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_empty_root_gives_an_empty_host_with_warnings_not_a_crash()
    {
        using var empty = new TempDir();
        var host = await new HostDiscovery(empty.Path, new ScriptedCommandRunner(), HostConfig.Empty).DiscoverAsync();
        Assert.Equal("unknown", host.Hostname);
        Assert.Empty(host.Cpus);
        Assert.Empty(host.Devices);
        Assert.NotEmpty(host.Warnings);
    }
}
