namespace Isola.Rendering.Vf;

/// <summary>
/// What a PF driver's <c>ndo_set_vf_*</c> accepts, as the Linux drivers implement them.
/// <list type="bullet">
/// <item>igb, ixgbe, i40e: no guaranteed (min) TX rate — <c>ndo_set_vf_rate</c> returns EINVAL for
/// a min_tx_rate other than 0; no 802.1ad port VLAN — <c>ndo_set_vf_vlan</c> returns
/// EPROTONOSUPPORT for a protocol other than 802.1Q.</item>
/// <item>mlx5_core, ice: both rates and 802.1ad.</item>
/// <item>igb: no <c>ndo_set_vf_link_state</c> — <c>ip link set ... vf N state</c> fails with "Operation
/// not supported", so Isola leaves the state alone on igb (it is auto) and refuses enable/disable.</item>
/// <item>Any driver: the two rates travel in one netlink attribute (IFLA_VF_RATE), so Isola always
/// sends both: setting max alone through an old iproute2 would send min 0 and clear a guarantee.</item>
/// <item>Any driver: a MAC of 00:00:00:00:00:00 clears the administrative MAC (reset).</item>
/// </list>
/// Unknown drivers are taken as able to do everything; the agent reports what the kernel refuses.
/// </summary>
public sealed record DriverQuirks(string Driver, bool MinTxRate, bool VlanProtocol8021ad, bool LinkState = true)
{
    private static readonly Dictionary<string, DriverQuirks> Known = new(StringComparer.Ordinal)
    {
        ["igb"] = new("igb", MinTxRate: false, VlanProtocol8021ad: false, LinkState: false),
        ["ixgbe"] = new("ixgbe", MinTxRate: false, VlanProtocol8021ad: false),
        ["i40e"] = new("i40e", MinTxRate: false, VlanProtocol8021ad: false),
        ["mlx5_core"] = new("mlx5_core", MinTxRate: true, VlanProtocol8021ad: true),
        ["ice"] = new("ice", MinTxRate: true, VlanProtocol8021ad: true),
    };

    public static DriverQuirks For(string? driver) =>
        driver is not null && Known.TryGetValue(driver, out var q) ? q : new DriverQuirks(driver ?? "unknown", true, true);
}
