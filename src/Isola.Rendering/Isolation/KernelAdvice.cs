using System.Globalization;
using Isola.Domain.Topology;
using Isola.Scheduling;
using Isola.Scheduling.State;

namespace Isola.Rendering.Isolation;

/// <summary>A kernel command line parameter the host lacks for what it runs, and why.</summary>
public sealed record KernelAdvice(string Parameter, string Reason)
{
    public override string ToString() => $"{Parameter}: {Reason}";

    /// <summary>What the host's kernel command line is missing for this placement, from discovery.</summary>
    public static IReadOnlyList<KernelAdvice> For(HostTopology host, Placement placement)
    {
        var advice = new List<KernelAdvice>();
        var k = host.Kernel;
        var passthrough = placement.Vfs.Count > 0 || placement.Pfs.Count > 0;
        if (k.Iommu == IommuMode.Off || (passthrough && !host.IommuActive))
            advice.Add(new("intel_iommu=on iommu=pt (on AMD: iommu=pt, and no amd_iommu=off)", "VFs and PFs are passed to guests through VFIO, which needs the IOMMU; the kernel has no IOMMU groups"));
        else if (k.Iommu == IommuMode.On)
            advice.Add(new("iommu=pt", "translation only for devices given to guests: host devices keep their DMA speed"));
        var sets = HostCpuSets.Of(host);
        var pinned = placement.Cells is not null && placement.Cells.Any(c => c.Pins.Count > 0);
        if (pinned && k.IsolCpus.IsEmpty)
            advice.Add(new($"isolcpus=managed_irq,domain,{sets.Dedicated} nohz_full={sets.Dedicated} rcu_nocbs={sets.Dedicated} irqaffinity={sets.Reserved}",
                "pinned vCPUs share their pCPUs with the scheduler's load balancing, timer ticks and RCU callbacks until the kernel isolates them"));
        else if (pinned && k.NohzFull.IsEmpty)
            advice.Add(new($"nohz_full={k.IsolCpus} rcu_nocbs={k.IsolCpus}", "the isolated CPUs still take the periodic tick and RCU callbacks"));
        foreach (var size in (placement.Cells ?? []).Select(c => c.PageSizeKiB).Where(s => s > 4).Distinct())
        {
            if (k.Hugepages.All(h => h.PageSizeKiB != size) && size >= HugepagePool.Size1G)
            {
                var pages = host.Cells.Sum(c => c.Hugepages.FirstOrDefault(h => h.PageSizeKiB == size)?.Total ?? 0);
                advice.Add(new(string.Create(CultureInfo.InvariantCulture, $"hugepagesz=1G hugepages={Math.Max(pages, 1)}"),
                    "1 GiB pages are reserved at runtime on this host; reserved on the command line they cannot fail for fragmentation after boot"));
            }
        }
        return advice;
    }
}
