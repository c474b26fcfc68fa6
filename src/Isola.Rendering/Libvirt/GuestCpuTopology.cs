using Isola.Domain.Topology;
using Isola.Scheduling;

namespace Isola.Rendering.Libvirt;

/// <summary>
/// The guest's sockets/cores/threads, consistent with where its vCPUs are pinned: one socket per
/// guest NUMA cell; two threads per core only when every vCPU pair (2k, 2k+1) sits on SMT siblings
/// of one host core, so the guest's scheduler sees the sharing that is really there.
/// </summary>
public readonly record struct GuestCpuTopology(int Sockets, int Cores, int Threads)
{
    public static GuestCpuTopology Of(int vcpus, Placement placement, HostTopology host)
    {
        var sockets = placement.Cells?.Count ?? 1;
        if (vcpus % sockets != 0)
            return new(1, vcpus, 1);
        var threads = SiblingPairs(placement, host) ? 2 : 1;
        return vcpus / sockets % threads == 0 ? new(sockets, vcpus / sockets / threads, threads) : new(sockets, vcpus / sockets, 1);
    }

    private static bool SiblingPairs(Placement placement, HostTopology host)
    {
        if (placement.Cells is not { Count: > 0 } cells || cells.Any(c => c.SharedVcpus.Count > 0 || c.Pins.Count % 2 != 0))
            return false;
        foreach (var cell in cells)
        {
            var pins = cell.Pins.OrderBy(p => p.Vcpu).ToList();
            for (var i = 0; i < pins.Count; i += 2)
            {
                if (pins[i + 1].Vcpu != pins[i].Vcpu + 1 || host.Cpus.FirstOrDefault(c => c.Id == pins[i].Pcpu)?.Siblings.Contains(pins[i + 1].Pcpu) != true || pins[i].Pcpu == pins[i + 1].Pcpu)
                    return false;
            }
        }
        return true;
    }
}
