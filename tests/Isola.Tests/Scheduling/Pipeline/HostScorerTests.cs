using Isola.Scheduling.Fitting;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling.Pipeline;

/// <summary>Each scorer alone: a host, its fit and a request in, a score on 0..100 out.</summary>
public class HostScorerTests
{
    private static double Score(IHostScorer scorer, FleetState fleet, PlacementRequest request)
    {
        var host = fleet.Host("h1")!;
        var ctx = new RequestContext(request);
        var fit = NumaFitter.Fit(host, ctx).Fit ?? throw new InvalidOperationException("no fit");
        return scorer.Score(host, fit, ctx);
    }

    private static FleetState Fleet(HostBuilder host)
    {
        var fleet = new FleetState();
        fleet.AddHost(host.Build());
        return fleet;
    }

    [Theory]
    [InlineData(Strategy.Spread, 100.0)]
    [InlineData(Strategy.Pack, 0.0)]
    public void Strategy_on_an_empty_host(Strategy strategy, double expected)
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4));
        Assert.Equal(expected, Score(new StrategyScorer(), fleet, Request("vm", Dedicated(1, 1024)) with { Strategy = strategy }));
    }

    [Theory]
    [InlineData(4, 100.0)]
    [InlineData(2, 100.0)]
    public void Vf_balance_on_an_untouched_pool(int vfs, double expected)
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4).Nic(0, "physnet2", vfs));
        Assert.Equal(expected, Score(new VfBalanceScorer(), fleet, Request("vm", Dedicated(1, 1024), Direct("p"))));
    }

    [Fact]
    public void Vf_balance_without_vfs_is_full()
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4));
        Assert.Equal(100.0, Score(new VfBalanceScorer(), fleet, Request("vm", Dedicated(1, 1024))));
    }

    [Theory]
    [InlineData(2, 100.0)]     // one whole core of two threads: nothing broken
    [InlineData(1, 0.0)]       // one thread of a free core: that core is broken
    public void Numa_fragmentation(int vcpus, double expected)
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Threads(2).Pages1G(4));
        Assert.Equal(expected, Score(new NumaFragmentationScorer(), fleet, Request("vm", Dedicated(vcpus, 1024))));
    }

    [Theory]
    [InlineData(GroupPolicy.SoftAffinity, 0, 100.0)]        // no member anywhere yet
    [InlineData(GroupPolicy.SoftAffinity, 1, 100.0)]        // a member here
    [InlineData(GroupPolicy.SoftAntiAffinity, 0, 100.0)]
    [InlineData(GroupPolicy.SoftAntiAffinity, 1, 75.0)]
    [InlineData(GroupPolicy.SoftAntiAffinity, 5, 0.0)]
    [InlineData(GroupPolicy.AntiAffinity, 1, 100.0)]        // hard policies are the filter's
    public void Soft_group(GroupPolicy policy, int membersHere, double expected)
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4));
        var group = fleet.AddGroup("g", policy);
        if (membersHere > 0)
            group.MembersByHost[fleet.Host("h1")!.Index] = membersHere;
        Assert.Equal(expected, Score(new SoftGroupScorer(fleet), fleet, Request("vm", Dedicated(1, 1024)) with { Group = "g" }));
    }

    [Fact]
    public void Soft_affinity_scores_zero_away_from_the_members()
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4));
        fleet.AddGroup("g", GroupPolicy.SoftAffinity).MembersByHost[fleet.Host("h1")!.Index + 1] = 1;
        Assert.Equal(0.0, Score(new SoftGroupScorer(fleet), fleet, Request("vm", Dedicated(1, 1024)) with { Group = "g" }));
    }

    [Theory]
    [InlineData(new[] { 0, 0 }, 100.0)]     // both VFs on the guest's cell
    [InlineData(new[] { 0, 1 }, 50.0)]      // one of two
    [InlineData(new[] { 1, 1 }, 0.0)]       // none (policy preferred lets it through)
    public void Pci_locality(int[] vfCells, double expected)
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4).Nic(0, "physnet2", 2));
        var host = fleet.Host("h1")!;
        var ctx = new RequestContext(Request("vm", Dedicated(1, 1024), Direct("a"), Direct("b")));
        var fit = NumaFitter.Fit(host, ctx).Fit!;
        var guestCell = Assert.Single(fit.Placement.Cells!).HostCell;
        var vfs = fit.Placement.Vfs.Select((vf, i) => vf with { HostCell = guestCell + vfCells[i] }).ToList();
        Assert.Equal(expected, new PciLocalityScorer().Score(host, fit with { Placement = fit.Placement with { Vfs = vfs } }, ctx));
    }

    [Fact]
    public void Pci_locality_without_vfs_is_full()
    {
        var fleet = Fleet(new HostBuilder("h1").Cores(4).Pages1G(4));
        Assert.Equal(100.0, Score(new PciLocalityScorer(), fleet, Request("vm", Dedicated(1, 1024))));
    }
}
