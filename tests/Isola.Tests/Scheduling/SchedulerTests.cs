using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

public class SchedulerTests
{
    private static (FleetState Fleet, Placer Placer) Fleet(params HostBuilder[] hosts)
    {
        var fleet = new FleetState();
        foreach (var h in hosts)
            fleet.AddHost(h.Build());
        return (fleet, new Placer(fleet));
    }

    private static Placement Place(Placer placer, PlacementRequest request)
    {
        var result = placer.Place(request);
        Assert.True(result.Succeeded, result.Explain());
        return result.Placement!;
    }

    [Fact]
    public void Dedicated_vcpus_are_pinned_on_one_cell_with_its_hugepages_and_a_local_vf()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(8).Nic(1, "physnet2", 4));
        var flavor = Dedicated(2, 2048).With(ExtraSpecs.PciNumaAffinityPolicyKey, "required");
        var p = Place(placer, Request("vm1", flavor, Direct("ext")));
        var cell = Assert.Single(p.Cells!);
        Assert.Equal(1, cell.HostCell);
        var host = fleet.Host("h1")!;
        Assert.All(cell.Pins, pin => Assert.Equal(1, host.Topology.Cpus[pin.Pcpu].Cell));
        Assert.All(cell.Pins, pin => Assert.True(host.DedicatedCpus.Contains(pin.Pcpu)));
        Assert.Equal((1048576L, 2048L), (cell.PageSizeKiB, cell.MemMiB));
        Assert.Equal(6, host.Cells[1].FreePages(1048576));
        Assert.Equal(1, Assert.Single(p.Vfs).HostCell);
    }

    [Fact]
    public void A_host_whose_agent_is_down_is_skipped_and_named_and_taken_again_once_up()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8), new HostBuilder("h2").Cores(8).Pages1G(8));
        fleet.SetAgentDown("h1", true);
        Assert.All(Enumerable.Range(0, 2), i => Assert.Equal("h2", Place(placer, Request($"vm{i}", Dedicated(2, 1024))).Host));
        fleet.SetDisabled("h2", true);
        var refused = placer.Place(Request("vm9", Dedicated(2, 1024)));
        Assert.Equal([RejectionCode.HostDisabled, RejectionCode.AgentDown], refused.Rejections.Select(r => r.Code).Order());
        Assert.Contains("h1: its agent stopped reporting", refused.Explain(), StringComparison.Ordinal);
        fleet.SetAgentDown("h1", false);
        Assert.Equal("h1", Place(placer, Request("vm9", Dedicated(2, 1024))).Host);
    }

    [Fact]
    public void An_ha_port_gets_two_vfs_on_distinct_pfs_with_one_mac()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2));
        var port = Ha("bond");
        var p = Place(placer, Request("vm1", Dedicated(2), port));
        Assert.Equal(2, p.Vfs.Count);
        Assert.NotEqual(p.Vfs[0].Pf, p.Vfs[1].Pf);
        Assert.All(p.Vfs, vf => Assert.Equal(port.Mac, vf.Mac));
    }

    [Fact]
    public void An_ha_port_fails_when_only_one_pf_has_a_free_vf_never_a_silent_single_vf()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4));
        var result = placer.Place(Request("vm1", Dedicated(2), Ha("bond")));
        Assert.False(result.Succeeded);
        Assert.Equal(RejectionCode.HaDistinctPfs, Assert.Single(result.Rejections).Code);
        Assert.Contains("fewer than two PFs with a free VF", result.Explain(), StringComparison.Ordinal);
    }

    [Fact]
    public void Vfs_come_from_the_pool_with_most_free_ties_to_the_lowest_pf_address()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Cores(16).Pages1G(16).Nic(0, "physnet2", 3, ports: 2));
        var first = Place(placer, Request("a", Dedicated(1), Direct("a")));
        Assert.Equal("0000:10:00.0", first.Vfs[0].Pf.ToString());
        var second = Place(placer, Request("b", Dedicated(1), Direct("b")));
        Assert.Equal("0000:10:00.1", second.Vfs[0].Pf.ToString());
        var third = Place(placer, Request("c", Dedicated(1), Direct("c")));
        Assert.Equal("0000:10:00.0", third.Vfs[0].Pf.ToString());
        Assert.Equal(1, third.Vfs[0].VfIndex);
    }

    [Fact]
    public void Isolate_keeps_the_siblings_free_of_everyone()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(4).Threads(2).Pages1G(8));
        var p = Place(placer, Request("vm", Dedicated(2).With(ExtraSpecs.CpuThreadPolicyKey, "isolate")));
        var cell = p.Cells![0];
        Assert.Equal(2, cell.ReservedSiblings.Count);
        var topo = fleet.Host("h1")!.Topology;
        Assert.All(cell.Pins, pin => Assert.Contains(topo.Cpus[pin.Pcpu].Siblings.Single(s => s != pin.Pcpu), cell.ReservedSiblings));
        // 3 pinnable cores of 2 threads: 2 went whole to the isolated guest; 2 threads are left.
        Assert.Equal(2, fleet.Host("h1")!.FreeDedicatedThreads);
    }

    [Fact]
    public void Require_needs_smt_and_prefer_pairs_siblings()
    {
        var (_, noSmt) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8));
        var result = noSmt.Place(Request("vm", Dedicated(2).With(ExtraSpecs.CpuThreadPolicyKey, "require")));
        Assert.Equal(RejectionCode.ThreadPolicy, Assert.Single(result.Rejections).Code);

        var (fleet, smt) = Fleet(new HostBuilder("h2").Cores(4).Threads(2).Pages1G(8));
        var p = Place(smt, Request("vm", Dedicated(2)));
        var pins = p.Cells![0].Pins.Select(x => x.Pcpu).ToList();
        Assert.Contains(pins[1], fleet.Host("h2")!.Topology.Cpus[pins[0]].Siblings);
    }

    [Fact]
    public void Emulator_isolate_takes_one_more_pcpu_of_its_own()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8));
        var p = Place(placer, Request("vm", Dedicated(4).With(ExtraSpecs.EmulatorThreadsPolicyKey, "isolate")));
        var emulator = Assert.Single(p.EmulatorPins);
        Assert.DoesNotContain(emulator, p.Cells![0].Pins.Select(x => x.Pcpu));
        Assert.True(fleet.Host("h1")!.DedicatedCpus.Contains(emulator));
        Assert.Equal(7 - 5, fleet.Host("h1")!.FreeDedicatedThreads);
    }

    [Fact]
    public void A_two_cell_guest_spans_two_host_cells()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(4));
        var p = Place(placer, Request("vm", Dedicated(4, 4096).With(ExtraSpecs.NumaNodesKey, "2")));
        Assert.Equal([0, 1], p.Cells!.Select(c => c.HostCell).Order());
        Assert.All(p.Cells!, c => Assert.Equal(2048, c.MemMiB));
    }

    [Fact]
    public void Finds_the_only_assignment_of_guest_cells_that_fits()
    {
        // Host cell 0 has 3 free pinnable pCPUs, cell 1 has 1. Guest cell 0 wants 1, cell 1 wants 3:
        // the first-come assignment (guest 0 -> host 0) leaves nowhere for guest cell 1.
        var (fleet, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(8));
        Place(placer, Request("filler", Dedicated(2).With(ExtraSpecs.PciNumaAffinityPolicyKey, "legacy")));
        var host = fleet.Host("h1")!;
        Assert.Equal([1, 3], host.Cells.Select(c => c.Cpus.FreeThreads).Order());
        var asym = Dedicated(4, 4096).With(ExtraSpecs.NumaNodesKey, "2").With("hw:numa_cpus.0", "0").With("hw:numa_cpus.1", "1-3")
            .With("hw:numa_mem.0", "1024").With("hw:numa_mem.1", "3072");
        var p = Place(placer, Request("vm", asym));
        Assert.Equal(3, p.Cells!.Single(c => c.GuestCell == 1).Pins.Count);
    }

    [Fact]
    public void Required_vf_affinity_moves_the_guest_to_the_nics_cell()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(8).Nic(1, "physnet2", 2));
        var p = Place(placer, Request("vm", Dedicated(2).With(ExtraSpecs.PciNumaAffinityPolicyKey, "required"), Direct("p")));
        Assert.Equal(1, p.Cells![0].HostCell);
    }

    [Fact]
    public void Required_affinity_fails_with_a_reason_when_the_nics_cell_is_full()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(8).Nic(1, "physnet2", 2));
        var required = Dedicated(3).With(ExtraSpecs.PciNumaAffinityPolicyKey, "required");
        Place(placer, Request("big", required, Direct("p1")));
        var result = placer.Place(Request("vm", required, Direct("p2")));
        Assert.False(result.Succeeded);
        Assert.Equal(RejectionCode.VfNumaAffinity, Assert.Single(result.Rejections).Code);
        // Preferred takes the VF across the socket instead.
        var p = Place(placer, Request("vm", Dedicated(3).With(ExtraSpecs.PciNumaAffinityPolicyKey, "preferred"), Direct("p2")));
        Assert.Equal((0, 1), (p.Cells![0].HostCell, p.Vfs[0].HostCell!.Value));
    }

    [Fact]
    public void Legacy_allows_a_device_of_unknown_cell_and_required_does_not()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(8).Nic(-1, "physnet2", 2));
        Assert.True(placer.Place(Request("a", Dedicated(1), Direct("a"))).Succeeded);
        var result = placer.Place(Request("b", Dedicated(1).With(ExtraSpecs.PciNumaAffinityPolicyKey, "required"), Direct("b")));
        Assert.Equal(RejectionCode.VfNumaAffinity, Assert.Single(result.Rejections).Code);
    }

    [Fact]
    public void Direct_physical_takes_a_whole_pf_and_its_vfs_go_with_it()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 2, ports: 2));
        var vm0 = Place(placer, Request("vm0", Dedicated(1, 1024), Direct("lan")));
        var p = Place(placer, Request("vm", Dedicated(1, 1024), Physical("wan")));
        Assert.Empty(p.Vfs);
        var pf = Assert.Single(p.Pfs);
        Assert.NotEqual(vm0.Vfs[0].Pf, pf.Pf);
        Assert.Equal(1, fleet.Host("h1")!.FreeVfs("physnet2", false));
        // One PF is gone whole, the other has a VF in use: no whole PF is left.
        Assert.Equal(RejectionCode.NoFreePf, Assert.Single(placer.Place(Request("vm2", Dedicated(1, 1024), Physical("wan2"))).Rejections).Code);
        fleet.Release(p);
        Assert.Equal(3, fleet.Host("h1")!.FreeVfs("physnet2", false));
    }

    [Fact]
    public void Anti_affinity_puts_members_on_distinct_hosts_and_says_why_it_stops()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8), new HostBuilder("h2").Cores(8).Pages1G(8));
        fleet.AddGroup("g", GroupPolicy.AntiAffinity);
        var hosts = Enumerable.Range(0, 2).Select(i => Place(placer, Request($"m{i}", Dedicated(1)) with { Group = "g" }).Host).ToList();
        Assert.Equal(["h1", "h2"], hosts.Order());
        var third = placer.Place(Request("m3", Dedicated(1)) with { Group = "g" });
        Assert.Equal(new RejectionCount(RejectionCode.GroupAntiAffinity, 2, "h1: holds 1 member(s) of g"), third.Rejections.Single());
    }

    [Fact]
    public void Affinity_follows_the_first_member()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8), new HostBuilder("h2").Cores(8).Pages1G(8));
        fleet.AddGroup("g", GroupPolicy.Affinity);
        var hosts = Enumerable.Range(0, 4).Select(i => Place(placer, Request($"m{i}", Dedicated(1, 1024)) with { Group = "g" }).Host).Distinct();
        Assert.Single(hosts);
    }

    [Fact]
    public void Spread_and_pack_choose_opposite_hosts()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8), new HostBuilder("h2").Cores(8).Pages1G(8));
        Place(placer, Request("first", Dedicated(2)));
        Assert.Equal("h2", Place(placer, Request("spread", Dedicated(1))).Host);
        // h1 has 5 pinnable pCPUs free, h2 6: pack fills the fuller one.
        Assert.Equal("h1", Place(placer, Request("pack", Dedicated(1)) with { Strategy = Strategy.Pack }).Host);
    }

    [Fact]
    public void Shared_guests_float_and_count_against_the_allocation_ratio()
    {
        // 1 socket, 4 cores, 1 kept for the host: 1 shared pCPU x ratio 4 = 4 shared vCPUs.
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(4));
        var p = Place(placer, Request("a", Shared(3)));
        Assert.Null(p.Cells);
        Assert.Equal(3, p.FloatingVcpus);
        Assert.Equal(2048, p.FloatingMemory.Sum(m => m.MiB));
        var result = placer.Place(Request("b", Shared(2)));
        Assert.Equal(RejectionCode.SharedCpus, Assert.Single(result.Rejections).Code);
        Assert.Equal(1, fleet.Host("h1")!.SharedUnitsFree);
    }

    [Fact]
    public void Missing_hugepages_and_unknown_physnets_are_named()
    {
        var (_, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages2M(512).Nic(0, "physnet2", 2));
        Assert.Equal(RejectionCode.Hugepages, Assert.Single(placer.Place(Request("a", Dedicated(1))).Rejections).Code);
        Assert.Equal(RejectionCode.NoPhysnet, Assert.Single(placer.Place(Request("b", Dedicated(1, 2048, "2MB"), Direct("x", "physnet9"))).Rejections).Code);
        Assert.True(placer.Place(Request("c", Dedicated(1, 1024, "2MB"), Direct("x"))).Succeeded);
    }

    [Fact]
    public void Zones_and_aggregates_limit_the_hosts()
    {
        var fleet = new FleetState();
        fleet.AddHost(new HostBuilder("h1").Cores(8).Pages1G(8).Build(), "az1", ["gold"]);
        fleet.AddHost(new HostBuilder("h2").Cores(8).Pages1G(8).Build(), "az2", ["gold", "sriov"]);
        var placer = new Placer(fleet);
        Assert.Equal("h1", Place(placer, Request("a", Dedicated(1)) with { AvailabilityZone = "az1" }).Host);
        Assert.Equal("h2", Place(placer, Request("b", Dedicated(1)) with { Aggregates = ["sriov"] }).Host);
        var none = placer.Place(Request("c", Dedicated(1)) with { AvailabilityZone = "az3" });
        Assert.Equal(RejectionCode.AvailabilityZone, Assert.Single(none.Rejections).Code);
    }

    [Fact]
    public void A_stale_plan_cannot_be_claimed_and_release_restores_the_host_exactly()
    {
        var (fleet, _) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", 4, ports: 2));
        var scheduler = new Scheduler(fleet);
        var host = fleet.Host("h1")!;
        var before = host.Fingerprint();
        var request = Request("vm", Dedicated(2).With(ExtraSpecs.EmulatorThreadsPolicyKey, "isolate").With(ExtraSpecs.CpuThreadPolicyKey, "isolate"), Ha("bond"), Direct("x"));
        var plan1 = scheduler.Schedule(request).Placement!;
        var plan2 = scheduler.Schedule(request with { Server = "vm2" }).Placement!;
        Assert.True(fleet.TryClaim(plan1, out _));
        Assert.False(fleet.TryClaim(plan2, out var conflict));
        Assert.Contains("changed (generation 1, plan made on 0)", conflict, StringComparison.Ordinal);
        Assert.NotEqual(before, host.Fingerprint());
        fleet.Release(plan1);
        Assert.Equal(before, host.Fingerprint());
    }

    [Fact]
    public void No_valid_host_counts_reasons_per_host()
    {
        var (_, placer) = Fleet(
            new HostBuilder("small1").Cores(2).Pages1G(8),
            new HostBuilder("small2").Cores(2).Pages1G(8),
            new HostBuilder("nonic").Cores(16).Pages1G(8),
            new HostBuilder("nopages").Cores(16).Nic(0, "physnet2", 2));
        var result = placer.Place(Request("vm", Dedicated(8), Direct("p")));
        Assert.False(result.Succeeded);
        Assert.Equal(2, result.HostsSkipped);
        Assert.Equal([(RejectionCode.DedicatedCpus, 2), (RejectionCode.Hugepages, 1), (RejectionCode.NoPhysnet, 1)],
            result.Rejections.Select(r => (r.Code, r.Hosts)).OrderBy(r => r.Code));
    }

    [Fact]
    public void Two_ha_ports_share_the_pools_so_that_both_get_distinct_pfs()
    {
        // Two local PFs with one VF each and a remote PF with three. Preferring the local pools would
        // give the first bond both of them and leave the second bond one PF; the fit exists, so it is found.
        var (_, placer) = Fleet(new HostBuilder("h1").Sockets(2).Cores(4).Pages1G(8).Nic(0, "physnet2", 1, ports: 2).Nic(1, "physnet2", 3));
        var p = Place(placer, Request("vm", Dedicated(1, 1024).With(ExtraSpecs.PciNumaAffinityPolicyKey, "preferred"), Ha("a"), Ha("b")));
        Assert.All(p.Vfs.GroupBy(v => v.Port), bond => Assert.NotEqual(bond.First().Pf, bond.Last().Pf));
        Assert.Equal(4, p.Vfs.Count);
    }

    [Fact]
    public void Require_uses_only_cores_whose_siblings_are_pinnable()
    {
        // 4 cores x 2 threads, host keeps core 0; take cpu 5 (the sibling of 1) offline: core 1 has one pinnable thread.
        var topo = new HostBuilder("h1").Cores(4).Threads(2).Pages1G(8).Build();
        topo = topo with { Cpus = topo.Cpus.Select(c => c.Id == 5 ? c with { Online = false } : c).ToList() };
        var fleet = new FleetState();
        fleet.AddHost(topo);
        var placer = new Placer(fleet);
        var p = Place(placer, Request("a", Dedicated(4, 1024).With(ExtraSpecs.CpuThreadPolicyKey, "require")));
        Assert.DoesNotContain(1, p.Cells![0].Pins.Select(x => x.Pcpu));
        // Two whole SMT cores are gone; core 1's lone thread cannot serve require.
        Assert.Equal(RejectionCode.DedicatedCpus, Assert.Single(placer.Place(Request("b", Dedicated(1, 1024).With(ExtraSpecs.CpuThreadPolicyKey, "require"))).Rejections).Code);
        Assert.True(placer.Place(Request("c", Dedicated(1, 1024))).Succeeded);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Macvtap_and_direct_ports_never_share_a_vf_of_a_mixed_pool(bool macvtapFirst)
    {
        // One PF, two VFs: vf0 has a host netdev (macvtap can use it), vf1 is on vfio-pci (only direct can).
        var topo = new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 2).Build();
        var pf = topo.Devices.Single(d => d.Physnet == "physnet2");
        var mixed = pf with { Vfs = [pf.Vfs[0], pf.Vfs[1] with { Driver = "vfio-pci", NetDev = null, MsiIrqs = [] }] };
        topo = topo with { Devices = topo.Devices.Select(d => d == pf ? mixed : d).ToList() };
        var fleet = new FleetState();
        fleet.AddHost(topo);
        var macvtap = new PortRequest("mv", VnicType.Macvtap, "physnet2", false, NextMac());
        var direct = Direct("dir");
        var p = Place(new Placer(fleet), Request("vm", Dedicated(1, 1024), macvtapFirst ? [macvtap, direct] : [direct, macvtap]));
        Assert.Equal(0, p.Vfs.Single(v => v.Port == "mv").VfIndex);
        Assert.Equal(1, p.Vfs.Single(v => v.Port == "dir").VfIndex);
    }

    [Fact]
    public void Releasing_what_is_not_held_changes_nothing()
    {
        var (fleet, placer) = Fleet(new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 2));
        var p = Place(placer, Request("vm", Dedicated(2, 1024), Direct("x")));
        fleet.Release(p);
        var before = fleet.Host("h1")!.Fingerprint();
        Assert.Throws<InvalidOperationException>(() => fleet.Release(p));
        Assert.Equal(before, fleet.Host("h1")!.Fingerprint());
    }
}
