using System.Net;
using System.Net.Sockets;

namespace Isola.Domain.Net;

/// <summary>
/// An IP address as Isola takes one from people, and the one parser of them (subnets and their DNS
/// servers, fixed IPs, a port's guest addresses, a host's tunnel endpoint). The text is the address
/// and nothing else: IPv4 as a canonical dotted quad (<see cref="IPAddress.TryParse(string?, out IPAddress?)"/>
/// also takes "10.1" for 10.0.0.1 and "010.0.0.1" as octal), IPv6 as hex groups — no brackets, no
/// port, no zone (it also takes "[2001:db8::1]:53" and "fe80::1%eth0"), no white space. Write what
/// it gives with <see cref="IPAddress.ToString()"/>: that is the canonical text.
/// </summary>
public static class IpAddressText
{
    public static bool TryParse(string? text, out IPAddress address) => TryParse(text, out address, out _);

    /// <summary>The address, or false with why it is not one (quoting <paramref name="text"/>).</summary>
    public static bool TryParse(string? text, out IPAddress address, out string error)
    {
        if (text is not null && IPAddress.TryParse(text, out var parsed)
            && (parsed.AddressFamily == AddressFamily.InterNetwork ? parsed.ToString() == text : text.All(IsIpv6Character)))
        {
            address = parsed;
            error = "";
            return true;
        }
        address = IPAddress.None;
        var why = text switch
        {
            null => "",
            _ when text.Contains('[', StringComparison.Ordinal) || text.Contains(']', StringComparison.Ordinal) => " (the address alone: no brackets, no port)",
            _ when text.Contains('%', StringComparison.Ordinal) => " (no zone: a zone names one machine's interface)",
            _ => "",
        };
        error = $"'{text}' is not an IPv4 (a.b.c.d) or IPv6 address{why}";
        return false;
    }

    // An IPv6 address is hex groups and colons, with a dotted quad at the end for the IPv4-mapped form.
    private static bool IsIpv6Character(char c) => char.IsAsciiHexDigit(c) || c is ':' or '.';
}
