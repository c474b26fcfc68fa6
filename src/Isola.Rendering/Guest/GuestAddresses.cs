using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Isola.Domain.Net;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Guest;

/// <summary>
/// The addresses a port hands its guest (static addresses with their prefix, the gateway, DNS servers):
/// each must be an IP address (<see cref="IpAddressText"/>), written in its canonical text into the
/// guest's network configuration. One rule for the API (port create) and the host plan (which refuses what slipped past).
/// </summary>
public static class GuestAddresses
{
    /// <summary>An address with its prefix length ("10.0.0.5/24", "2001:db8::5/64"), canonical; false with the reason when it is not one.</summary>
    public static bool TryCidr(string? text, out string canonical, out string error)
    {
        canonical = "";
        var slash = text?.IndexOf('/') ?? -1;
        if (text is null || slash <= 0)
        {
            error = $"'{text}' is not an address with its prefix length (10.0.0.5/24 or 2001:db8::5/64)";
            return false;
        }
        if (!IpAddressText.TryParse(text[..slash], out var address, out error))
            return false;
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = text[(slash + 1)..];
        if (prefix.Length is 0 or > 3 || !prefix.All(char.IsAsciiDigit) || int.Parse(prefix, CultureInfo.InvariantCulture) > max)
        {
            error = $"'{prefix}' is not a prefix length 0-{max}";
            return false;
        }
        canonical = $"{address}/{int.Parse(prefix, CultureInfo.InvariantCulture)}";
        error = "";
        return true;
    }

    /// <summary>What is wrong with a port's guest addresses, fields under <paramref name="prefix"/> ("" for the API, "ports[i]." for a plan).</summary>
    public static IEnumerable<RequestError> Check(IReadOnlyList<string>? addresses, string? gateway, IReadOnlyList<string>? dns, string prefix)
    {
        for (var i = 0; i < (addresses?.Count ?? 0); i++)
        {
            if (!TryCidr(addresses![i], out _, out var error))
                yield return new RequestError($"{prefix}addresses[{i}]", error);
        }
        if (gateway is not null && !IpAddressText.TryParse(gateway, out _, out var gatewayError))
            yield return new RequestError($"{prefix}gateway", gatewayError);
        for (var i = 0; i < (dns?.Count ?? 0); i++)
        {
            if (!IpAddressText.TryParse(dns![i], out _, out var dnsError))
                yield return new RequestError($"{prefix}dnsServers[{i}]", dnsError);
        }
    }
}
