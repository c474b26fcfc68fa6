using Isola.Domain.Pci;
using Isola.Rendering;
using Isola.Scheduling.Requests;

namespace Isola.Tests.Rendering;

/// <summary>The one rule set the API (no prefix) and the host planner (<c>ports[i].</c>) check a port against.</summary>
public class PortRulesTests
{
    private static readonly PortSpec Good = new("p", VnicType.Direct, "fa:16:3e:00:00:01", Physnet: "physnet2", Vlan: 100);

    public static TheoryData<string, string> Broken => new()
    {
        // what is wrong (a with-expression in words), the field
        { "vlan 4095", "vlan" },
        { "vlan -1", "vlan" },
        { "vlanQos 8", "vlanQos" },
        { "vlanQos -1", "vlanQos" },
        { "vlanProtocol 802.1X", "vlanProtocol" },
        { "maxTxRateMbps -1", "maxTxRateMbps" },
        { "minTxRateMbps -1", "minTxRateMbps" },
        { "minTxRateMbps 600 over maxTxRateMbps 500", "minTxRateMbps" },
        { "ha without spoof check", "spoofCheck" },
        { "haDistinctAdapters without ha", "haDistinctAdapters" },
    };

    private static PortSpec Break(string what) => what switch
    {
        "vlan 4095" => Good with { Vlan = 4095 },
        "vlan -1" => Good with { Vlan = -1 },
        "vlanQos 8" => Good with { VlanQos = 8 },
        "vlanQos -1" => Good with { VlanQos = -1 },
        "vlanProtocol 802.1X" => Good with { VlanProtocol = "802.1X" },
        "maxTxRateMbps -1" => Good with { MaxTxRateMbps = -1 },
        "minTxRateMbps -1" => Good with { MinTxRateMbps = -1 },
        "minTxRateMbps 600 over maxTxRateMbps 500" => Good with { MinTxRateMbps = 600, MaxTxRateMbps = 500 },
        "ha without spoof check" => Good with { Ha = true, SpoofCheck = false },
        "haDistinctAdapters without ha" => Good with { HaDistinctAdapters = true },
        _ => throw new ArgumentException(what),
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_rule_names_the_api_field_under_the_prefix(string what, string field)
    {
        var port = Break(what);
        Assert.Equal(field, Assert.Single(PortRules.Check(port)).Field);
        Assert.Equal($"ports[2].{field}", Assert.Single(PortRules.Check(port, "ports[2].")).Field);
    }

    [Fact]
    public void A_good_port_breaks_no_rule_and_every_error_is_reported_together()
    {
        Assert.Empty(PortRules.Check(Good));
        Assert.Empty(PortRules.Check(Good with { Ha = true, HaDistinctAdapters = true, MinTxRateMbps = 500, VlanProtocol = "802.1ad", Vlan = 0 }));
        // A guarantee without a ceiling is fine: 0 is "no maximum".
        Assert.Empty(PortRules.Check(Good with { MinTxRateMbps = 500 }));
        var all = PortRules.Check(Good with { Vlan = 5000, VlanQos = 9, Ha = true, SpoofCheck = false });
        Assert.Equal(["vlan", "vlanQos", "spoofCheck"], all.Select(e => e.Field));
    }

    [Theory]
    [InlineData(VnicType.Direct, 500, "802.1ad", VfLinkState.Enable, VfNeeds.MinTxRate | VfNeeds.VlanProtocol8021ad | VfNeeds.LinkState)]
    [InlineData(VnicType.Macvtap, 500, "802.1Q", VfLinkState.Auto, VfNeeds.MinTxRate)]
    [InlineData(VnicType.Direct, 0, "802.1Q", VfLinkState.Disable, VfNeeds.LinkState)]
    [InlineData(VnicType.Direct, 0, "802.1Q", VfLinkState.Auto, VfNeeds.None)]
    // No VF of its own to program: a whole PF, a virtio port.
    [InlineData(VnicType.DirectPhysical, 500, "802.1ad", VfLinkState.Enable, VfNeeds.None)]
    [InlineData(VnicType.Normal, 500, "802.1Q", VfLinkState.Auto, VfNeeds.None)]
    public void What_a_port_needs_of_its_pf_driver(VnicType vnic, int minRate, string protocol, VfLinkState state, VfNeeds needs)
    {
        var port = Good with { VnicType = vnic, MinTxRateMbps = minRate, VlanProtocol = protocol, LinkState = state };
        Assert.Equal(needs, PortRules.NeedsOf(port));
        Assert.Equal(needs, port.ToRequest().Needs);
    }

    [Fact]
    public void To_request_carries_what_placement_needs()
    {
        var port = Good with { Ha = true, HaDistinctAdapters = true, MinTxRateMbps = 100 };
        Assert.Equal(new PortRequest("p", VnicType.Direct, "physnet2", true, "fa:16:3e:00:00:01", VfNeeds.MinTxRate, HaDistinctAdapters: true), port.ToRequest());
    }

    [Theory]
    [InlineData("i40e", new[] { "vlanProtocol", "minTxRateMbps" })]
    [InlineData("igb", new[] { "vlanProtocol", "linkState", "minTxRateMbps" })]
    [InlineData("mlx5_core", new string[0])]
    public void The_driver_rule_names_what_the_driver_cannot(string driver, string[] fields)
    {
        var port = Good with { MinTxRateMbps = 100, VlanProtocol = "802.1ad", LinkState = VfLinkState.Enable };
        Assert.Equal(fields.Select(f => "ports[0]." + f), PortRules.CheckDriver(port, VfDriverCapabilities.For(driver), "ports[0].").Select(e => e.Field));
    }

    [Fact]
    public void The_planner_checks_every_port_even_one_without_a_vf()
    {
        // The virtio port of the case gets no VF, yet a rule it breaks is refused with its field.
        var input = RenderCases.Input("ha-active-backup");
        var bad = input with { Ports = [input.Ports[0], input.Ports[1] with { VlanQos = 8 }] };
        Assert.Equal("ports[1].vlanQos", Assert.Single(Assert.Throws<RenderException>(() => HostPlanner.Render(bad)).Errors).Field);
    }
}
