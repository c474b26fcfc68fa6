using Isola.Domain.Topology;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

/// <summary>
/// An HA bond's legs on two adapters (two ports of one card share its failure): preferred, taken
/// as one card's two ports only when no such pair fits, or demanded. Each <c>Nic(...)</c> of
/// <see cref="HostBuilder"/> is one adapter on its own bus (0x10, 0x11, ...), its ports functions 0, 1.
/// </summary>
public class HaAdapterTests
{
    private static (FleetState Fleet, Placer Placer) Fleet(HostBuilder host) => Fleet(host.Build());

    private static (FleetState Fleet, Placer Placer) Fleet(HostTopology topology)
    {
        var fleet = new FleetState();
        fleet.AddHost(topology);
        return (fleet, new Placer(fleet));
    }

    /// <summary>Hosts by what they have: one card's ports are functions of one device.</summary>
    private static HostBuilder Host(string cards) => cards switch
    {
        "dual+single" => new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2).Nic(0, "physnet2", 1),
        "dual(4)+single(2)+single(3)" => new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2).Nic(0, "physnet2", 2).Nic(0, "physnet2", 3),
        "dual" => new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2),
        _ => throw new ArgumentException(cards),
    };

    [Theory]
    // cards, distinct demanded, the legs' PFs (or null), the refusal (or null)
    [InlineData("dual+single", false, "0000:10:00.0 0000:11:00.0", null)]
    // VF balance inside the preference: the fullest pool, then the fullest on another card.
    [InlineData("dual(4)+single(2)+single(3)", false, "0000:10:00.0 0000:12:00.0", null)]
    [InlineData("dual", false, "0000:10:00.0 0000:10:00.1", null)]
    [InlineData("dual", true, null, "h1: the PFs on physnet2 it may use are all ports of one adapter (0000:10:00) (HA port bond demands distinct adapters)")]
    [InlineData("dual+single", true, "0000:10:00.0 0000:11:00.0", null)]
    public void Legs_go_to_two_adapters_when_they_can(string cards, bool demand, string? legs, string? refusal)
    {
        var (_, placer) = Fleet(Host(cards));
        var result = placer.Place(Request("vm", Dedicated(2, 1024), Ha("bond") with { HaDistinctAdapters = demand }));
        if (refusal is not null)
        {
            Assert.False(result.Succeeded);
            var rejection = Assert.Single(result.Rejections);
            Assert.Equal((RejectionCode.HaDistinctAdapters, refusal), (rejection.Code, rejection.Example));
            return;
        }
        Assert.True(result.Succeeded, result.Explain());
        var p = result.Placement!;
        Assert.Equal(legs, string.Join(' ', p.Vfs.Select(v => v.Pf.ToString()).Order()));
        Assert.Equal(p.Vfs[0].Pf.SameAdapterAs(p.Vfs[1].Pf) ? HaLegs.SameAdapter : HaLegs.DistinctAdapters, p.HaLegsOf("bond"));
    }

    [Fact]
    public void Required_affinity_moves_the_guest_to_the_cell_whose_cards_keep_the_legs_apart()
    {
        // Cell 0 has one dual-port card, cell 1 two single-port cards: the preferred cell order would
        // take cell 0 (more VFs there); the bond survives a card's failure only on cell 1.
        var (_, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(8).Pages1G(8)
            .Nic(0, "physnet2", 8, ports: 2).Nic(1, "physnet2", 2).Nic(1, "physnet2", 2));
        var p = placer.Place(Request("vm", Dedicated(2, 1024).With(ExtraSpecs.PciNumaAffinityPolicyKey, "required"), Ha("bond"))).Placement!;
        Assert.Equal((1, HaLegs.DistinctAdapters), (p.Cells![0].HostCell, p.HaLegsOf("bond")));
    }

    [Fact]
    public void When_not_every_bond_fits_on_two_cards_the_first_ones_still_do()
    {
        // Card A: two ports with two VFs each; card B: one VF. Two bonds cannot both use card B, so the
        // first gets A+B and the second A's two ports (not both on A with B left idle).
        var (_, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 2, ports: 2).Nic(0, "physnet2", 1));
        var p = placer.Place(Request("vm", Dedicated(1, 1024), Ha("a"), Ha("b"))).Placement!;
        Assert.Equal([HaLegs.DistinctAdapters, HaLegs.SameAdapter], new[] { p.HaLegsOf("a"), p.HaLegsOf("b") }.Order());
    }

    [Fact]
    public void Where_required_affinity_keeps_the_guest_from_the_other_cards_cell_the_legs_share_a_card()
    {
        // The same host, cell 1's CPUs offline: the guest and its VFs stay on cell 0 and its one card.
        var topology = new HostBuilder("h1").Sockets(2).Cores(8).Pages1G(8).Nic(0, "physnet2", 8, ports: 2).Nic(1, "physnet2", 2).Nic(1, "physnet2", 2).Build();
        topology = topology with { Cpus = topology.Cpus.Select(c => c.Cell == 1 ? c with { Online = false } : c).ToList() };
        var (_, placer) = Fleet(topology);
        var p = placer.Place(Request("vm", Dedicated(2, 1024).With(ExtraSpecs.PciNumaAffinityPolicyKey, "required"), Ha("bond"))).Placement!;
        Assert.Equal((0, HaLegs.SameAdapter), (p.Cells![0].HostCell, p.HaLegsOf("bond")));
    }

    [Fact]
    public void A_demanding_bond_is_refused_when_only_one_card_has_free_vfs_and_a_preferring_one_falls_back()
    {
        // Card B's one VF is in use by something Isola did not place (its MAC is set): only card A has free VFs.
        var topology = new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2).Nic(0, "physnet2", 1).Build();
        var b = topology.Devices.Single(d => d.Address.Bus == 0x11);
        var used = b with { Vfs = [b.Vfs[0] with { State = b.Vfs[0].State! with { Mac = "fa:16:3e:99:99:99" } }] };
        var (_, placer) = Fleet(topology with { Devices = topology.Devices.Select(d => d == b ? used : d).ToList() });
        var refused = placer.Place(Request("vm", Dedicated(1, 1024), Ha("bond") with { HaDistinctAdapters = true }));
        Assert.Equal((RejectionCode.HaDistinctAdapters, "h1: the free VFs on physnet2 it may use are all on one adapter (HA port bond demands distinct adapters)"),
            (Assert.Single(refused.Rejections).Code, refused.Rejections[0].Example));
        Assert.Equal(HaLegs.SameAdapter, placer.Place(Request("vm", Dedicated(1, 1024), Ha("bond"))).Placement!.HaLegsOf("bond"));
    }

    [Fact]
    public void Many_bonds_that_cannot_all_fit_are_turned_down_within_the_search_budget()
    {
        // One PF with 60 free VFs and nine with one each: 69 VFs for ten bonds (20 legs), yet every
        // bond needs a leg off the big PF, so at most nine fit. Trying every way of pairing them would
        // take longer than anyone waits; the walk stops at the request's budget and names the first dead end.
        var host = new HostBuilder("h1").Cores(16).Pages1G(8).Nic(0, "physnet2", 60);
        for (var i = 0; i < 9; i++)
            host.Nic(0, "physnet2", 1);
        var (fleet, placer) = Fleet(host);
        var bonds = Enumerable.Range(0, 10).Select(i => Ha($"b{i}")).ToArray();
        var result = placer.Place(Request("vm", Dedicated(1, 1024), bonds));
        Assert.Equal(RejectionCode.HaDistinctPfs, Assert.Single(result.Rejections).Code);
        Assert.True(placer.Place(Request("vm", Dedicated(1, 1024), bonds[..9])).Succeeded);
        Assert.Equal(1, fleet.Hosts[0].Generation);
    }

    [Fact]
    public void A_port_without_ha_cannot_demand_distinct_adapters()
    {
        var e = Assert.Throws<RequestValidationException>(() => Request("vm", Dedicated(1), Direct("p") with { HaDistinctAdapters = true }));
        Assert.Equal("ports[0].haDistinctAdapters", Assert.Single(e.Errors).Field);
    }
}
