using System.Text;

namespace Isola.Rendering.Guest;

/// <summary>
/// cloud-init network configuration version 2 (netplan syntax) for the guest: each plain NIC by its
/// MAC, the two VFs of an HA bond by their predictable names, and the bond over them with the
/// port's MAC (active-backup by default, balance-rr or balance-xor when asked).
/// </summary>
public static class NetworkConfigRenderer
{
    public static string Render(string server, IReadOnlyList<GuestNic> nics)
    {
        var sb = new StringBuilder();
        sb.Append("# cloud-init network configuration (version 2) for ").Append(server).Append(", written by Isola\n");
        sb.Append("network:\n  version: 2\n  ethernets:\n");
        foreach (var nic in nics)
        {
            sb.Append("    ").Append(nic.Id).Append(":\n      match:\n");
            if (nic.Port.Ha)
            {
                sb.Append("        name: ").Append(nic.GuestName).Append('\n');
                sb.Append("      dhcp4: false\n      dhcp6: false\n");
                continue;
            }
            sb.Append("        macaddress: ").Append(YamlScalar.Quoted(nic.Port.Mac)).Append('\n');
            sb.Append("      set-name: ").Append(nic.Id).Append('\n');
            Addressing(sb, nic.Port, "      ");
        }
        var bonds = nics.Where(n => n.Port.Ha && n.Member == 0).ToList();
        if (bonds.Count == 0)
            return sb.ToString();
        sb.Append("  bonds:\n");
        foreach (var first in bonds)
        {
            var port = first.Port;
            var members = nics.Where(n => n.Port == port).Select(n => n.Id).ToList();
            sb.Append("    ").Append(GuestNicLayout.BondName(nics, port)).Append(":\n");
            sb.Append("      interfaces: [").Append(string.Join(", ", members)).Append("]\n");
            sb.Append("      macaddress: ").Append(YamlScalar.Quoted(port.Mac)).Append('\n');
            sb.Append("      parameters:\n");
            switch (port.BondMode)
            {
                case BondMode.ActiveBackup:
                    sb.Append("        mode: active-backup\n        primary: ").Append(members[0]).Append('\n');
                    sb.Append("        fail-over-mac-policy: none\n");
                    break;
                case BondMode.BalanceRr:
                    sb.Append("        mode: balance-rr\n");
                    break;
                case BondMode.BalanceXor:
                    sb.Append("        mode: balance-xor\n        transmit-hash-policy: layer3+4\n");
                    break;
            }
            sb.Append("        mii-monitor-interval: 100\n");
            Addressing(sb, port, "      ");
        }
        return sb.ToString();
    }

    /// <summary>Every destination, in the gateway's family.</summary>
    internal static string DefaultRoute(string gateway) => YamlScalar.Quoted(gateway.Contains(':', StringComparison.Ordinal) ? "::/0" : "0.0.0.0/0");

    private static void Addressing(StringBuilder sb, PortSpec port, string indent)
    {
        if (port.Mtu != 1500)
            sb.Append(indent).Append("mtu: ").Append(port.Mtu).Append('\n');
        var addresses = port.Addresses ?? [];
        if (addresses.Count == 0)
        {
            sb.Append(indent).Append("dhcp4: true\n");
            return;
        }
        sb.Append(indent).Append("dhcp4: false\n");
        sb.Append(indent).Append("addresses: [").Append(string.Join(", ", addresses.Select(YamlScalar.Quoted))).Append("]\n");
        // The default route's destination as a network, not netplan's "default": Debian 12's cloud-init (22.4) takes only
        // an address or network there, and on "default" fails its whole local stage (no network config applied at all).
        if (port.Gateway is { } gateway)
            sb.Append(indent).Append("routes:\n").Append(indent).Append("  - to: ").Append(DefaultRoute(gateway)).Append('\n')
                .Append(indent).Append("    via: ").Append(YamlScalar.Quoted(gateway)).Append('\n');
        if (port.DnsServers is { Count: > 0 } dns)
            sb.Append(indent).Append("nameservers:\n").Append(indent).Append("  addresses: [").Append(string.Join(", ", dns.Select(YamlScalar.Quoted))).Append("]\n");
    }
}
