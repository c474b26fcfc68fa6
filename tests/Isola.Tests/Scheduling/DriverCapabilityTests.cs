using Isola.Domain.Pci;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

/// <summary>A port gets only VFs whose PF driver can do what it needs (the shared <see cref="VfDriverCapabilities"/> table).</summary>
public class DriverCapabilityTests
{
    private static Placer Placer(params HostBuilder[] hosts)
    {
        var fleet = new FleetState();
        foreach (var h in hosts)
            fleet.AddHost(h.Build());
        return new Placer(fleet);
    }

    /// <summary>One host with one single-port NIC of each model, all on physnet2.</summary>
    private static HostBuilder Host(params string[] models)
    {
        var b = new HostBuilder("h1").Cores(8).Pages1G(8);
        foreach (var model in models)
            b.Nic(0, "physnet2", 2, model: model);
        return b;
    }

    [Theory]
    [InlineData(VfNeeds.None, new[] { "intel-82576" }, "igb", null)]
    [InlineData(VfNeeds.MinTxRate, new[] { "intel-x710", "mellanox-cx5" }, "mlx5_core", null)]
    [InlineData(VfNeeds.MinTxRate, new[] { "intel-x710" }, null, "no PF on physnet2 whose driver can guarantee a minimum TX rate (port p; i40e cannot)")]
    [InlineData(VfNeeds.VlanProtocol8021ad, new[] { "intel-82599es", "intel-82576" }, null, "no PF on physnet2 whose driver can tag an 802.1ad port VLAN (port p; igb, ixgbe cannot)")]
    [InlineData(VfNeeds.LinkState, new[] { "intel-82576", "intel-82599es" }, "ixgbe", null)]
    [InlineData(VfNeeds.LinkState, new[] { "intel-82576" }, null, "no PF on physnet2 whose driver can force a VF link state (port p; igb cannot)")]
    [InlineData(VfNeeds.MinTxRate | VfNeeds.LinkState, new[] { "intel-82576", "intel-x710" }, null,
        "no PF on physnet2 whose driver can guarantee a minimum TX rate and force a VF link state (port p; i40e, igb cannot)")]
    public void A_port_lands_only_on_a_pf_whose_driver_can_do_what_it_needs(VfNeeds needs, string[] models, string? driver, string? refusal)
    {
        var host = Host(models).Build();
        var fleet = new FleetState();
        fleet.AddHost(host);
        var result = new Placer(fleet).Place(Request("vm", Dedicated(1, 1024), Direct("p") with { Needs = needs }));
        if (refusal is null)
        {
            Assert.True(result.Succeeded, result.Explain());
            Assert.Equal(driver, host.Devices.Single(d => d.Address == Assert.Single(result.Placement!.Vfs).Pf).Driver);
            return;
        }
        var rejection = Assert.Single(result.Rejections);
        Assert.Equal((RejectionCode.VfDriverCapability, $"h1: {refusal}"), (rejection.Code, rejection.Example));
        Assert.Equal(0, fleet.Host("h1")!.Generation);
    }

    [Fact]
    public void An_ha_port_with_needs_takes_two_capable_pfs_or_names_the_one_it_found()
    {
        var one = Placer(Host("mellanox-cx5", "intel-x710")).Place(Request("vm", Dedicated(1, 1024), Ha("bond") with { Needs = VfNeeds.MinTxRate }));
        Assert.Equal((RejectionCode.VfDriverCapability, "h1: only p10p0 on physnet2 has a driver that can guarantee a minimum TX rate (HA port bond needs two; i40e cannot)"),
            (Assert.Single(one.Rejections).Code, one.Rejections[0].Example));
        var two = Placer(Host("mellanox-cx5", "intel-x710", "mellanox-cx5")).Place(Request("vm", Dedicated(1, 1024), Ha("bond") with { Needs = VfNeeds.MinTxRate }));
        Assert.Equal(["0000:10:00.0", "0000:12:00.0"], two.Placement!.Vfs.Select(v => v.Pf.ToString()).Order());
    }

    [Fact]
    public void The_fleet_explains_a_request_no_driver_can_serve_and_places_it_where_one_can()
    {
        var x710 = new HostBuilder("x710").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2, model: "intel-x710");
        var placer = Placer(x710);
        var refused = placer.Place(Request("vm", Dedicated(1, 1024), Direct("p") with { Needs = VfNeeds.MinTxRate }));
        Assert.Contains("1 host(s): no PF on the physnet whose driver can do what the port asks of its VF", refused.Explain(), StringComparison.Ordinal);
        var mixed = Placer(x710, new HostBuilder("cx5").Cores(4).Pages1G(8).Nic(0, "physnet2", 4, model: "mellanox-cx5"));
        Assert.Equal("cx5", mixed.Place(Request("vm", Dedicated(1, 1024), Direct("p") with { Needs = VfNeeds.MinTxRate })).Placement!.Host);
        // Without needs, spread takes the bigger host.
        Assert.Equal("x710", mixed.Place(Request("vm2", Dedicated(1, 1024), Direct("p"))).Placement!.Host);
    }

    [Fact]
    public void A_port_that_needs_a_rate_leaves_the_only_netdev_vf_to_a_macvtap_port()
    {
        // Two ConnectX-5 PFs with one VF each: 10:00.0's VF has a host netdev, 11:00.0's is on vfio-pci.
        // The rate port comes first and would take 10:00.0 (tie, lower address); the macvtap port then
        // finds no VF with a netdev. The fit exists the other way round, so it is found.
        var placer = Placer(new HostBuilder("h1").Cores(8).Pages1G(8)
            .Nic(0, "physnet2", 1, model: "mellanox-cx5").Nic(0, "physnet2", 1, model: "mellanox-cx5", vfDriver: "vfio-pci"));
        var macvtap = new PortRequest("mv", VnicType.Macvtap, "physnet2", false, NextMac());
        var p = placer.Place(Request("vm", Dedicated(1, 1024), macvtap, Direct("rate") with { Needs = VfNeeds.MinTxRate })).Placement!;
        Assert.Equal(("0000:10:00.0", "0000:11:00.0"), (p.Vfs.Single(v => v.Port == "mv").Pf.ToString(), p.Vfs.Single(v => v.Port == "rate").Pf.ToString()));
    }
}
