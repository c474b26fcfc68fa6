namespace Isola.Host.Config;

/// <summary>The naming rules the kernel and Neutron apply.</summary>
internal static class NetworkNames
{
    /// <summary>A Linux interface name: 1-15 bytes, no '/', ':' or whitespace (IFNAMSIZ - 1).</summary>
    public static bool IsNetDev(string name) =>
        name.Length is > 0 and <= 15 && name is not "." and not ".." && !name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c));

    /// <summary>A physical network name: 1-64 of letters, digits, '_', '-', '.'.</summary>
    public static bool IsPhysnet(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');
}
