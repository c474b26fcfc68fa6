using Isola.Domain.Pci;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>Linux bonding modes the guest's HA bond may use.</summary>
public enum BondMode
{
    ActiveBackup,
    BalanceRr,
    BalanceXor,
}

/// <summary>
/// A port as the host plan needs it: what placement knew (kind, MAC, physnet, HA) plus the network's
/// segment, the port's VF settings, QoS, addresses and where its interrupts go.
/// </summary>
/// <param name="Vlan">The VLAN the VF tags (VST); null for flat networks and virtio ports.</param>
/// <param name="MaxTxRateMbps">VF max TX rate (0: none).</param>
/// <param name="MinTxRateMbps">VF guaranteed TX rate (0: none); not every NIC can.</param>
/// <param name="IrqVcpus">The guest vCPUs that handle this port's interrupts; default: the VM's vCPUs on the VF's cell.</param>
/// <param name="Queues">virtio queue pairs (normal ports); default: the vCPU count, at most 8.</param>
/// <param name="PortId">The port's UUID: OVS iface-id for normal ports.</param>
/// <param name="Addresses">Static addresses (CIDR); empty: DHCP.</param>
/// <param name="HaDistinctAdapters">An HA port whose legs must be on two different adapters (placement fails rather than take one card's two ports).</param>
public sealed record PortSpec(
    string Name,
    VnicType VnicType,
    string Mac,
    bool Ha = false,
    string? Physnet = null,
    int? Vlan = null,
    int VlanQos = 0,
    string VlanProtocol = "802.1Q",
    bool SpoofCheck = true,
    bool Trust = false,
    VfLinkState LinkState = VfLinkState.Auto,
    int MaxTxRateMbps = 0,
    int MinTxRateMbps = 0,
    BondMode BondMode = BondMode.ActiveBackup,
    IReadOnlyList<int>? IrqVcpus = null,
    int? Queues = null,
    string Bridge = "br-int",
    string? PortId = null,
    int Mtu = 1500,
    IReadOnlyList<string>? Addresses = null,
    string? Gateway = null,
    IReadOnlyList<string>? DnsServers = null,
    string? VdpaDevice = null,
    bool HaDistinctAdapters = false)
{
    /// <summary>What its vnic type is (<see cref="VnicKind"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public VnicKind Kind => VnicKind.Of(VnicType);

    public static PortSpec From(PortRequest port) => new(port.Name, port.VnicType, port.Mac, port.Ha, port.Physnet, HaDistinctAdapters: port.HaDistinctAdapters);

    /// <summary>The port as placement sees it: the one place a port becomes a placement request, with what its VFs need of their PF driver.</summary>
    public PortRequest ToRequest() => new(Name, VnicType, Physnet, Ha, Mac, PortRules.NeedsOf(this), HaDistinctAdapters);
}
