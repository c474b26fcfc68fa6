using System.Globalization;
using System.Text.RegularExpressions;

namespace Isola.Agent.Driver;

/// <summary>
/// A connection conntrack holds, from a <c>dpctl/dump-conntrack</c> line such as
/// <c>tcp,orig=(src=10.1.0.11,dst=10.1.0.12,sport=40000,dport=8080),reply=(...),zone=5,protoinfo=(state=ESTABLISHED)</c>.
/// </summary>
/// <param name="Tuple">Its original direction as <c>dpctl/flush-conntrack</c> takes it.</param>
public sealed partial record ConntrackEntry(string Protocol, string Source, string Destination, string Tuple)
{
    /// <summary>The entry, or null for a line that is not one (TCP, UDP, ICMP and ICMPv6 only).</summary>
    public static ConntrackEntry? Parse(string line)
    {
        var m = Line().Match(line);
        if (!m.Success)
            return null;
        var protocol = m.Groups[1].Value;
        var fields = m.Groups[2].Value.Split(',').Select(f => f.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
        if (!fields.TryGetValue("src", out var src) || !fields.TryGetValue("dst", out var dst))
            return null;
        var v6 = src.Contains(':', StringComparison.Ordinal);
        var address = v6 ? $"ct_ipv6_src={src},ct_ipv6_dst={dst}" : $"ct_nw_src={src},ct_nw_dst={dst}";
        var tuple = protocol switch
        {
            "tcp" or "udp" when fields.TryGetValue("sport", out var sport) && fields.TryGetValue("dport", out var dport) =>
                $"{address},ct_nw_proto={(protocol == "tcp" ? 6 : 17)},ct_tp_src={sport},ct_tp_dst={dport}",
            "icmp" or "icmp6" when fields.TryGetValue("id", out var id) && fields.TryGetValue("type", out var type) && fields.TryGetValue("code", out var code) =>
                $"{address},ct_nw_proto={(protocol == "icmp" ? 1 : 58)},icmp_id={id},icmp_type={type},icmp_code={code}",
            _ => null,
        };
        return tuple is null ? null : new ConntrackEntry(protocol, src, dst, tuple);
    }

    [GeneratedRegex(@"^(tcp|udp|icmp|icmp6),orig=\(([^)]*)\)")]
    private static partial Regex Line();
}
