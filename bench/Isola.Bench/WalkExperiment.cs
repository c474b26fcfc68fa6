using Isola.Scheduling.State;

namespace Isola.Bench;

/// <summary>
/// A copy of <see cref="HostIndex"/>'s buckets over the same hosts, to time its walk as it is and
/// with empty buckets skipped before an enumerator is made for them.
/// </summary>
internal sealed class WalkExperiment
{
    private readonly SortedSet<int>[] _buckets;
    private readonly int _minKey;

    public WalkExperiment(FleetState fleet, bool byMemory, int minKey)
    {
        _buckets = Enumerable.Range(0, (byMemory ? HostIndex.MaxMemoryKey : HostIndex.MaxThreadsKey) + 1).Select(_ => new SortedSet<int>()).ToArray();
        foreach (var host in fleet.Hosts)
            _buckets[byMemory ? HostIndex.MemoryKey(host) : HostIndex.ThreadsKey(host)].Add(host.Index);
        _minKey = minKey;
    }

    /// <summary>Emptiest first, as HostIndex.Walk does: an enumerator for every bucket, empty or not.</summary>
    public IEnumerable<int> AsIs()
    {
        for (var k = _buckets.Length - 1; k >= _minKey; k--)
        {
            foreach (var host in _buckets[k])
                yield return host;
        }
    }

    /// <summary>The same order, empty buckets skipped.</summary>
    public IEnumerable<int> SkippingEmpty()
    {
        for (var k = _buckets.Length - 1; k >= _minKey; k--)
        {
            if (_buckets[k].Count == 0)
                continue;
            foreach (var host in _buckets[k])
                yield return host;
        }
    }
}
