using System.Globalization;

namespace Isola.Cli.Planning;

/// <summary>Port MACs in OpenStack's fa:16:3e prefix, unique, from a seeded random (same seed, same MACs).</summary>
internal sealed class MacAllocator(int seed)
{
    private readonly Random _random = new(seed);
    private readonly HashSet<int> _used = [];

    public string Next()
    {
        if (_used.Count >= 1 << 24)
            throw new InvalidOperationException("all 2^24 fa:16:3e MACs are used");
        int suffix;
        do
        {
            suffix = _random.Next(1 << 24);
        }
        while (!_used.Add(suffix));
        return string.Create(CultureInfo.InvariantCulture, $"fa:16:3e:{suffix >> 16:x2}:{(suffix >> 8) & 0xff:x2}:{suffix & 0xff:x2}");
    }
}
