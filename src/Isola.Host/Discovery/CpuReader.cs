using System.Globalization;
using System.Text.RegularExpressions;
using Isola.Domain.Cpu;
using Isola.Domain.Topology;

namespace Isola.Host.Discovery;

/// <summary>Reads logical CPUs from <c>/sys/devices/system/cpu/cpu*</c>.</summary>
internal static partial class CpuReader
{
    private const string CpuDir = "sys/devices/system/cpu";

    public static List<CpuInfo> Read(HostRoot root, IReadOnlyList<NumaCell> cells, CpuSet isolated)
    {
        var cpus = new List<CpuInfo>();
        foreach (var name in root.List(CpuDir))
        {
            var match = CpuName().Match(name);
            if (!match.Success)
                continue;
            var id = (int)Math.Min(int.MaxValue, long.Parse(match.Groups[1].Value.Length > 9 ? "2147483647" : match.Groups[1].Value, CultureInfo.InvariantCulture));
            var dir = $"{CpuDir}/{name}";
            var subject = $"cpu{id}";
            // cpu0 usually has no 'online' file: it cannot be taken offline.
            var online = root.ReadInt($"{dir}/online", subject, optional: true) is not 0;
            // An offline CPU has no topology; that is normal, not a fault.
            var needTopology = online;
            var socket = root.ReadInt($"{dir}/topology/physical_package_id", subject, optional: !needTopology) ?? -1;
            var core = root.ReadInt($"{dir}/topology/core_id", subject, optional: !needTopology) ?? -1;
            var siblings = CpuSet.Of(id);
            var siblingText = root.ReadText($"{dir}/topology/thread_siblings_list", subject, optional: !needTopology);
            if (siblingText is not null)
            {
                if (CpuSet.TryParse(siblingText, out var parsed, out var error) && parsed.Contains(id))
                    siblings = parsed;
                else
                    root.Warn(subject, WarningCodes.Malformed, $"{dir}/topology/thread_siblings_list: {(error.Length > 0 ? error : $"'{siblingText}' does not hold cpu{id} itself")}");
            }
            var cell = cells.FirstOrDefault(c => c.Cpus.Contains(id))?.Id ?? -1;
            if (cell < 0 && online && cells.Count > 0)
                root.Warn(subject, WarningCodes.NumaUnknown, $"cpu{id} is in no NUMA node's cpulist");
            cpus.Add(new CpuInfo(id, socket, core, cell, siblings, online, isolated.Contains(id)));
        }
        return cpus.OrderBy(c => c.Id).ToList();
    }

    [GeneratedRegex(@"^cpu(\d+)$")]
    private static partial Regex CpuName();
}
