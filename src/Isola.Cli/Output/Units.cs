using System.Globalization;

namespace Isola.Cli.Output;

internal static class Units
{
    public static string GiB(long kib) => (kib / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";

    /// <summary>"512 B", "64.0 KiB", "1.5 GiB": a size in bytes for people.</summary>
    public static string Size(long bytes)
    {
        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        if (bytes < 1024)
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        var value = bytes / 1024.0;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>"1G", "2M": hugepage sizes as the kernel command line writes them.</summary>
    public static string PageSize(long kib) => kib >= 1048576 ? $"{kib / 1048576}G" : kib >= 1024 ? $"{kib / 1024}M" : $"{kib}K";

    public static string Speed(int? mbps) => mbps switch
    {
        null => "down",
        >= 1000 => $"{mbps / 1000}G",
        _ => $"{mbps}M",
    };
}
