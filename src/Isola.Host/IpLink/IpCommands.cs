namespace Isola.Host.IpLink;

/// <summary>The iproute2 commands Isola issues, as argv.</summary>
public static class IpCommands
{
    /// <summary>Equivalent to: <c>ip -d -j link show dev $pf</c> (details, JSON, with the PF's vfinfo_list).</summary>
    public static IReadOnlyList<string> LinkShowDetails(string pf) => ["ip", "-d", "-j", "link", "show", "dev", pf];
}
