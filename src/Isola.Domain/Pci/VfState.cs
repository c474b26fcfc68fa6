namespace Isola.Domain.Pci;

/// <summary>The administrative link state of a VF as <c>ip link set ... vf N state</c> takes it.</summary>
public enum VfLinkState
{
    /// <summary>Follows the PF's link.</summary>
    Auto,
    /// <summary>Always up, even when the PF link is down.</summary>
    Enable,
    /// <summary>Always down.</summary>
    Disable,
}

/// <summary>
/// The runtime settings of one VF as the PF driver holds them and <c>ip -d -j link show dev PF</c>
/// reports them in <c>vfinfo_list</c>.
/// </summary>
/// <param name="Mac">The VF's administrative MAC ("00:00:00:00:00:00" when unset).</param>
/// <param name="Vlan">Port VLAN (0 = none).</param>
/// <param name="Qos">802.1p priority for the port VLAN.</param>
/// <param name="VlanProtocol">"802.1Q" or "802.1ad".</param>
/// <param name="MaxTxRateMbps">0 = unlimited.</param>
/// <param name="MinTxRateMbps">0 = no guarantee.</param>
public sealed record VfState(
    string Mac,
    int Vlan,
    int Qos,
    string VlanProtocol,
    bool SpoofCheck,
    bool Trust,
    VfLinkState LinkState,
    int MaxTxRateMbps,
    int MinTxRateMbps)
{
    public const string ZeroMac = "00:00:00:00:00:00";

    /// <summary>The state a VF has after reset: what Isola leaves behind when a VM goes.</summary>
    public static VfState Reset { get; } = new(ZeroMac, 0, 0, "802.1Q", SpoofCheck: true, Trust: false, VfLinkState.Auto, 0, 0);
}
