using System.Collections;
using System.Globalization;
using System.Text;

namespace Isola.Domain.Cpu;

/// <summary>
/// An immutable, sorted set of CPU ids, written the way the kernel writes it in
/// <c>cpulist</c> files, <c>isolcpus=</c> and <c>smp_affinity_list</c>: "0-3,8,10-11".
/// </summary>
public sealed class CpuSet : IEquatable<CpuSet>, IReadOnlyCollection<int>
{
    private readonly int[] _ids;

    public static CpuSet Empty { get; } = new([]);

    private CpuSet(int[] sortedUniqueIds) => _ids = sortedUniqueIds;

    public static CpuSet Of(IEnumerable<int> ids)
    {
        var array = ids.Distinct().Order().ToArray();
        if (array.Length > 0 && array[0] < 0)
            throw new ArgumentOutOfRangeException(nameof(ids), "CPU ids are never negative.");
        return array.Length == 0 ? Empty : new CpuSet(array);
    }

    public static CpuSet Of(params int[] ids) => Of((IEnumerable<int>)ids);

    public static CpuSet Range(int first, int count) => Of(Enumerable.Range(first, count));

    public int Count => _ids.Length;

    public bool IsEmpty => _ids.Length == 0;

    public int this[int index] => _ids[index];

    public bool Contains(int cpu) => Array.BinarySearch(_ids, cpu) >= 0;

    public CpuSet Union(CpuSet other) => Of(_ids.Concat(other._ids));

    public CpuSet Except(CpuSet other) => Of(_ids.Where(id => !other.Contains(id)));

    public CpuSet Intersect(CpuSet other) => Of(_ids.Where(other.Contains));

    public bool IsSubsetOf(CpuSet other) => _ids.All(other.Contains);

    /// <summary>Parses a kernel cpulist ("0-3,8,10-11"; empty or whitespace is the empty set).</summary>
    public static CpuSet Parse(string text)
    {
        if (!TryParse(text, out var set, out var error))
            throw new FormatException(error);
        return set;
    }

    public static bool TryParse(string? text, out CpuSet set, out string error)
    {
        set = Empty;
        error = "";
        if (text is null)
        {
            error = "a cpulist is required";
            return false;
        }
        var trimmed = text.Trim();
        if (trimmed.Length == 0)
            return true;
        var ids = new List<int>();
        foreach (var part in trimmed.Split(','))
        {
            var range = part.Trim();
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                if (!TryParseId(range, out var single))
                {
                    error = $"'{range}' is not a CPU id (cpulist '{trimmed}')";
                    return false;
                }
                ids.Add(single);
                continue;
            }
            if (!TryParseId(range[..dash], out var first) || !TryParseId(range[(dash + 1)..], out var last) || last < first)
            {
                error = $"'{range}' is not a CPU range first-last with first <= last (cpulist '{trimmed}')";
                return false;
            }
            if (last - first > 65536)
            {
                error = $"'{range}' spans more than 65536 CPUs (cpulist '{trimmed}')";
                return false;
            }
            for (long id = first; id <= last; id++)
                ids.Add((int)id);
        }
        set = Of(ids);
        return true;
    }

    private static bool TryParseId(string text, out int id) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id);

    /// <summary>The canonical cpulist: ascending, consecutive ids folded into ranges.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < _ids.Length; i++)
        {
            var start = _ids[i];
            while (i + 1 < _ids.Length && _ids[i + 1] == _ids[i] + 1)
                i++;
            if (sb.Length > 0)
                sb.Append(',');
            sb.Append(CultureInfo.InvariantCulture, $"{start}");
            if (_ids[i] != start)
                sb.Append(CultureInfo.InvariantCulture, $"-{_ids[i]}");
        }
        return sb.ToString();
    }

    public bool Equals(CpuSet? other) => other is not null && _ids.AsSpan().SequenceEqual(other._ids);

    public override bool Equals(object? obj) => Equals(obj as CpuSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var id in _ids)
            hash.Add(id);
        return hash.ToHashCode();
    }

    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_ids).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
