using Isola.Domain.Topology;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

/// <summary>
/// What a host offers comes from its inventory's totals, not from what was free when it was
/// discovered; and a host whose stored placements do not fit its inventory is set aside alone.
/// </summary>
public class HostCapacityTests
{
    /// <summary>The inventory an agent registers while its guests run: no hugepage free, little memory free.</summary>
    private static HostTopology WhileGuestsRun(HostTopology host) => host with
    {
        Cells = host.Cells.Select(c => c with { MemFreeKiB = 1024, Hugepages = c.Hugepages.Select(p => p with { Free = 0 }).ToList() }).ToList(),
    };

    [Fact]
    public void Hugepages_and_memory_are_the_pools_totals_not_what_was_free_at_discovery()
    {
        var built = new HostBuilder("h1").Cores(8).Pages1G(4).MemoryMiB(32768).Build();
        var host = HostState.Create(0, "h1", WhileGuestsRun(built), SchedulingOptions.Default);
        var cell = host.Cells.Single();
        Assert.Equal(4, cell.FreePages(HugepagePool.Size1G));
        // memTotal less the 4 GiB of hugepages less the host's 512 MiB.
        Assert.Equal(32768 - 4096 - 512, cell.SmallFreeMiB);

        var fleet = new FleetState();
        fleet.AddHost(WhileGuestsRun(built));
        var placer = new Placer(fleet);
        for (var i = 0; i < 4; i++)
            Assert.NotNull(placer.Place(Request($"vm{i}", Dedicated(1, 1024))).Placement);
        Assert.Null(placer.Place(Request("vm4", Dedicated(1, 1024))).Placement);
        Assert.NotNull(placer.Place(Request("small", Dedicated(1, 8192, pageSize: "small"))).Placement);
    }

    [Fact]
    public void A_stored_placement_that_does_not_fit_sets_its_host_aside_and_the_fleet_goes_on()
    {
        var fleet = new FleetState();
        var big = new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4).Build();
        fleet.AddHost(big);
        fleet.AddHost(new HostBuilder("h2").Cores(8).Pages1G(8).Nic(0, "physnet2", 4).Build());
        var placer = new Placer(fleet);
        fleet.SetDisabled("h2", true);
        var held = placer.Place(Request("vm1", Dedicated(2, 2048), Direct("p"))).Placement!;
        Assert.Equal("h1", held.Host);
        fleet.SetDisabled("h2", false);

        // The store says h1 has no VFs now, and vm1 holds one there: h1 is set aside, with why.
        var shrunk = big with { Devices = big.Devices.Select(d => d with { NumVfs = 0, Vfs = [] }).ToList() };
        var host = fleet.ResetHost("h1", [held], shrunk);
        Assert.Contains($"VF {held.Vfs[0].Vf}", host.Unusable, StringComparison.Ordinal);
        Assert.False(fleet.TryClaim(held with { HostGeneration = host.Generation }, out var conflict));
        Assert.Contains("cannot be used", conflict, StringComparison.Ordinal);
        var result = placer.Place(Request("vm2", Dedicated(2, 2048)));
        Assert.Equal("h2", result.Placement!.Host);
        fleet.SetDisabled("h2", true);
        var refused = placer.Place(Request("vm3", Dedicated(2, 2048)));
        Assert.Null(refused.Placement);
        Assert.Contains(refused.Rejections, r => r.Code == RejectionCode.HostUnusable);
        // Releasing on it changes nothing (it holds nothing here).
        fleet.Release(held);

        // The store's word fits again (the server is gone): h1 takes servers.
        Assert.Null(fleet.ResetHost("h1", [], shrunk).Unusable);
        Assert.Equal("h1", placer.Place(Request("vm4", Dedicated(2, 2048))).Placement!.Host);
    }

    [Fact]
    public void What_held_placements_hold_that_an_inventory_lacks_is_named_with_its_server()
    {
        var fleet = new FleetState();
        var built = new HostBuilder("h1").Cores(8).Pages1G(4).Nic(0, "physnet2", 4).Build();
        fleet.AddHost(built);
        var placer = new Placer(fleet);
        var held = placer.Place(Request("vm1", Dedicated(2, 2048), Direct("p"))).Placement!;
        var pinned = held.Cells![0].Pins.Select(p => p.Pcpu).ToHashSet();
        Assert.Empty(HeldResources.Lacking(WhileGuestsRun(built), [("s1", held)], SchedulingOptions.Default));

        var smaller = built with
        {
            Cpus = built.Cpus.Select(c => pinned.Contains(c.Id) ? c with { Online = false } : c).ToList(),
            Cells = built.Cells.Select(c => c with { Hugepages = [c.Hugepages[0] with { Total = 1, Free = 0 }] }).ToList(),
            Devices = built.Devices.Select(d => d with { NumVfs = 0, Vfs = [] }).ToList(),
        };
        var lacking = HeldResources.Lacking(smaller, [("s1", held)], SchedulingOptions.Default);
        Assert.Equal(["hugepages", "pcpu", "vf"], lacking.Select(c => c.Kind).Order());
        Assert.All(lacking, c => Assert.Equal(["s1"], c.Servers));
        Assert.All(lacking, c => Assert.Contains("server vm1 (s1)", c.Message, StringComparison.Ordinal));
        Assert.Equal(held.Vfs[0].Vf.ToString(), lacking.Single(c => c.Kind == "vf").Item);
        Assert.Equal("host.cells[0].hugepages", lacking.Single(c => c.Kind == "hugepages").Field);
    }
}
