using System.Text;
using System.Text.Json;
using Isola.Domain.Pci;

namespace Isola.Host.IpLink;

/// <summary>
/// Writes what <c>ip -d -j link show dev PF</c> prints for a PF and its VFs, in iproute2's field
/// order and with its habit of leaving default VLAN fields out. Simulated hosts answer with it.
/// </summary>
public static class IpLinkRenderer
{
    public static string Render(PhysicalFunction pf, int ifIndex)
    {
        ArgumentNullException.ThrowIfNull(pf.NetDev);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartArray();
            w.WriteStartObject();
            w.WriteNumber("ifindex", ifIndex);
            w.WriteString("ifname", pf.NetDev);
            w.WriteStartArray("flags");
            foreach (var flag in pf.LinkSpeedMbps is null ? ["BROADCAST", "MULTICAST"] : new[] { "BROADCAST", "MULTICAST", "UP", "LOWER_UP" })
                w.WriteStringValue(flag);
            w.WriteEndArray();
            w.WriteNumber("mtu", 1500);
            w.WriteString("qdisc", "mq");
            w.WriteString("operstate", pf.LinkSpeedMbps is null ? "DOWN" : "UP");
            w.WriteString("linkmode", "DEFAULT");
            w.WriteString("group", "default");
            w.WriteNumber("txqlen", 1000);
            w.WriteString("link_type", "ether");
            w.WriteString("address", pf.Mac ?? VfState.ZeroMac);
            w.WriteString("broadcast", "ff:ff:ff:ff:ff:ff");
            w.WriteNumber("promiscuity", 0);
            w.WriteNumber("min_mtu", 68);
            w.WriteNumber("max_mtu", 9710);
            w.WriteNumber("num_tx_queues", 64);
            w.WriteNumber("num_rx_queues", 64);
            w.WriteString("parentbus", "pci");
            w.WriteString("parentdev", pf.Address.ToString());
            if (pf.Vfs.Count > 0)
            {
                w.WriteStartArray("vfinfo_list");
                foreach (var vf in pf.Vfs)
                    WriteVf(w, vf.Index, vf.State ?? VfState.Reset);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteVf(Utf8JsonWriter w, int index, VfState s)
    {
        w.WriteStartObject();
        w.WriteNumber("vf", index);
        w.WriteString("link_type", "ether");
        w.WriteString("address", s.Mac);
        w.WriteString("broadcast", "ff:ff:ff:ff:ff:ff");
        w.WriteStartArray("vlan_list");
        w.WriteStartObject();
        if (s.Vlan != 0)
            w.WriteNumber("vlan", s.Vlan);
        if (s.Qos != 0)
            w.WriteNumber("qos", s.Qos);
        if (s.VlanProtocol != "802.1Q")
            w.WriteString("protocol", s.VlanProtocol);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteStartObject("rate");
        w.WriteNumber("max_tx", s.MaxTxRateMbps);
        w.WriteNumber("min_tx", s.MinTxRateMbps);
        w.WriteEndObject();
        w.WriteBoolean("spoofchk", s.SpoofCheck);
        w.WriteString("link_state", s.LinkState.ToString().ToLowerInvariant());
        w.WriteBoolean("trust", s.Trust);
        w.WriteBoolean("query_rss_en", false);
        w.WriteEndObject();
    }
}
