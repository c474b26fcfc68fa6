using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Domain.Pci;
using Isola.Rendering.Vf;

namespace Isola.Tests.Agent.Facets;

/// <summary>The VF facet: one ip link show per PF in use, VFs programmed when they differ (drift once set), reset when their server goes.</summary>
public sealed class VfFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly VfFacet _facet = new();

    public void Dispose() => _w.Dispose();

    private async Task RunningAsync()
    {
        await _w.Driver.DefineAsync(FacetWorld.Domain, _w.Plan().DomainXml);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        await _w.Driver.ResumeAsync(FacetWorld.Domain);
    }

    [Fact]
    public async Task Only_the_pfs_of_desired_and_applied_servers_are_read_once_each()
    {
        var other = _w.Host.Host.Devices.First(d => d.NetDev is not null && d.Vfs.Count > 0 && d.NetDev != _w.Vf.PfNetDev);
        _w.Store.Save(new AppliedServer("gone", "isola-gone", [_w.Vf with { PfNetDev = other.NetDev!, VfIndex = other.Vfs[0].Index }]));
        _w.Commands();
        var actual = await _w.ReadAsync(_facet, FacetWorld.Desired(FacetWorld.Server(_w.Plan()), FacetWorld.Server(_w.Plan(), id: "s2")));
        Assert.Equal(["virsh -c qemu:///system list --all", $"ip -d -j link show dev {_w.Vf.PfNetDev}", $"ip -d -j link show dev {other.NetDev}"], _w.Commands());
        Assert.Equal(VfState.Reset, actual.Get<VfReading>().Vfs[(_w.Vf.PfNetDev, _w.Vf.VfIndex)]);
    }

    [Fact]
    public async Task A_vf_is_programmed_when_it_differs_and_a_change_behind_the_agents_back_is_drift()
    {
        await RunningAsync();
        var desired = FacetWorld.Desired(FacetWorld.Server(_w.Plan(), "ACTIVE"));
        var first = Assert.Single(_facet.PlanServer(await _w.ContextAsync(_facet, desired), await _w.ReadAsync(_facet, desired)));
        // New to this agent: not drift.
        Assert.Equal(new VfFacet.ProgramVf("s1", _w.Vf, null), first);
        _w.Commands();
        await _facet.ApplyAsync(first, _w.Hands, default);
        // The PF read first (a PF that was down has its link waited for before the rates), then one command per concern.
        Assert.Equal(VfCommands.Program(_w.Vf).Select(a => string.Join(' ', a)).Prepend($"ip -d -j link show dev {_w.Vf.PfNetDev}"), _w.Commands());
        _w.Store.Save(new AppliedServer("s1", FacetWorld.Domain, [_w.Vf]));

        var actual = await _w.ReadAsync(_facet, desired);
        var context = await _w.ContextAsync(_facet, desired);
        Assert.Empty(_facet.PlanServer(context, actual));
        Assert.True(_facet.Holds(context, context.Server.Ports[0], actual));

        _w.Host.Nic.Tamper(_w.Vf.PfNetDev, _w.Vf.VfIndex, s => s with { Vlan = 200, SpoofCheck = false });
        actual = await _w.ReadAsync(_facet, desired);
        Assert.False(_facet.Holds(context, context.Server.Ports[0], actual));
        var again = Assert.IsType<VfFacet.ProgramVf>(Assert.Single(_facet.PlanServer(context, actual)));
        Assert.Equal($"{_w.Vf.PfNetDev} vf {_w.Vf.VfIndex} (p1): vlan 200 (want 100), spoofchk off", again.Drift);
        Assert.IsAssignableFrom<IDriftStep>(again);
    }

    [Fact]
    public async Task A_vf_is_programmed_after_every_start_even_when_it_holds_its_settings()
    {
        await _w.Driver.ProgramVfAsync(_w.Vf);
        _w.Store.Save(new AppliedServer("s1", FacetWorld.Domain, [_w.Vf]));
        var desired = FacetWorld.Desired(FacetWorld.Server(_w.Plan()));
        var context = await _w.ContextAsync(_facet, desired);
        Assert.True(context.Starts);
        // libvirt sets a hostdev VF's MAC and VLAN as it starts the domain: not drift, and set again.
        Assert.Equal([new VfFacet.ProgramVf("s1", _w.Vf, null)], _facet.PlanServer(context, await _w.ReadAsync(_facet, desired)));
    }

    [Fact]
    public async Task A_gone_servers_vfs_are_reset_unless_they_are_already()
    {
        await _w.Driver.ProgramVfAsync(_w.Vf);
        var gone = new AppliedServer("s1", FacetWorld.Domain, [_w.Vf]);
        _w.Store.Save(gone);
        var none = FacetWorld.Desired();
        var step = Assert.Single(_facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)));
        Assert.Equal(new VfFacet.ResetVf("s1", _w.Vf), step);
        await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal(VfState.Reset, _w.Host.Nic.Vf(_w.Vf.PfNetDev, _w.Vf.VfIndex));
        Assert.Empty(_facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)));
    }
}
