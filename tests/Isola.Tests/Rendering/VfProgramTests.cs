using Isola.Domain.Pci;
using Isola.Rendering;
using Isola.Rendering.Vf;
using Isola.Scheduling.Requests;

namespace Isola.Tests.Rendering;

public class VfProgramTests
{
    [Fact]
    public void Each_setting_is_one_exact_command()
    {
        var s = new VfSettings("ext", "p2p1", "ixgbe", PciAddress.Parse("0000:08:00.0"), PciAddress.Parse("0000:08:10.2"), 1,
            new VfState("fa:16:3e:00:00:01", 100, 3, "802.1Q", SpoofCheck: true, Trust: false, VfLinkState.Enable, 1000, 0));
        Assert.Equal(
        [
            "ip link set dev p2p1 up",
            "ip link set dev p2p1 vf 1 mac fa:16:3e:00:00:01",
            "ip link set dev p2p1 vf 1 vlan 100 qos 3 proto 802.1Q",
            "ip link set dev p2p1 vf 1 spoofchk on",
            "ip link set dev p2p1 vf 1 trust off",
            "ip link set dev p2p1 vf 1 state enable",
            "ip link set dev p2p1 vf 1 max_tx_rate 1000 min_tx_rate 0",
        ], VfCommands.Program(s).Select(a => string.Join(' ', a)));
    }

    [Fact]
    public void Reset_leaves_the_vf_as_found()
    {
        Assert.Equal(
        [
            "ip link set dev ens1f0 vf 7 mac 00:00:00:00:00:00",
            "ip link set dev ens1f0 vf 7 vlan 0",
            "ip link set dev ens1f0 vf 7 spoofchk on",
            "ip link set dev ens1f0 vf 7 trust off",
            "ip link set dev ens1f0 vf 7 state auto",
            "ip link set dev ens1f0 vf 7 max_tx_rate 0 min_tx_rate 0",
        ], VfCommands.Reset("ens1f0", 7).Select(a => string.Join(' ', a)));
    }

    [Fact]
    public void Both_rates_always_travel_together()
    {
        // Setting max alone through an older iproute2 would send min 0 and clear a guarantee.
        Assert.All(new[] { VfCommands.Rates("p", 0, 500, 0), VfCommands.Rates("p", 0, 0, 200) },
            argv => Assert.True(argv.Contains("max_tx_rate") && argv.Contains("min_tx_rate")));
    }

    [Theory]
    [InlineData("ixgbe", false, false)]
    [InlineData("i40e", false, false)]
    [InlineData("igb", false, false)]
    [InlineData("mlx5_core", true, true)]
    [InlineData("ice", true, true)]
    [InlineData("somenewdriver", true, true)]
    public void Driver_capabilities(string driver, bool minRate, bool qinq)
    {
        var q = VfDriverCapabilities.For(driver);
        Assert.Equal((minRate, qinq), (q.Can(VfNeeds.MinTxRate), q.Can(VfNeeds.VlanProtocol8021ad)));
    }

