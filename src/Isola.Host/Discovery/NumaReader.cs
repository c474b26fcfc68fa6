using System.Globalization;
using System.Text.RegularExpressions;
using Isola.Domain.Cpu;
using Isola.Domain.Topology;

namespace Isola.Host.Discovery;

/// <summary>Reads NUMA cells from <c>/sys/devices/system/node/node*</c>.</summary>
internal static partial class NumaReader
{
    private const string NodeDir = "sys/devices/system/node";

    /// <summary>Cells with Socket still unknown (-1); <see cref="HostDiscovery"/> fills it in from the CPUs.</summary>
    public static List<NumaCell> Read(HostRoot root)
    {
        var cells = new List<NumaCell>();
        foreach (var name in root.List(NodeDir))
        {
            var match = NodeName().Match(name);
            if (!match.Success)
                continue;
            var id = (int)Math.Min(int.MaxValue, long.Parse(match.Groups[1].Value.Length > 9 ? "2147483647" : match.Groups[1].Value, CultureInfo.InvariantCulture));
            var dir = $"{NodeDir}/{name}";
            var subject = $"node{id}";
            var cpus = CpuSet.Empty;
            var cpulist = root.ReadText($"{dir}/cpulist", subject);
            if (cpulist is not null && !CpuSet.TryParse(cpulist, out cpus, out var error))
                root.Warn(subject, WarningCodes.Malformed, $"{dir}/cpulist: {error}");
            var (total, free) = ReadMeminfo(root, $"{dir}/meminfo", subject, id);
            cells.Add(new NumaCell(id, -1, cpus, total, free, ReadHugepages(root, dir, subject), ReadDistances(root, $"{dir}/distance", subject)));
        }
        return cells.OrderBy(c => c.Id).ToList();
    }

    /// <summary>"Node 0 MemTotal:       65536000 kB" lines.</summary>
    private static (long Total, long Free) ReadMeminfo(HostRoot root, string file, string subject, int id)
    {
        long total = 0, free = 0;
        var text = root.ReadText(file, subject);
        if (text is null)
            return (0, 0);
        foreach (var line in text.Split('\n'))
        {
            var m = MeminfoLine().Match(line);
            if (!m.Success || (int)Math.Min(int.MaxValue, long.Parse(m.Groups[1].Value.Length > 9 ? "2147483647" : m.Groups[1].Value, CultureInfo.InvariantCulture)) != id)
                continue;
            var value = (long.TryParse(m.Groups[3].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib : 0);
            if (m.Groups[2].Value == "MemTotal")
                total = value;
            else if (m.Groups[2].Value == "MemFree")
                free = value;
        }
        if (total == 0)
            root.Warn(subject, WarningCodes.Malformed, $"{file} has no 'Node {id} MemTotal: N kB' line");
        return (total, free);
    }

    private static List<HugepagePool> ReadHugepages(HostRoot root, string dir, string subject)
    {
        var pools = new List<HugepagePool>();
        foreach (var name in root.List($"{dir}/hugepages"))
        {
            var m = HugepageDir().Match(name);
            if (!m.Success)
                continue;
            if (!long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var size))
                continue;
            var total = root.ReadInt($"{dir}/hugepages/{name}/nr_hugepages", subject);
            var free = root.ReadInt($"{dir}/hugepages/{name}/free_hugepages", subject);
            if (total is null || free is null)
                continue;
            pools.Add(new HugepagePool(size, total.Value, free.Value));
        }
        return pools.OrderBy(p => p.PageSizeKiB).ToList();
    }

    private static List<int> ReadDistances(HostRoot root, string file, string subject)
    {
        var text = root.ReadText(file, subject, optional: true);
        if (text is null)
            return [];
        var values = new List<int>();
        foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var d))
            {
                root.Warn(subject, WarningCodes.Malformed, $"{file} holds '{HostRoot.Clip(text)}', not a row of distances");
                return [];
            }
            values.Add(d);
        }
        return values;
    }

    [GeneratedRegex(@"^node(\d+)$")]
    private static partial Regex NodeName();

    [GeneratedRegex(@"^Node\s+(\d+)\s+(\w+):\s+(\d+)\s*kB")]
    private static partial Regex MeminfoLine();

    [GeneratedRegex(@"^hugepages-(\d+)kB$")]
    private static partial Regex HugepageDir();
}
