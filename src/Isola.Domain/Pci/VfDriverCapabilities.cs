namespace Isola.Domain.Pci;

/// <summary>
/// What a PF driver's <c>ndo_set_vf_*</c> accepts, as the Linux drivers implement them. The one
/// table both ends use: the scheduler gives a port only VFs whose PF driver can do what the port
/// <see cref="VfNeeds">needs</see>, and the host plan refuses (last defence) a VF that cannot.
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
/// Unknown drivers (and a PF without one) are taken as able to do everything; the agent reports
/// what the kernel refuses.
/// </summary>
/// <param name="Supports">The needs its VFs can meet.</param>
public sealed record VfDriverCapabilities(string Driver, VfNeeds Supports)
{
    private const VfNeeds All = VfNeeds.MinTxRate | VfNeeds.VlanProtocol8021ad | VfNeeds.LinkState;

    private static readonly Dictionary<string, VfDriverCapabilities> Known = new(StringComparer.Ordinal)
    {
        ["igb"] = new("igb", VfNeeds.None),
        ["ixgbe"] = new("ixgbe", VfNeeds.LinkState),
        ["i40e"] = new("i40e", VfNeeds.LinkState),
        ["mlx5_core"] = new("mlx5_core", All),
        ["ice"] = new("ice", All),
    };

    public static VfDriverCapabilities For(string? driver) =>
        driver is not null && Known.TryGetValue(driver, out var known) ? known : new(driver ?? "unknown", All);

    /// <summary>Whether its VFs can meet every one of <paramref name="needs"/>.</summary>
    public bool Can(VfNeeds needs) => (needs & ~Supports) == 0;

    /// <summary>Those of <paramref name="needs"/> its VFs cannot meet.</summary>
    public VfNeeds Lacks(VfNeeds needs) => needs & ~Supports;

    /// <summary>What the needs ask in words, to follow "can": "guarantee a minimum TX rate and force a link state".</summary>
    public static string Describe(VfNeeds needs)
    {
        var parts = new List<string>(3);
        if ((needs & VfNeeds.MinTxRate) != 0)
            parts.Add("guarantee a minimum TX rate");
        if ((needs & VfNeeds.VlanProtocol8021ad) != 0)
            parts.Add("tag an 802.1ad port VLAN");
        if ((needs & VfNeeds.LinkState) != 0)
            parts.Add("force a VF link state");
        return parts.Count == 0 ? "do nothing special" : string.Join(" and ", parts);
    }
}