    [Fact]
    public void A_guarantee_or_qinq_the_nic_cannot_give_is_refused_with_the_field()
    {
        var input = RenderCases.Input("direct-dedicated");
        var bad = input with { Ports = [input.Ports[0] with { MinTxRateMbps = 500, VlanProtocol = "802.1ad", VlanQos = 9 }] };
        var e = Assert.Throws<RenderException>(() => HostPlanner.Render(bad));
        Assert.Equal(["ports[0].vlanQos", "ports[0].vlanProtocol", "ports[0].minTxRateMbps"], e.Errors.Select(x => x.Field));
        Assert.Contains("i40e cannot guarantee", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mellanox_vfs_take_a_guarantee_and_qinq()
    {
        // The case host's second NIC is a ConnectX-5 on cell 1: send the port there with required affinity.
        var input = RenderCases.Input("direct-dedicated");
        var mlx = input.Host.Devices.First(d => d.Driver == "mlx5_core");
        var vf = mlx.Vfs[0];
        var placement = input.Placement with
        {
            Vfs = [input.Placement.Vfs[0] with { Pf = mlx.Address, PfNetDev = mlx.NetDev, Vf = vf.Address, VfIndex = vf.Index, HostCell = 1 }],
        };
        var plan = HostPlanner.Render(input with { Placement = placement, Ports = [input.Ports[0] with { MinTxRateMbps = 500, VlanProtocol = "802.1ad" }] });
        Assert.Contains(plan.VfCommands, a => string.Join(' ', a) == $"ip link set dev {mlx.NetDev} vf 0 vlan 100 qos 0 proto 802.1ad");
        Assert.Contains(plan.VfCommands, a => string.Join(' ', a) == $"ip link set dev {mlx.NetDev} vf 0 max_tx_rate 2000 min_tx_rate 500");
    }

    [Fact]
    public void The_reset_commands_cover_every_vf_of_the_plan()
    {
        var plan = HostPlanner.Render(RenderCases.Input("ha-active-backup"));
        Assert.Equal(2, plan.Vfs.Count);
        Assert.Equal(12, plan.VfResetCommands.Count());
        Assert.All(plan.Vfs, v => Assert.Contains(plan.VfResetCommands, a => a[4] == v.PfNetDev && a[6] == v.VfIndex.ToString() && a[7] == "mac" && a[8] == VfState.ZeroMac));
    }

    [Fact]
    public void Igb_vfs_get_no_state_command_and_refuse_a_forced_state()
    {
        var s = new VfSettings("p", "p1p1", "igb", PciAddress.Parse("0000:03:00.0"), PciAddress.Parse("0000:03:10.0"), 0, VfState.Reset);
        Assert.DoesNotContain(VfCommands.Program(s), a => a.Contains("state"));
        Assert.DoesNotContain(VfCommands.Reset("p1p1", 0, "igb"), a => a.Contains("state"));
        Assert.Contains(VfCommands.Reset("p1p1", 0, "ixgbe"), a => a.Contains("state"));

        var fleet = new Isola.Scheduling.State.FleetState();
        fleet.AddHost(new Isola.Tests.Scheduling.HostBuilder("edge").Cores(4).Pages1G(4).Nic(0, "physnet1", 2, model: "intel-82576").Build());
        var port = new PortSpec("p", VnicType.Direct, "fa:16:3e:00:00:09", Physnet: "physnet1", LinkState: VfLinkState.Enable);
        var flavor = Flavor.Of("f", 1, 1024, 1).With(ExtraSpecs.CpuPolicyKey, "dedicated").With(ExtraSpecs.MemPageSizeKey, "1GB");
        var placed = new Isola.Scheduling.Pipeline.Placer(fleet).Place(PlacementRequest.Create("vm", flavor, [new PortRequest("p", VnicType.Direct, "physnet1", false, port.Mac)])).Placement!;
        var e = Assert.Throws<RenderException>(() => HostPlanner.Render(new RenderInput(placed, flavor, [port], fleet.Hosts[0].Topology)));
        Assert.Equal("ports[0].linkState", Assert.Single(e.Errors).Field);
        var plan = HostPlanner.Render(new RenderInput(placed, flavor, [port with { LinkState = VfLinkState.Auto }], fleet.Hosts[0].Topology));
        Assert.DoesNotContain(plan.VfCommands, a => a.Contains("state"));
    }

    [Fact]
    public void An_ha_bond_keeps_spoof_check_on()
    {
        var input = RenderCases.Input("ha-active-backup");
        var bad = input with { Ports = [input.Ports[0] with { SpoofCheck = false }, input.Ports[1]] };
        Assert.Equal("ports[0].spoofCheck", Assert.Single(Assert.Throws<RenderException>(() => HostPlanner.Render(bad)).Errors).Field);
    }
}
