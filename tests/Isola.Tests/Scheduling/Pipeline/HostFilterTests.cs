using Isola.Scheduling.Fitting;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Scheduling.Pipeline;

/// <summary>Each filter alone: a host and a request in, a verdict (null: passes) out.</summary>
public class HostFilterTests
{
    private static (FleetState Fleet, HostState Host) One(Action<FleetState>? setup = null, string? zone = null, string[]? aggregates = null)
    {
        var fleet = new FleetState();
        fleet.AddHost(new HostBuilder("h1").Cores(4).Pages1G(4).Nic(0, "physnet2", 2).Build(), zone, aggregates);
        setup?.Invoke(fleet);
        return (fleet, fleet.Host("h1")!);
    }

    private static RejectionCode? Verdict(IHostFilter filter, HostState host, PlacementRequest request) =>
        filter.Check(host, new RequestContext(request))?.Code;

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, RejectionCode.HostDisabled)]
    public void Enabled(bool disabled, RejectionCode? expected)
    {
        var (_, host) = One(f => f.SetDisabled("h1", disabled));
        Assert.Equal(expected, Verdict(new EnabledFilter(), host, Request("vm", Dedicated(1))));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("inventory row does not read", RejectionCode.HostUnusable)]
    public void Usable(string? unusable, RejectionCode? expected)
    {
        var (_, host) = One(f => f.ResetHost("h1", [], unusable: unusable));
        Assert.Equal(expected, Verdict(new UsableFilter(), host, Request("vm", Dedicated(1))));
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, RejectionCode.AgentDown)]
    public void AgentUp(bool down, RejectionCode? expected)
    {
        var (_, host) = One(f => f.SetAgentDown("h1", down));
        Assert.Equal(expected, Verdict(new AgentUpFilter(), host, Request("vm", Dedicated(1))));
    }

    [Theory]
    [InlineData("az1", null, null)]
    [InlineData("az1", "az1", null)]
    [InlineData("az1", "az2", RejectionCode.AvailabilityZone)]
    [InlineData(null, "az1", RejectionCode.AvailabilityZone)]
    public void Zone(string? hostZone, string? asked, RejectionCode? expected)
    {
        var (_, host) = One(zone: hostZone);
        Assert.Equal(expected, Verdict(new ZoneFilter(), host, Request("vm", Dedicated(1)) with { AvailabilityZone = asked }));
    }

    [Theory]
    [InlineData(new string[0], null)]
    [InlineData(new[] { "gold" }, null)]
    [InlineData(new[] { "gold", "sriov" }, null)]
    [InlineData(new[] { "gold", "silver" }, RejectionCode.Aggregate)]
    public void Aggregate(string[] asked, RejectionCode? expected)
    {
        var (_, host) = One(aggregates: ["gold", "sriov"]);
        Assert.Equal(expected, Verdict(new AggregateFilter(), host, Request("vm", Dedicated(1)) with { Aggregates = asked }));
    }

    [Theory]
    [InlineData(GroupPolicy.AntiAffinity, false, null)]
    [InlineData(GroupPolicy.AntiAffinity, true, RejectionCode.GroupAntiAffinity)]
    [InlineData(GroupPolicy.Affinity, false, null)]
    [InlineData(GroupPolicy.Affinity, true, null)]
    [InlineData(GroupPolicy.SoftAntiAffinity, true, null)]
    public void Group(GroupPolicy policy, bool memberOnThisHost, RejectionCode? expected)
    {
        var (fleet, host) = One();
        var group = fleet.AddGroup("g", policy);
        if (memberOnThisHost)
            group.MembersByHost[host.Index] = 1;
        Assert.Equal(expected, Verdict(new GroupFilter(fleet), host, Request("vm", Dedicated(1)) with { Group = "g" }));
    }

    [Fact]
    public void Group_affinity_turns_a_host_down_when_the_members_are_elsewhere()
    {
        var (fleet, host) = One();
        fleet.AddGroup("g", GroupPolicy.Affinity).MembersByHost[host.Index + 1] = 1;
        Assert.Equal(RejectionCode.GroupAffinity, Verdict(new GroupFilter(fleet), host, Request("vm", Dedicated(1)) with { Group = "g" }));
    }

    public static TheoryData<string, PlacementRequest, RejectionCode?> TotalsCases => new()
    {
        { "fits", Request("vm", Dedicated(2, 1024), Direct("p")), null },
        { "too many pCPUs", Request("vm", Dedicated(64, 1024)), RejectionCode.DedicatedCpus },
        { "too many shared vCPUs", Request("vm", Shared(1024)), RejectionCode.SharedCpus },
        { "too much small-page memory", Request("vm", Shared(1, 1024L * 1024)), RejectionCode.Memory },
        { "no PF on the physnet", Request("vm", Dedicated(1, 1024), Direct("p", "physnet9")), RejectionCode.NoPhysnet },
        { "too few VFs", Request("vm", Dedicated(1, 1024), Direct("a"), Direct("b"), Direct("c")), RejectionCode.NoFreeVf },
    };

    [Theory]
    [MemberData(nameof(TotalsCases))]
    public void Totals(string why, PlacementRequest request, RejectionCode? expected)
    {
        var (_, host) = One();
        Assert.True(expected == Verdict(new TotalsFilter(), host, request), why);
    }
}
