using Isola.Agent.Facets;

namespace Isola.Tests.Agent.Facets;

/// <summary>
/// The power facet: a paused (or just started) domain resumes when its server's desired power state is
/// running; a running one is suspended when it should be paused (not while building), asked to shut
/// down while its shutdown is clean, and powered off otherwise (and always when paused).
/// </summary>
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

    [Theory]
    [InlineData("running", "paused", "ACTIVE", "clean", "suspend")]
    [InlineData("running", "paused", "BUILD", "clean", null)]      // a build's domain is paused until told to run
    [InlineData("paused", "paused", "PAUSED", "hard", null)]
    [InlineData("running", "shutoff", "ACTIVE", "clean", "shutdown")]
    [InlineData("running", "shutoff", "REBOOT", "clean", "shutdown")]
    [InlineData("running", "shutoff", "ACTIVE", "hard", "destroy")]  // the clean shutdown timed out, or a hard reboot
    [InlineData("running", "shutoff", "SHUTOFF", "hard", "destroy")] // started behind Isola's back: stopped again, as Nova's sync does
    [InlineData("paused", "shutoff", "PAUSED", "clean", "destroy")]  // a paused guest cannot answer ACPI
    [InlineData("shut off", "shutoff", "SHUTOFF", "hard", null)]
    public async Task Suspends_shuts_down_or_powers_off_what_should_not_run(string state, string power, string status, string shutdown, string? verb)
    {
        var plan = _w.Plan();
        await _w.Driver.DefineAsync(FacetWorld.Domain, plan.DomainXml);
        if (state != "shut off")
            await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        if (state == "running")
            await _w.Driver.ResumeAsync(FacetWorld.Domain);
        var server = FacetWorld.Server(plan, status, power) with { Shutdown = shutdown };
        var context = await _w.ContextAsync(_facet, FacetWorld.Desired(server));
        var step = Assert.Single(_facet.PlanServer(context, ActualHost.Empty).DefaultIfEmpty());
        if (verb is null)
        {
            Assert.Null(step);
            return;
        }
        _w.Commands();
        await _facet.ApplyAsync(step!, _w.Hands, default);
        Assert.Equal([$"virsh -c qemu:///system {verb} {FacetWorld.Domain}"], _w.Commands());
        Assert.Equal(verb == "suspend" ? "paused" : "shut off", _w.Host.Libvirt.Domains[FacetWorld.Domain].State);
    }

    [Theory]
    [InlineData("BUILD", "paused", true)]
    [InlineData("BUILD", "shutoff", false)]
    [InlineData("SHUTOFF", "running", true)]      // a start
    [InlineData("REBOOT", "running", true)]       // a reboot's second half
    [InlineData("HARD_REBOOT", "running", true)]
    [InlineData("REBUILD", "running", true)]      // once the new disk is reported
    [InlineData("REBUILD", "shutoff", false)]
    [InlineData("ACTIVE", "running", false)]      // found shut off: its guest powered off, it stays so
    [InlineData("PAUSED", "paused", false)]
    [InlineData("PAUSED", "running", false)]
    public void The_domain_is_started_only_while_building_or_when_an_action_asks_it_to_run(string status, string power, bool starts) =>
        Assert.Equal(starts, DomainFacet.MayStart(FacetWorld.Server(null, status, power)));

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
