using System.Text.Json.Serialization;
using Isola.Domain.Serialization;

namespace Isola.Domain.Pci;

/// <summary>
/// A PCI physical function Isola cares about: a network controller, or any device able to
/// create SR-IOV VFs (an NVMe SSD, say).
/// </summary>
/// <param name="Id">vendor:device of the PF.</param>
/// <param name="VendorName">From pci.ids when present.</param>
/// <param name="DeviceName">From pci.ids when present.</param>
/// <param name="ClassCode">The 24-bit class code (0x020000 Ethernet, 0x010802 NVMe).</param>
/// <param name="NumaNode">The NUMA cell from <c>numa_node</c>; null when the kernel reports -1 (unknown).</param>
/// <param name="TotalVfs">sriov_totalvfs (0 when the device cannot do SR-IOV).</param>
/// <param name="NumVfs">sriov_numvfs: VFs enabled now.</param>
/// <param name="VfDeviceId">sriov_vf_device: the device id its VFs carry.</param>
/// <param name="LinkSpeedMbps">From <c>net/&lt;dev&gt;/speed</c>; null when the link is down or unknown.</param>
/// <param name="Physnet">The physical network this PF is mapped to (<c>physical_device_mappings</c>), if any.</param>
/// <param name="Allowed">Matches the host's device allow-list (always true when the list is empty).</param>
public sealed record PhysicalFunction(
    PciAddress Address,
    PciId Id,
    string? VendorName,
    string? DeviceName,
    [property: JsonConverter(typeof(ClassCodeConverter))] int ClassCode,
    DeviceKind Kind,
    string? Driver,
    string? NetDev,
    string? Mac,
    int? LinkSpeedMbps,
    int? NumaNode,
    int? IommuGroup,
    int TotalVfs,
    int NumVfs,
    [property: JsonConverter(typeof(Hex16Converter))] ushort? VfDeviceId,
    string? Physnet,
    bool Allowed,
    IReadOnlyList<VirtualFunction> Vfs)
{
    /// <summary>VFs that may be handed to guests: not excluded, on an allowed PF.</summary>
    [JsonIgnore]
    public IEnumerable<VirtualFunction> AssignableVfs => Allowed ? Vfs.Where(vf => !vf.Excluded) : [];
}
