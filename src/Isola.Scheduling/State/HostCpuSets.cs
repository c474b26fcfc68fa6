using Isola.Domain.Cpu;
using Isola.Domain.Topology;

namespace Isola.Scheduling.State;

/// <summary>
/// How a host's online CPUs divide: the dedicated set guests pin to — the kernel's isolated CPUs,
/// else all but the first core of each socket — and the reserved rest, for the host's own services,
/// emulator threads of shared guests and shared vCPUs.
/// </summary>
public sealed record HostCpuSets(CpuSet Dedicated, CpuSet Reserved)
{
    public static HostCpuSets Of(HostTopology topology)
    {
        var online = topology.Cpus.Where(c => c.Online).ToList();
        var all = CpuSet.Of(online.Select(c => c.Id));
        var dedicated = topology.IsolatedCpus.IsEmpty
            ? CpuSet.Of(online.Where(c => c.Core != online.Where(o => o.Socket == c.Socket).Min(o => o.Core)).Select(c => c.Id))
            : topology.IsolatedCpus.Intersect(all);
        return new HostCpuSets(dedicated, all.Except(dedicated));
    }
}
