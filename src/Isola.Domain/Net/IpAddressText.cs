using System.Net;
using System.Net.Sockets;

namespace Isola.Domain.Net;

/// <summary>
/// An IP address as Isola takes one from people and documents: IPv4 only as a canonical dotted quad
/// (<see cref="IPAddress.TryParse(string?, out IPAddress?)"/> also takes "10.1" for 10.0.0.1 and "010.0.0.1" as octal),
/// IPv6 without a zone.
/// </summary>
public static class IpAddressText
{
    public static bool TryParse(string? text, out IPAddress address)
    {
        if (text is null || text.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(text, out var parsed)
            || (parsed.AddressFamily == AddressFamily.InterNetwork && parsed.ToString() != text))
        {
            address = IPAddress.None;
            return false;
        }
        address = parsed;
        return true;
    }
}
