namespace Isola.Domain.Pci;

/// <summary>
/// What a port asks of its VF beyond a MAC, a port VLAN and the checks every SR-IOV driver does:
/// settings only some PF drivers accept (see <see cref="VfDriverCapabilities"/>).
/// </summary>
[Flags]
public enum VfNeeds
{
    None = 0,
    /// <summary>A guaranteed TX rate (<c>min_tx_rate</c> &gt; 0).</summary>
    MinTxRate = 1,
    /// <summary>An 802.1ad (QinQ) port VLAN (<c>proto 802.1ad</c>).</summary>
    VlanProtocol8021ad = 2,
    /// <summary>A forced link state (<c>state enable|disable</c>).</summary>
    LinkState = 4,
}
