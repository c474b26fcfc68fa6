using System.Text.Json;
using Isola.Domain.Pci;

namespace Isola.Host.IpLink;

/// <summary>
/// Reads the VF settings out of <c>ip -d -j link show dev PF</c>. Follows iproute2's JSON:
/// each <c>vfinfo_list</c> entry has <c>vf</c>, <c>address</c>, <c>vlan_list</c> (entries with
/// <c>vlan</c>, <c>qos</c>, <c>protocol</c>, each printed only when not the default) or, from older
/// kernels, <c>vlan</c>/<c>qos</c> directly, <c>rate</c> {<c>max_tx</c>, <c>min_tx</c>} or the older
/// <c>tx_rate</c>, <c>spoofchk</c>, <c>link_state</c>, <c>trust</c>.
/// </summary>
public static class IpLinkParser
{
    /// <summary>Whether the link is administratively up (<c>UP</c> among <c>ip -j link show</c>'s flags); null when the output says nothing.</summary>
    public static bool? AdminUp(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Array && doc.RootElement.GetArrayLength() > 0
                && doc.RootElement[0].TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Array
                ? flags.EnumerateArray().Any(f => f.ValueKind == JsonValueKind.String && f.GetString() == "UP")
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The link's operstate in <c>ip -j link show</c>'s words (UP, DOWN, UNKNOWN, ...); null when the output has none.</summary>
    public static string? OperState(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Array && doc.RootElement.GetArrayLength() > 0
                && doc.RootElement[0].TryGetProperty("operstate", out var state) && state.ValueKind == JsonValueKind.String ? state.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>VF index → state. Throws <see cref="FormatException"/> for output that is not iproute2's.</summary>
    public static IReadOnlyDictionary<int, VfState> ParseVfStates(string json, string pf)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"ip -j output for {pf} is not JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new FormatException($"ip -j output for {pf} is not a JSON array of links");
            var link = doc.RootElement.EnumerateArray()
                .FirstOrDefault(l => l.ValueKind == JsonValueKind.Object &&
                                     l.TryGetProperty("ifname", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == pf);
            if (link.ValueKind != JsonValueKind.Object)
                throw new FormatException($"ip -j output has no link named {pf}");
            var states = new Dictionary<int, VfState>();
            if (!link.TryGetProperty("vfinfo_list", out var list))
                return states;
            if (list.ValueKind != JsonValueKind.Array)
                throw new FormatException($"vfinfo_list of {pf} is not an array");
            foreach (var vf in list.EnumerateArray())
            {
                var index = Int(vf, "vf") ?? throw new FormatException($"a vfinfo_list entry of {pf} has no vf number");
                states[index] = ParseOne(vf, pf, index);
            }
            return states;
        }
    }

    private static VfState ParseOne(JsonElement vf, string pf, int index)
    {
        var mac = Str(vf, "address") ?? Str(vf, "mac") ?? throw new FormatException($"{pf} vf {index} has no address");
        int vlan = Int(vf, "vlan") ?? 0, qos = Int(vf, "qos") ?? 0;
        var protocol = "802.1Q";
        if (vf.TryGetProperty("vlan_list", out var vlans) && vlans.ValueKind == JsonValueKind.Array)
        {
            foreach (var entry in vlans.EnumerateArray())
            {
                vlan = Int(entry, "vlan") ?? 0;
                qos = Int(entry, "qos") ?? 0;
                protocol = Str(entry, "protocol") ?? "802.1Q";
                break; // The kernel reports one port VLAN per VF.
            }
        }
        int maxTx = Int(vf, "tx_rate") ?? 0, minTx = 0;
        if (vf.TryGetProperty("rate", out var rate) && rate.ValueKind == JsonValueKind.Object)
        {
            maxTx = Int(rate, "max_tx") ?? maxTx;
            minTx = Int(rate, "min_tx") ?? 0;
        }
        var linkState = Str(vf, "link_state") switch
        {
            null or "auto" => VfLinkState.Auto,
            "enable" => VfLinkState.Enable,
            "disable" => VfLinkState.Disable,
            var other => throw new FormatException($"{pf} vf {index} has link_state '{other}'"),
        };
        // Drivers that cannot report a setting leave it out; the kernel defaults are spoof check on, trust off.
        return new VfState(mac.ToLowerInvariant(), vlan, qos, protocol,
            Bool(vf, "spoofchk") ?? true, Bool(vf, "trust") ?? false, linkState, maxTx, minTx);
    }

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) ? p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var v)
            ? v
            : throw new FormatException($"'{name}' is not an integer") : null;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) ? p.ValueKind == JsonValueKind.String
            ? p.GetString()
            : throw new FormatException($"'{name}' is not a string") : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) ? p.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new FormatException($"'{name}' is not a boolean"),
        } : null;
}
