using Isola.Agent.Facets;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Domain.Pci;
using Isola.Rendering.Vf;

namespace Isola.Tests.Agent.Reconcile;

/// <summary>
/// The reconciler and a domain that is not running: started while its server builds or is asked to
/// run, left off when its guest powered off (ACTIVE, then SHUTOFF); the XML kept for a domain removed
/// with its server, and XML no server owns removed whenever found.
/// </summary>
public sealed class ReconcilerPowerTests
{
    private const string Domain = "isola-s1";

    private static readonly VfSettings Vf = new("p1", "ens1f0", "i40e", PciAddress.Parse("0000:3b:00.0"), PciAddress.Parse("0000:3b:02.0"), 3,
        VfState.Reset with { Mac = "fa:16:3e:00:00:01", Vlan = 100 });

    private static DesiredHost Desired(string status, string power) =>
        Wire.Host("h1", 5, [Wire.Server("s1", "vm1", status, power, [new("p-1", "p1", Vf.Desired.Mac, "ACTIVE")], Wire.Plan(Domain, "u-1", "<domain/>", [Vf]))]);

    private static ActualHost Actual(string? state, VfState? vf = null, params string[] domainFiles) => ActualHost.Of(
        new DomainReading(state is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [Domain] = state }),
        new VfReading(new Dictionary<(string, int), VfState> { [(Vf.PfNetDev, Vf.VfIndex)] = vf ?? Vf.Desired }),
        new DomainXmlReading(domainFiles.ToHashSet(StringComparer.Ordinal)));

    private static readonly Dictionary<string, AppliedServer> Known = new(StringComparer.Ordinal) { ["s1"] = new AppliedServer("s1", Domain, [Vf]) };

    [Theory]
    [InlineData("BUILD", "paused")]  // the agent's own sequence: define, start paused, program, resume when told
    [InlineData("BUILD", "running")] // stopped between resume and ACTIVE (or the agent crashed in between): started again
    [InlineData("SHUTOFF", "running")] // asked to run again (a start)
    public void A_shut_off_domain_is_started_while_its_server_builds_or_is_asked_to_run(string status, string power)
    {
        var steps = Reconciler.Plan(Desired(status, power), Actual("shut off"), Known);
        Assert.Contains(new DomainFacet.StartPaused("s1", Domain), steps);
        // Programmed after the start: libvirt sets MAC and VLAN as it starts a hostdev interface's domain.
        Assert.Contains(new VfFacet.ProgramVf("s1", Vf, null), steps);
        Assert.Equal(power == "running", steps.Contains(new PowerFacet.Resume("s1", Domain)));
    }

    [Theory]
    [InlineData("ACTIVE", "running")]  // the guest powered off; the report makes the server SHUTOFF
    [InlineData("SHUTOFF", "shutoff")] // and so it stays, cycle after cycle
    public void A_domain_its_guest_powered_off_is_not_started_again(string status, string power)
    {
        var steps = Reconciler.Plan(Desired(status, power), Actual("shut off"), Known);
        Assert.DoesNotContain(steps, s => s is DomainFacet.StartPaused or PowerFacet.Resume or DomainFacet.Define);
        // Its VF still holds the plan's settings: nothing to do.
        Assert.Empty(steps);
        var report = Reconciler.Report(Desired(status, power), Actual("shut off"));
        Assert.Equal(new ReportedServer("s1", "shutoff"), Assert.Single(report.Servers!));
        Assert.Equal(new ReportedPort("p-1", "DOWN"), Assert.Single(report.Ports!));
    }

    [Fact]
    public void A_shut_off_servers_vf_that_drifted_is_set_again_and_reported_and_its_domain_stays_off()
    {
        var tampered = Vf.Desired with { Vlan = 200 };
        var steps = Reconciler.Plan(Desired("SHUTOFF", "shutoff"), Actual("shut off", tampered), Known);
        var program = Assert.Single(steps);
        Assert.Contains("vlan 200 (want 100)", Assert.IsType<VfFacet.ProgramVf>(program).Drift, StringComparison.Ordinal);
    }

    [Fact]
    public void An_active_servers_domain_that_vanished_is_defined_again_but_not_started()
    {
        var steps = Reconciler.Plan(Desired("ACTIVE", "running"), Actual(null), Known);
        Assert.Equal([new DomainFacet.Define("s1", Domain, "<domain/>")], steps);
    }

    [Fact]
    public void A_paused_active_domain_is_resumed_as_before()
    {
        Assert.Equal([new PowerFacet.Resume("s1", Domain)], Reconciler.Plan(Desired("ACTIVE", "running"), Actual("paused"), Known));
    }

    [Fact]
    public void A_gone_servers_domain_xml_is_removed_after_undefine_and_before_it_is_forgotten()
    {
        var none = Wire.Host("h1", 6, []);
        var steps = Reconciler.Plan(none, Actual("shut off", Vf.Desired, Domain), Known);
        Assert.Equal(
            [new DomainFacet.Undefine("s1", Domain), new VfFacet.ResetVf("s1", Vf), new DomainXmlFacet.RemoveDomainXml("s1", Domain), new Step.Forget("s1")],
            steps);
        // No file (an agent killed after removing it): straight to forgetting.
        Assert.Equal([new Step.Forget("s1")], Reconciler.Plan(none, Actual(null, VfState.Reset), Known));
    }

    [Fact]
    public void Domain_xml_no_server_owns_is_removed_and_the_desired_and_known_ones_are_kept()
    {
        var desired = Desired("ACTIVE", "running");
        var known = new Dictionary<string, AppliedServer>(Known) { ["s2"] = new AppliedServer("s2", "isola-s2", []) };
        var steps = Reconciler.Plan(desired with { Servers = [.. desired.Servers, desired.Servers[0] with { Id = "s2", Plan = null }] },
            Actual("running", Vf.Desired, Domain, "isola-s2", "isola-old", "isola-older"), known);
        Assert.Equal([new DomainXmlFacet.RemoveDomainXml("isola-old", "isola-old"), new DomainXmlFacet.RemoveDomainXml("isola-older", "isola-older")], steps);
    }
}
