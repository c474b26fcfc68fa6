using System.Globalization;
using Isola.Domain.Pci;

namespace Isola.Rendering.Vf;

/// <summary>
/// The <c>ip link set</c> commands that give a VF its settings, one concern per command so a
/// refusal names what was refused. Order: the PF up first (a VF passes traffic only while its PF
/// is up, and igb, ixgbe and i40e refuse a VF rate above the PF's link speed, which is 0 while it is
/// down: seen on the lab host's real igb), then MAC and VLAN, then checks and rates.
/// </summary>
public static class VfCommands
{
    /// <summary>Every command that makes the VF match <paramref name="s"/> (on igb, whose VFs have no settable link state, without <c>state</c>).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Program(VfSettings s) => [PfUp(s.PfNetDev), .. Settings(s)];

    /// <summary>The commands that put the VF back as Isola found it: MAC zeroed, VLAN 0, no rates, trust off, spoof check on, state auto (the PF is left as it is).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Reset(string pf, int vf, string? driver = null) =>
        Settings(new VfSettings("", pf, driver, default, default, vf, VfState.Reset));

    private static List<IReadOnlyList<string>> Settings(VfSettings s)
    {
        var commands = new List<IReadOnlyList<string>>
        {
            Mac(s.PfNetDev, s.VfIndex, s.Desired.Mac),
            Vlan(s.PfNetDev, s.VfIndex, s.Desired.Vlan, s.Desired.Qos, s.Desired.VlanProtocol),
            SpoofCheck(s.PfNetDev, s.VfIndex, s.Desired.SpoofCheck),
            Trust(s.PfNetDev, s.VfIndex, s.Desired.Trust),
        };
        if (VfDriverCapabilities.For(s.Driver).Can(VfNeeds.LinkState))
            commands.Add(LinkState(s.PfNetDev, s.VfIndex, s.Desired.LinkState));
        commands.Add(Rates(s.PfNetDev, s.VfIndex, s.Desired.MaxTxRateMbps, s.Desired.MinTxRateMbps));
        return commands;
    }

    /// <summary>Equivalent to: <c>ip link set dev $pf up</c> (nothing changes when it is up already).</summary>
    public static IReadOnlyList<string> PfUp(string pf) => ["ip", "link", "set", "dev", pf, "up"];

    /// <summary>Equivalent to: <c>ip link set dev $pf vf $vf mac $mac</c></summary>
    public static IReadOnlyList<string> Mac(string pf, int vf, string mac) => ["ip", "link", "set", "dev", pf, "vf", Num(vf), "mac", mac];

    /// <summary>Equivalent to: <c>ip link set dev $pf vf $vf vlan $vlan qos $qos proto $proto</c> (vlan 0: no port VLAN; proto only with a VLAN).</summary>
    public static IReadOnlyList<string> Vlan(string pf, int vf, int vlan, int qos, string protocol) =>
        vlan == 0
            ? ["ip", "link", "set", "dev", pf, "vf", Num(vf), "vlan", "0"]
            : ["ip", "link", "set", "dev", pf, "vf", Num(vf), "vlan", Num(vlan), "qos", Num(qos), "proto", protocol];

    /// <summary>Equivalent to: <c>ip link set dev $pf vf $vf spoofchk on|off</c></summary>
    public static IReadOnlyList<string> SpoofCheck(string pf, int vf, bool on) => ["ip", "link", "set", "dev", pf, "vf", Num(vf), "spoofchk", on ? "on" : "off"];

    /// <summary>Equivalent to: <c>ip link set dev $pf vf $vf trust on|off</c></summary>
    public static IReadOnlyList<string> Trust(string pf, int vf, bool on) => ["ip", "link", "set", "dev", pf, "vf", Num(vf), "trust", on ? "on" : "off"];

    /// <summary>Equivalent to: <c>ip link set dev $pf vf $vf state auto|enable|disable</c></summary>
    public static IReadOnlyList<string> LinkState(string pf, int vf, VfLinkState state) =>
        ["ip", "link", "set", "dev", pf, "vf", Num(vf), "state", state.ToString().ToLowerInvariant()];

    /// <summary>Equivalent to: <c>ip link set dev $pf vf $vf max_tx_rate $max min_tx_rate $min</c> — both always, see <see cref="VfDriverCapabilities"/>.</summary>
    public static IReadOnlyList<string> Rates(string pf, int vf, int maxMbps, int minMbps) =>
        ["ip", "link", "set", "dev", pf, "vf", Num(vf), "max_tx_rate", Num(maxMbps), "min_tx_rate", Num(minMbps)];

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);
}
