using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Rendering.Flows;
using Isola.Tests.Rendering.Flows;

namespace Isola.Tests.Agent.Ovs;

/// <summary>The pure Open vSwitch decisions: which ports to add, replace and remove, which tables and meters to write.</summary>
public sealed class OvsReconcilerTests
{
    private static OvsActual Actual(Dictionary<string, string[]> bridges, params OvsInterface[] interfaces) =>
        new(true, bridges.Keys.ToHashSet(), bridges.ToDictionary(b => b.Key, b => (IReadOnlyList<string>)b.Value),
            interfaces.ToDictionary(i => i.Name), []);

    private static OvsInterface Tunnel(string name, string type, string remote, string local = FlowScenarios.LocalIp) =>
        new(name, 9, type, new Dictionary<string, string> { ["remote_ip"] = remote, ["local_ip"] = local, ["key"] = "flow" });

    [Fact]
    public void A_host_without_virtio_ports_and_without_a_bridge_needs_nothing()
    {
        Assert.Empty(OvsReconciler.PortSteps(HostNetworkState.Empty, FlowScenarios.Layout, Actual([])));
        var steps = OvsReconciler.PortSteps(FlowScenarios.State(FlowScenarios.A1), FlowScenarios.Layout, Actual([]));
        Assert.Equal(new OvsStep.EnsureBridge("br-int"), steps[0]);
        Assert.Contains(steps, s => s is OvsStep.AddTunnel { Tunnel.Name: "vxlan-0a000002" });
    }

    [Fact]
    public void Tunnels_nothing_needs_go_and_a_tunnel_whose_options_changed_is_replaced_and_said()
    {
        var actual = Actual(new() { ["br-int"] = ["tapa1", "vxlan-0a000002", "gre-0a000009", "vxlan-mine"] },
            Tunnel("vxlan-0a000002", "vxlan", "10.0.0.2", local: "10.9.9.9"), Tunnel("gre-0a000009", "gre", "10.0.0.9"), Tunnel("vxlan-mine", "vxlan", "10.0.0.8"));
        var steps = OvsReconciler.PortSteps(FlowScenarios.State(FlowScenarios.A1), FlowScenarios.Layout, actual);
        Assert.Equal(
        [
            new OvsStep.DeletePort("br-int", "vxlan-0a000002"),
            // A tunnel Isola did not name (vxlan-mine) is not Isola's to remove.
            new OvsStep.DeletePort("br-int", "gre-0a000009"),
        ], steps.OfType<OvsStep.DeletePort>());
        var replaced = Assert.Single(steps.OfType<OvsStep.AddTunnel>());
        Assert.Contains("from 10.9.9.9", replaced.Replacing, StringComparison.Ordinal);
    }

    [Fact]
    public void A_patch_nothing_needs_goes_from_both_bridges()
    {
        var actual = Actual(new() { ["br-int"] = ["tapa1", "int-br-physnet2"], ["br-physnet2"] = ["eth1", "phy-br-physnet2"] },
            new OvsInterface("int-br-physnet2", 5, "patch", new Dictionary<string, string> { ["peer"] = "phy-br-physnet2" }),
            new OvsInterface("phy-br-physnet2", 1, "patch", new Dictionary<string, string> { ["peer"] = "int-br-physnet2" }),
            Tunnel("vxlan-0a000002", "vxlan", "10.0.0.2"));
        var steps = OvsReconciler.PortSteps(FlowScenarios.State(FlowScenarios.A1), FlowScenarios.Layout, actual);
        Assert.Contains(new OvsStep.DeletePort("br-int", "int-br-physnet2"), steps);
        Assert.Contains(new OvsStep.DeletePort("br-physnet2", "phy-br-physnet2"), steps);
    }

    [Fact]
    public void Tables_in_sync_are_left_alone_meters_set_before_and_stale_ones_deleted_after_and_a_changed_table_with_our_cookie_is_drift()
    {
        var state = FlowScenarios.State();
        var plan = FlowPipeline.Render(state, FlowScenarios.Layout, FlowScenarios.Ofports(state));
        var actual = Actual(new() { ["br-int"] = [] }) with { Meters = [new Meter(99, 1, 1), plan.Meters[0] with { Kbps = 1 }] };
        var inSync = new Dictionary<string, bool> { ["br-int"] = false, ["br-physnet2"] = true };
        var steps = OvsReconciler.FlowSteps(plan, FlowScenarios.Layout, inSync, actual, new Dictionary<string, ulong> { ["br-int"] = plan.Cookie });
        Assert.Equal([typeof(OvsStep.SetMeter), typeof(OvsStep.SetMeter), typeof(OvsStep.ReplaceFlows), typeof(OvsStep.DeleteMeter)], steps.Select(s => s.GetType()));
        Assert.True(((OvsStep.SetMeter)steps[0]).Exists);
        Assert.False(((OvsStep.SetMeter)steps[1]).Exists);
        Assert.NotNull(((OvsStep.ReplaceFlows)steps[2]).Drift);
        Assert.Equal(99, ((OvsStep.DeleteMeter)steps[3]).Id);
        // A new table (another cookie written last) is a change, not drift.
        var changed = OvsReconciler.FlowSteps(plan, FlowScenarios.Layout, inSync, actual, new Dictionary<string, ulong> { ["br-int"] = 1 });
        Assert.Null(changed.OfType<OvsStep.ReplaceFlows>().Single().Drift);
    }
}
