using Isola.Rendering;
using Isola.Scheduling.Requests;

namespace Isola.Tests.Rendering;

/// <summary>The one rule set the API (no prefix) and the host planner (<c>flavor.</c>) check a flavor against.</summary>
public class FlavorRulesTests
{
    private static readonly Flavor Good = Flavor.Of("f", 2, 2048, 10);

    public static TheoryData<string, string, string> Broken => new()
    {
        // key=value pairs (';' between), the field
        { "quota:disk_read_bytes_sec=x", "extraSpecs.quota:disk_read_bytes_sec", "positive whole number" },
        { "quota:disk_write_iops_sec=0", "extraSpecs.quota:disk_write_iops_sec", "positive whole number" },
        { "quota:disk_total_bytes_sec=-5", "extraSpecs.quota:disk_total_bytes_sec", "positive whole number" },
        { "quota:disk_total_bytes_sec=100;quota:disk_read_bytes_sec=50", "extraSpecs.quota:disk_total_bytes_sec", "a total or a split" },
        { "quota:disk_total_iops_sec=100;quota:disk_write_iops_sec=50", "extraSpecs.quota:disk_total_iops_sec", "a total or a split" },
        { "quota:vif_inbound_peak=5", "extraSpecs.quota:vif_inbound_average", "needed" },
        { "quota:vif_outbound_burst=5", "extraSpecs.quota:vif_outbound_average", "needed" },
        { "quota:vif_outbound_average=99999999999999999999", "extraSpecs.quota:vif_outbound_average", "positive whole number" },
        { "hw:cpu_thread_policy=isolate", "extraSpecs.hw:cpu_thread_policy", "dedicated" },
        { "hw:no_such_spec=1", "extraSpecs.hw:no_such_spec", "not an extra spec" },
    };

    private static Flavor Break(string specs) =>
        specs.Split(';').Select(s => s.Split('=')).Aggregate(Good, (f, kv) => f.With(kv[0], kv[1]));

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_rule_names_the_api_field_under_the_prefix(string specs, string field, string message)
    {
        var flavor = Break(specs);
        var error = Assert.Single(FlavorRules.Check(flavor));
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal($"flavor.{field}", Assert.Single(FlavorRules.Check(flavor, "flavor.")).Field);
    }

    [Fact]
    public void Sizes_keep_their_own_names_and_a_good_flavor_breaks_nothing()
    {
        Assert.Equal(["vcpus", "ram"], FlavorRules.Check(Flavor.Of("f", 0, 0, 1)).Select(e => e.Field));
        Assert.Empty(FlavorRules.Check(Break("quota:disk_read_bytes_sec=1000;quota:disk_write_bytes_sec=1000;quota:vif_inbound_average=100;quota:vif_inbound_peak=200")));
    }

    [Theory]
    [InlineData("quota:vif_inbound_peak", "5", "flavor.extraSpecs.quota:vif_inbound_average")]
    [InlineData("hw:mem_page_size", "huge", "flavor.extraSpecs.hw:mem_page_size")]
    public void The_planner_refuses_a_flavor_the_rules_refuse_naming_its_field(string key, string value, string field)
    {
        // A stored flavor older than the rules: a render failure with the field, not some other exception.
        var input = RenderCases.Input("virtio-shared");
        var bad = input with { Flavor = input.Flavor.With(key, value) };
        Assert.Equal(field, Assert.Single(Assert.Throws<RenderException>(() => HostPlanner.Render(bad)).Errors).Field);
    }
}
