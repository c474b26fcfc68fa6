using Isola.Agent.Facets;
using Isola.Domain.Cpu;
using Isola.Rendering.Isolation;

namespace Isola.Tests.Agent.Facets;

/// <summary>The CPU isolation facet: the systemd drop-ins that keep host services on the reserved CPUs, written when they differ, systemd reloaded.</summary>
public sealed class CpuIsolationFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly CpuIsolationFacet _facet = new();

    public void Dispose() => _w.Dispose();

    private static readonly Dictionary<string, Isola.Agent.Reconcile.AppliedServer> NoneApplied = [];

    private static readonly HostIsolation Isolation = new(CpuSet.Parse("4-15"), CpuSet.Parse("0-3"), []);

    [Fact]
    public async Task Only_the_drop_ins_that_differ_are_written_then_systemd_reloads()
    {
        var desired = FacetWorld.Desired(FacetWorld.Server(_w.Plan(isolation: Isolation)));
        var files = Isolation.SliceDropIns;
        _w.HostFile(files[1].Path, files[1].Content);
        _w.HostFile(files[2].Path, "[Scope]\nAllowedCPUs=0-15\n");
        var step = Assert.IsType<CpuIsolationFacet.SystemdDropIns>(Assert.Single(_facet.PlanHost(desired, NoneApplied, await _w.ReadAsync(_facet, desired))));
        Assert.Equal([files[0], files[2]], step.Files);
        _w.Commands();
        await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.All(files, f => Assert.Equal(f.Content, _w.ReadHostFile(f.Path)));
        Assert.Equal(["systemctl daemon-reload"], _w.Commands());
        Assert.Empty(_facet.PlanHost(desired, NoneApplied, await _w.ReadAsync(_facet, desired)));
    }

    [Fact]
    public async Task No_server_with_a_plan_means_nothing_to_write_and_the_drop_ins_stay()
    {
        var none = FacetWorld.Desired(FacetWorld.Server(null));
        Assert.Null(CpuIsolationFacet.Isolation(none));
        Assert.Empty(_facet.PlanHost(none, NoneApplied, await _w.ReadAsync(_facet, none)));
    }
}
