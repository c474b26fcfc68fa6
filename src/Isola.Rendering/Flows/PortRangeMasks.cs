using System.Globalization;

namespace Isola.Rendering.Flows;

/// <summary>
/// A port range as OpenFlow can match it: the fewest value/mask pairs that cover exactly
/// [min, max] (OpenFlow has no range match).
/// </summary>
public static class PortRangeMasks
{
    /// <summary>The matches for <c>field</c> (e.g. <c>tp_dst</c>): <c>tp_dst=80</c>, <c>tp_dst=0x400/0xfc00</c>, ...</summary>
    public static IReadOnlyList<string> Matches(string field, int min, int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(min);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(max, 0xffff);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(min, max);
        var matches = new List<string>();
        foreach (var (value, mask) in Blocks(min, max))
            matches.Add(mask == 0xffff
                ? $"{field}={value.ToString(CultureInfo.InvariantCulture)}"
                : $"{field}=0x{value.ToString("x", CultureInfo.InvariantCulture)}/0x{mask.ToString("x", CultureInfo.InvariantCulture)}");
        return matches;
    }

    /// <summary>Aligned power-of-two blocks covering [min, max], largest first from min.</summary>
    public static IEnumerable<(int Value, int Mask)> Blocks(int min, int max)
    {
        var start = min;
        while (start <= max)
        {
            var size = 1;
            // Grow the block while it stays aligned at start and inside the range.
            while ((start & (size * 2 - 1)) == 0 && start + size * 2 - 1 <= max && size < 0x10000)
                size *= 2;
            yield return (start, 0xffff & ~(size - 1));
            start += size;
        }
    }
}
