namespace Isola.Scheduling.Requests;

/// <summary>What a port of a kind takes from its host.</summary>
public enum PortDevice
{
    /// <summary>Nothing: a tap on the host's Open vSwitch.</summary>
    None,
    /// <summary>A VF (two for an HA bond).</summary>
    Vf,
    /// <summary>A wholly free PF.</summary>
    WholePf,
    /// <summary>A vhost-vdpa device (a VF behind a vDPA driver).</summary>
    VdpaDevice,
}

/// <summary>What a QoS policy can do on a port of a kind.</summary>
public enum PortQos
{
    /// <summary>
    /// What the host's Open vSwitch does to a tap: bandwidth limits both ways (meters) and a DSCP mark
    /// (flows); no minimum bandwidth (Open vSwitch guarantees a port no rate on its way to the uplink).
    /// </summary>
    OvsFlows,
    /// <summary>Egress bandwidth limit and minimum as the VF's max/min tx rate; nothing else.</summary>
    VfEgressRates,
    /// <summary>No rule at all.</summary>
    None,
}

/// <summary>
/// What a vnic type is, in one place: its wire name, what it takes from the host, what it needs
/// and what it supports. The API, the CLI, the scheduler and the renderer read this table; the
/// libvirt device of each kind is its <c>Isola.Rendering.Libvirt.Nics</c> renderer.
/// </summary>
/// <param name="WireName">The name in the API, request files and CLI flags (Neutron's binding:vnic_type).</param>
/// <param name="Device">What placement gives each port (and each HA leg).</param>
/// <param name="NeedsNetDev">Its VF keeps the host driver (macvtap sits on the VF's netdev): only VFs with a host netdev fit, and the VF's listed IRQs stay valid.</param>
/// <param name="NetworkTypes">The network types a port of the kind may be on; null: any.</param>
/// <param name="HaAllowed">An HA bond (two legs, one MAC) may be made of it.</param>
/// <param name="Qos">What a QoS policy can set on it.</param>
/// <param name="SecurityGroups">Security groups can filter it (its traffic passes the host's datapath).</param>
/// <param name="LiveMigratable">A server with such a port could be live-migrated (nothing migrates yet; recorded for that feature).</param>
/// <param name="RefusedAtApi">Why the API refuses to create such a port today; null: accepted.</param>
/// <param name="Title">How refusals name the kind.</param>
public sealed record VnicKind(VnicType Type, string WireName, PortDevice Device, bool NeedsNetDev, IReadOnlyList<string>? NetworkTypes,
    bool HaAllowed, PortQos Qos, bool SecurityGroups, bool LiveMigratable, string? RefusedAtApi, string Title)
{
    private static readonly string[] SriovNetworks = ["flat", "vlan"];

    public static readonly VnicKind Normal = new(VnicType.Normal, "normal", PortDevice.None, NeedsNetDev: false, NetworkTypes: null,
        HaAllowed: false, PortQos.OvsFlows, SecurityGroups: true, LiveMigratable: true, RefusedAtApi: null, "normal");

    public static readonly VnicKind Direct = new(VnicType.Direct, "direct", PortDevice.Vf, NeedsNetDev: false, SriovNetworks,
        HaAllowed: true, PortQos.VfEgressRates, SecurityGroups: false, LiveMigratable: false, RefusedAtApi: null, "direct");

    public static readonly VnicKind DirectPhysical = new(VnicType.DirectPhysical, "direct-physical", PortDevice.WholePf, NeedsNetDev: false, SriovNetworks,
        HaAllowed: false, PortQos.None, SecurityGroups: false, LiveMigratable: false, RefusedAtApi: null, "direct-physical (whole PF)");

    public static readonly VnicKind Macvtap = new(VnicType.Macvtap, "macvtap", PortDevice.Vf, NeedsNetDev: true, SriovNetworks,
        HaAllowed: false, PortQos.VfEgressRates, SecurityGroups: false, LiveMigratable: false, RefusedAtApi: null, "macvtap");

    // No inventory reports vDPA devices, so placement has none to give and no host plan could name one: refused at create, not per server.
    public static readonly VnicKind Vdpa = new(VnicType.Vdpa, "vdpa", PortDevice.VdpaDevice, NeedsNetDev: false, SriovNetworks,
        HaAllowed: false, PortQos.None, SecurityGroups: false, LiveMigratable: false,
        RefusedAtApi: "vdpa ports are not supported yet: no host reports a vDPA device to place them on; use direct or macvtap", "vdpa");

    /// <summary>Every kind, in the order of <see cref="VnicType"/>'s values.</summary>
    public static IReadOnlyList<VnicKind> All { get; } = [Normal, Direct, DirectPhysical, Macvtap, Vdpa];

    /// <summary>The descriptor of a vnic type.</summary>
    public static VnicKind Of(VnicType type) => All[(int)type];

    /// <summary>The one parser of the wire names (API bodies, CLI request files and flags).</summary>
    public static VnicKind? Parse(string? wireName)
    {
        foreach (var kind in All)
        {
            if (kind.WireName == wireName)
                return kind;
        }
        return null;
    }

    /// <summary>The kinds' wire names as a sentence: "normal, direct, direct-physical or macvtap".</summary>
    public static string Names(IEnumerable<VnicKind> kinds)
    {
        var names = kinds.Select(k => k.WireName).ToList();
        return names.Count <= 1 ? string.Concat(names) : $"{string.Join(", ", names[..^1])} or {names[^1]}";
    }

    /// <summary>The API creates ports of the kind today.</summary>
    public bool AcceptedAtApi => RefusedAtApi is null;

    /// <summary>Placement must find it a device on its physnet (everything but a tap on OVS).</summary>
    public bool NeedsDevice => Device != PortDevice.None;

    /// <summary>A tap on the host's Open vSwitch (virtio + vhost-net).</summary>
    public bool OnOvs => Device == PortDevice.None;

    /// <summary>A virtio NIC on a host tap (a tap on Open vSwitch, or a macvtap on the VF's netdev), whose queues vhost-net serves.</summary>
    public bool ServedByVhostNet => Type is VnicType.Normal or VnicType.Macvtap;

    /// <summary>Isola programs its VFs (VLAN, spoof check, trust, rates, link state).</summary>
    public bool ProgramsVf => Device == PortDevice.Vf;

    /// <summary>The placement names its device (a VF or a PF; vDPA devices are not placed yet).</summary>
    public bool PlacedDevice => Device is PortDevice.Vf or PortDevice.WholePf;

    /// <summary>VFs per port: one per leg for VF-backed kinds (an HA bond has two legs).</summary>
    public int VfCount(bool ha) => Device is PortDevice.Vf or PortDevice.VdpaDevice ? (ha ? 2 : 1) : 0;

    /// <summary>Whether a port of the kind may be on a network of <paramref name="networkType"/>.</summary>
    public bool AllowsNetwork(string networkType) => NetworkTypes is null || NetworkTypes.Contains(networkType);

    public override string ToString() => WireName;
}
