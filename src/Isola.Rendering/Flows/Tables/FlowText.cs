using System.Globalization;

namespace Isola.Rendering.Flows.Tables;

/// <summary>How values are spelled in flows (as ovs-ofctl prints them back, so diff-flows sees no difference).</summary>
internal static class FlowText
{
    public const string BroadcastOrMulticast = "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00";

    public static string Mac(string mac) => mac.ToLowerInvariant();

    public static string Hex(long value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
