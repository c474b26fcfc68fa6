using Isola.Domain.Pci;

namespace Isola.Host.Hardware;

/// <summary>
/// A PCI device model that fixtures can put in a host: its ids and names (as pci.ids spells
/// them), drivers, SR-IOV geometry and MSI-X vectors per VF under the host VF driver.
/// </summary>
/// <param name="VfOffset">sriov_offset of function 0: routing-ID distance from the PF to VF 0.</param>
/// <param name="VfStride">sriov_stride: routing-ID distance between consecutive VFs.</param>
/// <param name="OffsetStepPerFunction">How much later function n's VFs start than function 0's
/// (0 when strides interleave them, TotalVfs - 1 when they are laid end to end).</param>
/// <param name="VfDriver">The host driver VFs bind to when created; null when they stay unbound.</param>
/// <param name="Oui">The first three MAC bytes of the vendor.</param>
public sealed record NicModel(
    string Name,
    PciId Id,
    ushort? VfDeviceId,
    int ClassCode,
    string VendorName,
    string DeviceName,
    string? VfDeviceName,
    string Driver,
    string? VfDriver,
    int TotalVfs,
    int? SpeedMbps,
    int VfOffset,
    int VfStride,
    int OffsetStepPerFunction,
    int VfMsixVectors,
    string Oui)
{
    public const int EthernetClass = 0x020000;
    public const int NvmeClass = 0x010802;

    public static IReadOnlyList<NicModel> Catalog { get; } =
    [
        new("intel-i210", new PciId(0x8086, 0x1533), null, EthernetClass, "Intel Corporation",
            "I210 Gigabit Network Connection", null, "igb", null, 0, 1000, 0, 0, 0, 0, "a0:36:9f"),
        new("intel-82576", new PciId(0x8086, 0x10c9), 0x10ca, EthernetClass, "Intel Corporation",
            "82576 Gigabit Network Connection", "82576 Virtual Function", "igb", "igbvf", 7, 1000, 0x80, 2, 0, 3, "00:1b:21"),
        new("intel-82599es", new PciId(0x8086, 0x10fb), 0x10ed, EthernetClass, "Intel Corporation",
            "82599ES 10-Gigabit SFI/SFP+ Network Connection", "82599 Ethernet Controller Virtual Function", "ixgbe", "ixgbevf", 63, 10000, 0x80, 2, 0, 3, "90:e2:ba"),
        new("intel-x710", new PciId(0x8086, 0x1572), 0x154c, EthernetClass, "Intel Corporation",
            "Ethernet Controller X710 for 10GbE SFP+", "Ethernet Virtual Function 700 Series", "i40e", "iavf", 64, 10000, 0x10, 1, 63, 5, "3c:fd:fe"),
        new("mellanox-cx5", new PciId(0x15b3, 0x1017), 0x1018, EthernetClass, "Mellanox Technologies",
            "MT27800 Family [ConnectX-5]", "MT27800 Family [ConnectX-5 Virtual Function]", "mlx5_core", "mlx5_core", 16, 100000, 2, 1, 15, 4, "b8:ce:f6"),
        new("samsung-pm1735", new PciId(0x144d, 0xa824), 0xa824, NvmeClass, "Samsung Electronics Co Ltd",
            "NVMe SSD Controller PM173X", "NVMe SSD Controller PM173X", "nvme", null, 32, null, 1, 1, 0, 0, "00:00:00"),
    ];

    public static NicModel? Find(string name) => Catalog.FirstOrDefault(m => m.Name == name);

    public bool IsNetwork => DeviceKinds.FromClassCode(ClassCode) == DeviceKind.Network;

    /// <summary>The address of VF <paramref name="index"/> of function <paramref name="pf"/>, by the SR-IOV offset/stride rule.</summary>
    public PciAddress VfAddress(PciAddress pf, int index) =>
        PciAddress.FromRoutingId(pf.Domain, pf.RoutingId + OffsetOf(pf.Function) + (index * VfStride));

    public int OffsetOf(int function) => VfOffset + (function * OffsetStepPerFunction);
}
