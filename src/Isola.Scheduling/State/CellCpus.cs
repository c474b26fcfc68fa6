using Isola.Scheduling.Requests;

namespace Isola.Scheduling.State;

/// <summary>
/// The pCPUs of one NUMA cell that may be pinned, grouped by core (SMT siblings), with which are free.
/// Picking is deterministic: same state, same request, same pCPUs.
/// </summary>
public sealed class CellCpus
{
    private readonly int[][] _cores;
    private readonly int[] _freeMask;
    private readonly Dictionary<int, (int Core, int Bit)> _where = [];

    public CellCpus(IEnumerable<IReadOnlyList<int>> cores)
    {
        _cores = cores.Select(c => c.Order().ToArray()).Where(c => c.Length > 0).OrderBy(c => c[0]).ToArray();
        _freeMask = _cores.Select(c => (1 << c.Length) - 1).ToArray();
        for (var core = 0; core < _cores.Length; core++)
        {
            for (var bit = 0; bit < _cores[core].Length; bit++)
                _where[_cores[core][bit]] = (core, bit);
        }
        FreeThreads = _cores.Sum(c => c.Length);
        FreeFullCores = _cores.Length;
        ThreadsPerCore = _cores.Length == 0 ? 1 : _cores.Max(c => c.Length);
    }

    public int FreeThreads { get; private set; }

    /// <summary>Cores whose every thread is free.</summary>
    public int FreeFullCores { get; private set; }

    public int ThreadsPerCore { get; }

    public int TotalThreads => _where.Count;

    public bool Contains(int cpu) => _where.ContainsKey(cpu);

    public bool IsFree(int cpu) => _where.TryGetValue(cpu, out var w) && (_freeMask[w.Core] & (1 << w.Bit)) != 0;

    /// <summary>Whether <paramref name="count"/> pCPUs can be pinned here under the thread policy.</summary>
    public bool CanPin(int count, CpuThreadPolicy policy) => policy switch
    {
        CpuThreadPolicy.Isolate => FreeFullCores >= count,
        CpuThreadPolicy.Require => FreeSmtThreads() >= count,
        _ => FreeThreads >= count,
    };

    /// <summary>
    /// Chooses pCPUs without taking them. isolate: one thread of each of <paramref name="count"/> whole
    /// free cores, their siblings kept from everyone (<paramref name="reserved"/>). require: the threads
    /// of whole free cores, in sibling order. prefer: whole free cores first so vCPU pairs are
    /// siblings, the rest from the most used cores (keeping whole cores whole for others).
    /// </summary>
    public bool TryPick(int count, CpuThreadPolicy policy, List<int> pinned, List<int> reserved)
    {
        if (!CanPin(count, policy))
            return false;
        var need = count;
        switch (policy)
        {
            case CpuThreadPolicy.Isolate:
                for (var core = 0; core < _cores.Length && need > 0; core++)
                {
                    if (!IsWhole(core))
                        continue;
                    pinned.Add(_cores[core][0]);
                    for (var t = 1; t < _cores[core].Length; t++)
                        reserved.Add(_cores[core][t]);
                    need--;
                }
                return need == 0;
            case CpuThreadPolicy.Require:
                for (var core = 0; core < _cores.Length && need > 0; core++)
                {
                    if (_cores[core].Length < 2 || !IsWhole(core))
                        continue;
                    for (var t = 0; t < _cores[core].Length && need > 0; t++, need--)
                        pinned.Add(_cores[core][t]);
                }
                return need == 0;
        }
        Span<bool> used = _cores.Length <= 512 ? stackalloc bool[_cores.Length] : new bool[_cores.Length];
        if (ThreadsPerCore > 1)
        {
            for (var core = 0; core < _cores.Length; core++)
            {
                if (!IsWhole(core))
                    continue;
                if (need < _cores[core].Length)
                    break;
                pinned.AddRange(_cores[core]);
                used[core] = true;
                need -= _cores[core].Length;
            }
        }
        // Best fit for the rest: cores with the fewest free threads first, then lower ids.
        for (var want = 1; want <= ThreadsPerCore && need > 0; want++)
        {
            for (var core = 0; core < _cores.Length && need > 0; core++)
            {
                if (used[core] || int.PopCount(_freeMask[core]) != want)
                    continue;
                for (var bit = 0; bit < _cores[core].Length && need > 0; bit++)
                {
                    if ((_freeMask[core] & (1 << bit)) != 0)
                    {
                        pinned.Add(_cores[core][bit]);
                        need--;
                    }
                }
            }
        }
        return need == 0;
    }

    private bool IsWhole(int core) => _freeMask[core] == (1 << _cores[core].Length) - 1;

    /// <summary>
    /// Threads of whole free cores that have SMT siblings: what require can use. A core with one
    /// pinnable thread (its sibling offline or not isolated) has no sibling to offer.
    /// </summary>
    private int FreeSmtThreads()
    {
        var n = 0;
        for (var core = 0; core < _cores.Length; core++)
        {
            if (_cores[core].Length > 1 && IsWhole(core))
                n += _cores[core].Length;
        }
        return n;
    }

    public bool AllFree(IEnumerable<int> cpus) => cpus.All(IsFree);

    public void Take(IEnumerable<int> cpus) => Set(cpus, free: false);

    public void Free(IEnumerable<int> cpus) => Set(cpus, free: true);

    private void Set(IEnumerable<int> cpus, bool free)
    {
        foreach (var cpu in cpus)
        {
            var (core, bit) = _where[cpu];
            var wasFull = _freeMask[core] == (1 << _cores[core].Length) - 1;
            var isFree = (_freeMask[core] & (1 << bit)) != 0;
            if (isFree == free)
                throw new InvalidOperationException($"pCPU {cpu} is already {(free ? "free" : "taken")}");
            _freeMask[core] ^= 1 << bit;
            FreeThreads += free ? 1 : -1;
            var isFull = _freeMask[core] == (1 << _cores[core].Length) - 1;
            FreeFullCores += (isFull ? 1 : 0) - (wasFull ? 1 : 0);
        }
    }

    /// <summary>The free state, for comparing two states exactly.</summary>
    public string Fingerprint() => string.Join(',', _freeMask);

    /// <summary>The other threads of <paramref name="cpu"/>'s core.</summary>
    public IEnumerable<int> SiblingsOf(int cpu)
    {
        var (core, _) = _where[cpu];
        return _cores[core].Where(c => c != cpu);
    }

    /// <summary>Of the cores <paramref name="a"/> and <paramref name="b"/> would use: how many were whole and would be left partly used, and how many in all.</summary>
    public (int Broken, int Touched) CoreUse(List<int> a, List<int> b)
    {
        Span<int> taken = _cores.Length <= 512 ? stackalloc int[_cores.Length] : new int[_cores.Length];
        foreach (var cpu in a)
            taken[_where[cpu].Core]++;
        foreach (var cpu in b)
            taken[_where[cpu].Core]++;
        int broken = 0, touched = 0;
        for (var core = 0; core < _cores.Length; core++)
        {
            if (taken[core] == 0)
                continue;
            touched++;
            if (IsWhole(core) && taken[core] < _cores[core].Length)
                broken++;
        }
        return (broken, touched);
    }
}
