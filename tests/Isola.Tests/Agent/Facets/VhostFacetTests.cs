using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Rendering.Isolation;

namespace Isola.Tests.Agent.Facets;

/// <summary>The vhost facet against a simulated QEMU: workers read only in started domains, pinned with taskset, the pins kept in the server's file.</summary>
public sealed class VhostFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly VhostFacet _facet = new();

    public void Dispose() => _w.Dispose();

    private const string Xml = $"<domain type='kvm'><name>{FacetWorld.Domain}</name><vcpu>2</vcpu><devices><interface type='bridge'>" +
        "<driver name='vhost' queues='2'/></interface></devices></domain>";

    private Isola.Rendering.HostPlan Plan(params VhostPin[] pins) =>
        _w.Plan(new IrqAffinityPlan([], [], pins.Length > 0 ? pins : [new("p1", 0, 5), new("p1", 1, 7)])) with { DomainXml = Xml, Vfs = [] };

    [Fact]
    public async Task Workers_are_read_only_in_started_domains()
    {
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        await _w.Driver.DefineAsync(FacetWorld.Domain, Xml);
        Assert.Empty((await _w.ReadAsync(_facet, desired)).Get<QemuReading>().Qemu);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        var qemu = (await _w.ReadAsync(_facet, desired)).Get<QemuReading>().Qemu[FacetWorld.Domain];
        Assert.Equal(_w.Host.Qemu.Pid(FacetWorld.Domain), qemu.Pid);
        Assert.Equal(_w.Host.Qemu.Workers(FacetWorld.Domain).Select(w => w.Tid), qemu.Vhost.Select(v => v.Tid));
    }

    [Fact]
    public async Task Each_worker_is_pinned_with_taskset_and_remembered_in_its_qemus_list()
    {
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan()));
        await _w.Driver.DefineAsync(FacetWorld.Domain, Xml);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        _w.Store.Save(new AppliedServer("s1", FacetWorld.Domain, []));
        var context = await _w.ContextAsync(_facet, desired);
        var actual = await _w.ReadAsync(_facet, desired);
        Assert.False(_facet.Holds(context, context.Server.Ports[0], actual));
        var steps = _facet.PlanServer(context, actual).Cast<VhostFacet.PinVhost>().ToList();
        var pid = _w.Host.Qemu.Pid(FacetWorld.Domain)!.Value;
        var tids = _w.Host.Qemu.Workers(FacetWorld.Domain).Select(w => w.Tid).ToList();
        Assert.Equal([("5", tids[0]), ("7", tids[1])], steps.Select(s => (s.Cpus, s.Tid)));
        _w.Commands();
        foreach (var step in steps)
            await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.Equal([$"taskset -p -c 5 {tids[0]}", $"taskset -p -c 7 {tids[1]}"], _w.Commands());
        Assert.Equal(new PinnedVhost(pid, tids), VhostFacet.Pinned(_w.Store.Load()["s1"]), new PinnedComparer());
        actual = await _w.ReadAsync(_facet, desired);
        Assert.True(_facet.Holds(context, context.Server.Ports[0], actual));
        Assert.Empty(_facet.PlanServer(context, actual));
    }

    [Fact]
    public async Task Workers_that_cannot_be_told_apart_are_a_problem_not_a_guess()
    {
        var desired = FacetWorld.Desired(FacetWorld.Server(Plan(new("p1", 0, 5), new("p1", 1, 7), new("p1", 2, 9))));
        await _w.Driver.DefineAsync(FacetWorld.Domain, Xml);
        await _w.Driver.StartPausedAsync(FacetWorld.Domain);
        var actual = await _w.ReadAsync(_facet, desired);
        Assert.Empty(_facet.PlanServer(await _w.ContextAsync(_facet, desired), actual));
        var problem = Assert.Single(_facet.Problems(desired, actual));
        Assert.Contains("2 vhost worker(s)", problem, StringComparison.Ordinal);
        Assert.Contains("for 3 queue pair(s)", problem, StringComparison.Ordinal);
    }

    private sealed class PinnedComparer : IEqualityComparer<PinnedVhost?>
    {
        public bool Equals(PinnedVhost? x, PinnedVhost? y) => x?.QemuPid == y?.QemuPid && (x?.Tids ?? []).SequenceEqual(y?.Tids ?? []);

        public int GetHashCode(PinnedVhost? obj) => obj?.QemuPid ?? 0;
    }
}
