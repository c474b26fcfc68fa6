namespace Isola.Domain.Topology;

/// <summary>What the kernel command line asks of the IOMMU.</summary>
public enum IommuMode
{
    /// <summary>Nothing said: the kernel's default for the platform.</summary>
    Default,
    /// <summary><c>intel_iommu=on</c> / <c>amd_iommu=on</c>.</summary>
    On,
    /// <summary><c>iommu=pt</c>: translation only for devices given to guests (what SR-IOV hosts want).</summary>
    Passthrough,
    /// <summary><c>intel_iommu=off</c>, <c>amd_iommu=off</c> or <c>iommu=off</c>: no VFIO possible.</summary>
    Off,
}
