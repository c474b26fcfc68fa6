using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Rendering;
using Isola.Scheduling.Requests;

namespace Isola.Tests.Scheduling;

/// <summary>The vnic kinds' table: one row per kind, what each takes, needs and supports.</summary>
public class VnicKindTests
{
    [Theory]
    [InlineData(VnicType.Normal, "normal", PortDevice.None, false, false, PortQos.OvsFlows, true, true, true)]
    [InlineData(VnicType.Direct, "direct", PortDevice.Vf, false, true, PortQos.VfEgressRates, false, false, true)]
    [InlineData(VnicType.DirectPhysical, "direct-physical", PortDevice.WholePf, false, false, PortQos.None, false, false, true)]
    [InlineData(VnicType.Macvtap, "macvtap", PortDevice.Vf, true, false, PortQos.VfEgressRates, false, false, true)]
    [InlineData(VnicType.Vdpa, "vdpa", PortDevice.VdpaDevice, false, false, PortQos.None, false, false, false)]
    public void Each_kind_says_what_it_takes_needs_and_supports(VnicType type, string wire, PortDevice device, bool netDev, bool ha,
        PortQos qos, bool securityGroups, bool migratable, bool accepted)
    {
        var kind = VnicKind.Of(type);
        Assert.Equal((type, wire, device, netDev, ha, qos, securityGroups, migratable, accepted),
            (kind.Type, kind.WireName, kind.Device, kind.NeedsNetDev, kind.HaAllowed, kind.Qos, kind.SecurityGroups, kind.LiveMigratable, kind.AcceptedAtApi));
        // Every kind with a device lives on flat or vlan networks (a physnet); a tap on OVS goes anywhere.
        Assert.Equal(device == PortDevice.None ? null : ["flat", "vlan"], kind.NetworkTypes);
        Assert.Equal(device == PortDevice.None, kind.AllowsNetwork("vxlan"));
    }

    [Fact]
    public void The_table_has_every_vnic_type_once_in_enum_order()
    {
        Assert.Equal(Enum.GetValues<VnicType>(), VnicKind.All.Select(k => k.Type));
        Assert.All(Enum.GetValues<VnicType>(), t => Assert.Same(VnicKind.All[(int)t], VnicKind.Of(t)));
        Assert.Equal(VnicKind.All.Count, VnicKind.All.Select(k => k.WireName).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void A_refused_kind_says_why_and_an_accepted_one_does_not()
    {
        Assert.All(VnicKind.All, k => Assert.Equal(k.AcceptedAtApi, k.RefusedAtApi is null));
        Assert.Contains("vdpa", VnicKind.Vdpa.RefusedAtApi, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(VnicType.Normal, false, 0)]
    [InlineData(VnicType.Direct, false, 1)]
    [InlineData(VnicType.Direct, true, 2)]
    [InlineData(VnicType.DirectPhysical, false, 0)]
    [InlineData(VnicType.Macvtap, false, 1)]
    [InlineData(VnicType.Vdpa, false, 1)]
    public void Vfs_per_port_follow_the_device_and_the_legs(VnicType type, bool ha, int vfs) =>
        Assert.Equal(vfs, new PortRequest("p", type, "physnet2", ha, "fa:16:3e:00:00:01").VfCount);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Direct")]
    [InlineData("direct_physical")]
    [InlineData("virtio")]
    public void Only_the_exact_wire_names_parse(string? text) => Assert.Null(VnicKind.Parse(text));

    [Fact]
    public void Names_make_a_sentence() =>
        Assert.Equal(("normal", "normal or direct", "normal, direct, direct-physical, macvtap or vdpa"),
            (VnicKind.Names([VnicKind.Normal]), VnicKind.Names([VnicKind.Normal, VnicKind.Direct]), VnicKind.Names(VnicKind.All)));

    [Fact]
    public void The_wire_name_is_the_json_name_and_the_descriptor_is_not_stored()
    {
        Assert.All(VnicKind.All, k => Assert.Equal($"\"{k.WireName}\"", JsonSerializer.Serialize(k.Type, IsolaJson.Options)));
        var json = JsonSerializer.Serialize(new PortSpec("p", VnicType.Macvtap, "fa:16:3e:00:00:01"), IsolaJson.Options);
        Assert.DoesNotContain("\"kind\"", json, StringComparison.Ordinal);
        Assert.Equal(VnicType.Macvtap, JsonSerializer.Deserialize<PortSpec>(json, IsolaJson.Options)!.Kind.Type);
    }
}
