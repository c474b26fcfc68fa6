using Isola.Agent.Facets;

namespace Isola.Tests.Agent.Facets;

/// <summary>The power facet: a paused (or just started) domain resumes when its server's desired power state is running.</summary>
public sealed class PowerFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly PowerFacet _facet = new();

    public void Dispose() => _w.Dispose();

    [Theory]
    [InlineData("paused", "running", "BUILD", true)]
    [InlineData("paused", "paused", "BUILD", false)]  // told to stay paused (ports not yet ACTIVE)
    [InlineData(null, "running", "BUILD", true)]      // started (paused) in this cycle: resumed after its VFs
    [InlineData("shut off", "running", "ACTIVE", false)]
    [InlineData("running", "running", "ACTIVE", false)]
    public async Task Resumes_only_a_paused_or_starting_domain_that_should_run(string? state, string power, string status, bool resumes)
    {
        var plan = _w.Plan();
        if (state is not null)
        {
            await _w.Driver.DefineAsync(FacetWorld.Domain, plan.DomainXml);
            if (state == "paused")
                await _w.Driver.StartPausedAsync(FacetWorld.Domain);
            if (state == "running")
            {
                await _w.Driver.StartPausedAsync(FacetWorld.Domain);
                await _w.Driver.ResumeAsync(FacetWorld.Domain);
            }
        }
        var context = await _w.ContextAsync(_facet, FacetWorld.Desired(FacetWorld.Server(plan, status, power)));
        Assert.Equal(state, context.State);
        var steps = _facet.PlanServer(context, ActualHost.Empty).ToList();
        Assert.Equal(resumes ? [new PowerFacet.Resume("s1", FacetWorld.Domain)] : [], steps);
    }

    [Fact]
    public async Task Resume_is_virsh_resume()
    {
        var plan = _w.Plan();
        await _w.Driver.DefineAsync(FacetWorld.Domain, plan.DomainXml);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        _w.Commands();
        await _facet.ApplyAsync(new PowerFacet.Resume("s1", FacetWorld.Domain), _w.Hands, default);
        Assert.Equal([$"virsh -c qemu:///system resume {FacetWorld.Domain}"], _w.Commands());
        Assert.Equal("running", _w.Host.Libvirt.Domains[FacetWorld.Domain].State);
    }
}
