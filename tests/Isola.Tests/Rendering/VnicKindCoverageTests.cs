using Isola.Cli.Planning;
using Isola.Rendering.Libvirt.Nics;
using Isola.Scheduling.Pipeline;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;
using Isola.Tests.Scheduling;
using static Isola.Tests.Scheduling.Requests;

namespace Isola.Tests.Rendering;

/// <summary>
/// Adding a vnic kind is a descriptor (<see cref="VnicKind"/>), a renderer (<c>Libvirt/Nics/</c>) and tests:
/// every kind of the table is checked here with nothing but its descriptor.
/// </summary>
public class VnicKindCoverageTests
{
    public static TheoryData<VnicType> Kinds() => [.. VnicKind.All.Select(k => k.Type)];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_kind_has_a_libvirt_renderer(VnicType type) =>
        Assert.Equal(type, Assert.IsAssignableFrom<INicRenderer>(NicRenderers.For(type)).Kind);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_wire_name_round_trips_through_the_one_parser_and_the_cli(VnicType type)
    {
        var kind = VnicKind.Of(type);
        Assert.Same(kind, VnicKind.Parse(kind.WireName));
        Assert.Equal(type, RequestFile.ParseVnicType(kind.WireName, "ports[0].vnicType"));
    }

    [Fact]
    public void The_cli_names_every_kind_when_a_word_is_unknown()
    {
        var e = Assert.Throws<ArgumentException>(() => RequestFile.ParseVnicType("sriov", "ports[0].vnicType"));
        Assert.Equal("ports[0].vnicType: 'sriov' is not normal, direct, direct-physical, macvtap or vdpa", e.Message);
    }

    /// <summary>What the API accepts, the scheduler can place on a host with VFs (with netdevs) on the physnet; what it refuses, it cannot.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_scheduler_places_exactly_the_kinds_the_api_accepts(VnicType type)
    {
        var kind = VnicKind.Of(type);
        var fleet = new FleetState();
        fleet.AddHost(new HostBuilder("h1").Cores(8).Pages1G(8).Nic(0, "physnet2", 4, ports: 2).Build());
        var port = new PortRequest("p", type, kind.NeedsDevice ? "physnet2" : null, false, NextMac());
        Assert.Empty(port.Validate(0));
        var result = new Placer(fleet).Place(Request("vm", Dedicated(2), port));
        Assert.True(kind.AcceptedAtApi == result.Succeeded, result.Explain());
        if (result.Succeeded)
        {
            var placement = result.Placement!;
            Assert.Equal(kind.VfCount(ha: false), placement.Vfs.Count(v => v.Port == "p"));
            Assert.Equal(kind.Device == PortDevice.WholePf ? 1 : 0, placement.Pfs.Count(p => p.Port == "p"));
        }
    }
}
