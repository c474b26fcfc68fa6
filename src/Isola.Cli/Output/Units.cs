using System.Globalization;

namespace Isola.Cli.Output;

internal static class Units
{
    public static string GiB(long kib) => (kib / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";

    /// <summary>"1G", "2M": hugepage sizes as the kernel command line writes them.</summary>
    public static string PageSize(long kib) => kib >= 1048576 ? $"{kib / 1048576}G" : kib >= 1024 ? $"{kib / 1024}M" : $"{kib}K";

    public static string Speed(int? mbps) => mbps switch
    {
        null => "down",
        >= 1000 => $"{mbps / 1000}G",
        _ => $"{mbps}M",
    };
}
