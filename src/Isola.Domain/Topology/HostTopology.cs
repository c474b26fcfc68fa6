using System.Text.Json.Serialization;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;

namespace Isola.Domain.Topology;

/// <summary>Everything discovery learned about one host: the input of placement.</summary>
/// <param name="IommuActive">True when the kernel created IOMMU groups (<c>/sys/kernel/iommu_groups</c> is not empty).</param>
/// <param name="Devices">Physical functions, in address order; each holds its VFs.</param>
/// <param name="Warnings">What discovery could not read; it went on without it.</param>
public sealed record HostTopology(
    string Hostname,
    IReadOnlyList<NumaCell> Cells,
    IReadOnlyList<CpuInfo> Cpus,
    KernelCommandLine Kernel,
    bool IommuActive,
    IReadOnlyList<PhysicalFunction> Devices,
    IReadOnlyList<DiscoveryWarning> Warnings,
    HostVirtualization? Virtualization = null)
{
    /// <summary>How the host runs guests (<see cref="HostVirtualization.Default"/> when the inventory does not say).</summary>
    [JsonIgnore]
    public HostVirtualization Virt => Virtualization ?? HostVirtualization.Default;

    [JsonIgnore]
    public CpuSet AllCpus => CpuSet.Of(Cpus.Select(c => c.Id));

    [JsonIgnore]
    public CpuSet IsolatedCpus => CpuSet.Of(Cpus.Where(c => c.Isolated).Select(c => c.Id));

    [JsonIgnore]
    public bool SmtEnabled => Cpus.Any(c => c.Siblings.Count > 1);

    [JsonIgnore]
    public int SocketCount => Cpus.Select(c => c.Socket).Distinct().Count();
}
