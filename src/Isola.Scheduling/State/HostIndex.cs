namespace Isola.Scheduling.State;

/// <summary>
/// Hosts bucketed by what they can still take, so a request looks only at hosts that might fit:
/// by the most free pinnable pCPUs in any one cell, and by free small-page memory (GiB). Within a
/// bucket hosts are in index order, so walks are deterministic.
/// </summary>
public sealed class HostIndex
{
    public const int MaxThreadsKey = 512;
    public const int MaxMemoryKey = 1024;

    private readonly SortedSet<int>[] _byThreads = NewBuckets(MaxThreadsKey + 1);
    private readonly SortedSet<int>[] _byMemory = NewBuckets(MaxMemoryKey + 1);
    private readonly Dictionary<int, (int Threads, int Memory)> _keys = [];

    public int Count => _keys.Count;

    public static int ThreadsKey(HostState h) => Math.Min(h.MaxCellFreeThreads, MaxThreadsKey);

    public static int MemoryKey(HostState h) => (int)Math.Min(h.SmallFreeMiB / 1024, MaxMemoryKey);

    public void Update(HostState host)
    {
        if (_keys.TryGetValue(host.Index, out var old))
        {
            _byThreads[old.Threads].Remove(host.Index);
            _byMemory[old.Memory].Remove(host.Index);
        }
        var keys = (ThreadsKey(host), MemoryKey(host));
        _byThreads[keys.Item1].Add(host.Index);
        _byMemory[keys.Item2].Add(host.Index);
        _keys[host.Index] = keys;
    }

    /// <summary>
    /// Host indexes with key at least <paramref name="minKey"/>: highest keys first (the emptiest,
    /// for spread) or lowest first (the fullest that may fit, for pack).
    /// </summary>
    public IEnumerable<int> Walk(bool byMemory, int minKey, bool emptiestFirst)
    {
        var buckets = byMemory ? _byMemory : _byThreads;
        minKey = Math.Clamp(minKey, 0, buckets.Length - 1);
        var step = emptiestFirst ? -1 : 1;
        var end = emptiestFirst ? minKey - 1 : buckets.Length;
        for (var k = emptiestFirst ? buckets.Length - 1 : minKey; k != end; k += step)
        {
            // Enumerating a SortedSet allocates; most buckets are empty.
            if (buckets[k].Count == 0)
                continue;
            foreach (var host in buckets[k])
                yield return host;
        }
    }

    /// <summary>Hosts whose key is below <paramref name="minKey"/>: those a walk from it skips.</summary>
    public int CountBelow(bool byMemory, int minKey)
    {
        var buckets = byMemory ? _byMemory : _byThreads;
        var n = 0;
        for (var k = 0; k < Math.Min(minKey, buckets.Length); k++)
            n += buckets[k].Count;
        return n;
    }

    private static SortedSet<int>[] NewBuckets(int n) => Enumerable.Range(0, n).Select(_ => new SortedSet<int>()).ToArray();
}
