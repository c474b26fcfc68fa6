using System.Net;
using System.Net.Sockets;
using Isola.Domain.Net;

namespace Isola.Server.Subnets;

/// <summary>
/// An IPv4 or IPv6 prefix ("10.0.0.0/24", "2001:db8::/64") and the address arithmetic subnets need:
/// addresses as 128-bit numbers, so both versions use the same code.
/// </summary>
internal sealed record Cidr(IPAddress Network, int Prefix)
{
    public int Version => Network.AddressFamily == AddressFamily.InterNetwork ? 4 : 6;

    public int Bits => Version == 4 ? 32 : 128;

    public UInt128 First => Number(Network);

    public UInt128 Last => First | HostMask(Bits, Prefix);

    /// <summary>The first address a host may have: not the network address (IPv4's, or IPv6's subnet-router anycast).</summary>
    public UInt128 FirstHost => First + 1;

    /// <summary>The last address a host may have: IPv4 keeps its broadcast address back, IPv6 has none.</summary>
    public UInt128 LastHost => Version == 4 ? Last - 1 : Last;

    public bool Contains(IPAddress address) => address.AddressFamily == Network.AddressFamily && Number(address) >= First && Number(address) <= Last;

    public bool Overlaps(Cidr other) => other.Version == Version && other.First <= Last && First <= other.Last;

    public IPAddress Address(UInt128 number) => FromNumber(number, Network.AddressFamily);

    public override string ToString() => $"{Network}/{Prefix}";

    /// <summary>
    /// Parses "address/prefix"; host bits must be zero (the error says which prefix was meant), or with
    /// <paramref name="clearHostBits"/> are cleared ("10.1.2.3/8" is 10.0.0.0/8).
    /// </summary>
    public static bool TryParse(string? text, out Cidr cidr, out string error, bool clearHostBits = false)
    {
        cidr = null!;
        var slash = text?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (text is null || slash < 0)
        {
            error = "must be a prefix like 10.0.0.0/24 or 2001:db8::/64";
            return false;
        }
        if (!IpAddressText.TryParse(text[..slash], out var address, out error))
            return false;
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix) || prefix > bits)
        {
            error = $"the prefix length of an IPv{(bits == 32 ? 4 : 6)} network is 0-{bits}";
            return false;
        }
        var number = Number(address);
        var network = number & ~HostMask(bits, prefix);
        if (network != number && !clearHostBits)
        {
            error = $"host bits are set: the network is {FromNumber(network, address.AddressFamily)}/{prefix}";
            return false;
        }
        cidr = new Cidr(FromNumber(network, address.AddressFamily), prefix);
        error = "";
        return true;
    }

    /// <summary>A prefix known to be well formed (a stored one).</summary>
    public static Cidr Parse(string text) => TryParse(text, out var cidr, out var error) ? cidr : throw new FormatException(error);

    public static UInt128 Number(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        UInt128 n = 0;
        for (var i = 0; i < written; i++)
            n = (n << 8) | bytes[i];
        return n;
    }

    public static IPAddress FromNumber(UInt128 number, AddressFamily family)
    {
        var length = family == AddressFamily.InterNetwork ? 4 : 16;
        var bytes = new byte[length];
        for (var i = length - 1; i >= 0; i--, number >>= 8)
            bytes[i] = (byte)(number & 0xff);
        return new IPAddress(bytes);
    }

    private static UInt128 HostMask(int bits, int prefix) => bits - prefix == 0 ? 0 : (bits - prefix == 128 ? UInt128.MaxValue : (UInt128.One << (bits - prefix)) - 1);
}
