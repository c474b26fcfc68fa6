using Isola.Agent.Facets;
using Isola.Agent.Reconcile;

namespace Isola.Tests.Agent.Facets;

/// <summary>The domain XML facet: the kept XML removed with its server, and whenever no server here owns it.</summary>
public sealed class DomainXmlFacetTests : IDisposable
{
    private readonly FacetWorld _w = new();
    private readonly DomainXmlFacet _facet = new();

    public void Dispose() => _w.Dispose();

    private string Xml(string domain) => Path.Join(_w.State, "domains", domain + ".xml");

    [Fact]
    public async Task A_gone_servers_xml_is_removed()
    {
        await _w.Driver.DefineAsync(FacetWorld.Domain, _w.Plan().DomainXml);
        var gone = new AppliedServer("s1", FacetWorld.Domain, []);
        var none = FacetWorld.Desired();
        var actual = await _w.ReadAsync(_facet, none);
        Assert.Equal([FacetWorld.Domain], actual.Get<DomainXmlReading>().Files);
        var step = Assert.Single(_facet.PlanTakeDown(gone, actual));
        Assert.Equal(new DomainXmlFacet.RemoveDomainXml("s1", FacetWorld.Domain), step);
        await _facet.ApplyAsync(step, _w.Hands, default);
        Assert.False(File.Exists(Xml(FacetWorld.Domain)));
        Assert.Empty(_facet.PlanTakeDown(gone, await _w.ReadAsync(_facet, none)));
    }

    [Fact]
    public async Task Xml_no_desired_or_remembered_server_owns_is_swept_and_the_rest_kept()
    {
        foreach (var domain in new[] { FacetWorld.Domain, "isola-known", "isola-old" })
            await _w.Driver.DefineAsync(domain, $"<domain type='kvm'><name>{domain}</name></domain>");
        var applied = new Dictionary<string, AppliedServer> { ["k"] = new("k", "isola-known", []) };
        var desired = FacetWorld.Desired(FacetWorld.Server(_w.Plan()));
        var steps = _facet.PlanSweep(desired, applied, await _w.ReadAsync(_facet, desired)).ToList();
        Assert.Equal([new DomainXmlFacet.RemoveDomainXml("isola-old", "isola-old")], steps);
    }
}
