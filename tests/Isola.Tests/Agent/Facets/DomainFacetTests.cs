using Isola.Agent.Facets;
using Isola.Agent.Reconcile;

namespace Isola.Tests.Agent.Facets;

/// <summary>The domain facet: defined and started paused on the way in (only while it may start), destroyed and undefined on the way out.</summary>
public sealed class DomainFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly DomainFacet _facet = new();

    public void Dispose() => _w.Dispose();

    [Fact]
    public async Task A_new_servers_domain_is_defined_and_started_paused_then_read_back_as_paused()
    {
        var desired = FacetWorld.Desired(FacetWorld.Server(_w.Plan()));
        var context = await _w.ContextAsync(_facet, desired);
        Assert.Equal((null, false, "absent"), (context.State, context.Known, context.VmState));
        var steps = _facet.PlanServer(context, ActualHost.Empty).ToList();
        Assert.Equal([new DomainFacet.Define("s1", FacetWorld.Domain, _w.Plan().DomainXml), new DomainFacet.StartPaused("s1", FacetWorld.Domain)], steps);
        _w.Commands();
        foreach (var step in steps)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal(
        [
            // Defined from a staged file, kept as domains/NAME.xml only once libvirt took it.
            $"virsh -c qemu:///system define {Path.Join(_w.State, "domains", FacetWorld.Domain + ".xml.new")}",
            $"virsh -c qemu:///system start --paused {FacetWorld.Domain}",
        ], _w.Commands());

        Assert.Equal(_w.Plan().DomainXml, File.ReadAllText(Path.Join(_w.State, "domains", FacetWorld.Domain + ".xml")));
        Assert.False(File.Exists(Path.Join(_w.State, "domains", FacetWorld.Domain + ".xml.new")));

        var after = await _w.ContextAsync(_facet, desired);
        Assert.Equal(("paused", true, "paused"), (after.State, after.Started, after.VmState));
        Assert.Empty(_facet.PlanServer(after, ActualHost.Empty));
        Assert.True(_facet.Holds(after, desired.Servers[0].Ports[0], ActualHost.Empty));
    }

    [Theory]
    [InlineData("BUILD", "running", true)]
    [InlineData("SHUTOFF", "running", true)]   // asked to run again
    [InlineData("ACTIVE", "running", false)]   // its guest powered off: its word
    [InlineData("BUILD", "shutoff", false)]
    public async Task A_shut_off_domain_is_started_only_while_its_server_may_start(string status, string power, bool starts)
    {
        var plan = _w.Plan();
        await _w.Driver.DefineAsync(FacetWorld.Domain, plan.DomainXml);
        var context = await _w.ContextAsync(_facet, FacetWorld.Desired(FacetWorld.Server(plan, status, power)));
        Assert.Equal(("shut off", starts), (context.State, context.Starts));
        Assert.Equal(starts ? [new DomainFacet.StartPaused("s1", FacetWorld.Domain)] : [], _facet.PlanServer(context, ActualHost.Empty));
        Assert.False(_facet.Holds(context, context.Server.Ports[0], ActualHost.Empty));
    }

    [Theory]
    [InlineData("running", "destroy undefine")]
    [InlineData("paused", "destroy undefine")]
    [InlineData("shut off", "undefine")]
    [InlineData(null, "")]
    public void A_gone_servers_domain_is_destroyed_if_started_and_undefined_if_there(string? state, string want)
    {
        var actual = ActualHost.Of(new DomainReading(state is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [FacetWorld.Domain] = state }));
        var steps = _facet.PlanTakeDown(new AppliedServer("s1", FacetWorld.Domain, []), actual);
        Assert.Equal(want, string.Join(' ', steps.Select(s => s switch { DomainFacet.Destroy => "destroy", DomainFacet.Undefine => "undefine", _ => s.ToString() })));
    }

    [Fact]
    public async Task A_step_of_another_facet_is_refused()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => _facet.ApplyAsync(new PowerFacet.Resume("s1", FacetWorld.Domain), _w.Hands, default));
    }
}
