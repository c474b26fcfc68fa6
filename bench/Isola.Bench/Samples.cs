using System.Diagnostics;

namespace Isola.Bench;

/// <summary>Decision latencies of one measured phase, with what else the phase counted.</summary>
internal sealed class Samples(int capacity)
{
    private readonly long[] _ticks = new long[capacity];

    public int Capacity => _ticks.Length;

    public int Count { get; private set; }

    public int Failures { get; set; }

    public long HostsEvaluated { get; set; }

    public long AllocatedBytes { get; set; }

    public void Add(long ticks) => _ticks[Count++] = ticks;

    public double TotalSeconds => (double)_ticks.AsSpan(0, Count).ToArray().Sum() / Stopwatch.Frequency;

    public double PlacementsPerSecond => Count / TotalSeconds;

    public double MeanHostsEvaluated => (double)HostsEvaluated / Count;

    public double AllocatedKiBPerDecision => AllocatedBytes / 1024.0 / Count;

    /// <summary>Nearest-rank percentile in microseconds (p = 1 is the maximum).</summary>
    public double PercentileMicros(double p)
    {
        var sorted = _ticks.AsSpan(0, Count).ToArray();
        Array.Sort(sorted);
        var rank = Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[rank] * 1e6 / Stopwatch.Frequency;
    }
}
