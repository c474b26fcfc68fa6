namespace Isola.Domain.Pci;

/// <summary>One SR-IOV virtual function (<c>/sys/bus/pci/devices/&lt;PF&gt;/virtfnN</c>).</summary>
/// <param name="Address">The VF's own PCI address.</param>
/// <param name="Index">N in the PF's <c>virtfnN</c> link, which is also the VF number <c>ip link ... vf N</c> takes.</param>
/// <param name="Driver">The bound driver (ixgbevf, iavf, mlx5_core, vfio-pci, nvme...), null when unbound.</param>
/// <param name="NetDev">The VF's netdev name when a host network driver is bound.</param>
/// <param name="MsiIrqs">Host IRQ numbers from <c>msi_irqs/</c> (empty until a driver or guest enables MSI/MSI-X).</param>
/// <param name="IommuGroup">From the <c>iommu_group</c> link; null without an IOMMU.</param>
/// <param name="Excluded">Excluded by the host configuration (<c>exclude_devices</c>): never handed out.</param>
/// <param name="State">Runtime settings from the PF driver; null for non-network VFs or when they could not be read.</param>
public sealed record VirtualFunction(
    PciAddress Address,
    int Index,
    string? Driver,
    string? NetDev,
    IReadOnlyList<int> MsiIrqs,
    int? IommuGroup,
    bool Excluded,
    VfState? State);
