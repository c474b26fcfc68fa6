using System.Globalization;

namespace Isola.Lab;

/// <summary>An Intel 82576 (QEMU's <c>igb</c>: PF 8086:10c9, VFs 8086:10ca) on a NUMA node, with the VFs the lab enables at boot.</summary>
public sealed record LabNic(int NumaNode, int Vfs);

/// <summary>An NVMe controller with SR-IOV (QEMU's <c>nvme</c> in an NVMe subsystem) on a NUMA node: its VFs and its namespace's size.</summary>
public sealed record LabNvme(int NumaNode, int Vfs, int SizeMiB = 64);

/// <summary>
/// The hardware of a lab host, as QEMU is told to emulate it: NUMA nodes with one vCPU and some memory
/// each, SR-IOV NICs and NVMe controllers on root ports of their node (behind a PCIe expander bridge
/// with that node's affinity), an Intel IOMMU.
/// </summary>
public sealed record LabShape(int NumaNodes, int MemoryMiBPerNode, IReadOnlyList<LabNic> Nics, IReadOnlyList<LabNvme> Nvmes, bool Iommu = true)
{
    /// <summary>Two nodes, an igb PF with 4 VFs on each, the IOMMU on: the smallest host with HA legs on two PFs of two cells.</summary>
    public static LabShape TwoNodes { get; } = new(2, 1024, [new LabNic(0, 4), new LabNic(1, 4)], []);

    /// <summary>The SR-IOV devices in the order the guest enumerates them (by PCI address): node by node, NICs before NVMe.</summary>
    public IReadOnlyList<LabDevice> Devices =>
        Enumerable.Range(0, NumaNodes).SelectMany(node =>
            Nics.Where(n => n.NumaNode == node).Select(n => new LabDevice(LabDeviceKind.Nic, node, n.Vfs))
                .Concat(Nvmes.Where(n => n.NumaNode == node).Select(n => new LabDevice(LabDeviceKind.Nvme, node, n.Vfs)))).ToList();

    /// <summary>Refuses a shape QEMU or the guest could not boot.</summary>
    public void Check()
    {
        if (NumaNodes is < 1 or > 4)
            throw new ArgumentException($"numaNodes: {NumaNodes} is not 1-4");
        if (MemoryMiBPerNode < 512)
            throw new ArgumentException($"memoryMiBPerNode: {MemoryMiBPerNode} is below 512 (the guest runs .NET from a tmpfs overlay)");
        foreach (var (node, vfs, what) in Nics.Select(n => (n.NumaNode, n.Vfs, "nic")).Concat(Nvmes.Select(n => (n.NumaNode, n.Vfs, "nvme"))))
        {
            if (node < 0 || node >= NumaNodes)
                throw new ArgumentException($"{what}: NUMA node {node} is not one of the shape's {NumaNodes}");
            if (vfs is < 0 or > 7)
                throw new ArgumentException($"{what}: {vfs} VFs is not 0-7 (the 82576 has 7 per PF)");
        }
    }

    /// <summary>
    /// A shape from its text form: <c>nodes=2,mem=1024,nic=0:4,nic=1:4,nvme=1:2,iommu=on</c> (a NIC or
    /// NVMe controller as node:vfs; as many as wanted).
    /// </summary>
    public static LabShape Parse(string text)
    {
        var nodes = 2;
        var memory = 1024;
        var iommu = true;
        var nics = new List<LabNic>();
        var nvmes = new List<LabNvme>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (key, value) = part.IndexOf('=') is var i and > 0 ? (part[..i], part[(i + 1)..]) : throw new FormatException($"'{part}' is not key=value");
            switch (key)
            {
                case "nodes":
                    nodes = Number(key, value);
                    break;
                case "mem":
                    memory = Number(key, value);
                    break;
                case "iommu":
                    iommu = value switch { "on" => true, "off" => false, _ => throw new FormatException($"iommu: '{value}' is not on or off") };
                    break;
                case "nic" or "nvme":
                    var (node, vfs) = value.Split(':') is [var n, var v] ? (Number(key, n), Number(key, v)) : throw new FormatException($"{key}: '{value}' is not node:vfs");
                    if (key == "nic")
                        nics.Add(new LabNic(node, vfs));
                    else
                        nvmes.Add(new LabNvme(node, vfs));
                    break;
                default:
                    throw new FormatException($"'{key}' is not nodes, mem, iommu, nic or nvme");
            }
        }
        var shape = new LabShape(nodes, memory, nics, nvmes, iommu);
        shape.Check();
        return shape;
    }

    private static int Number(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new FormatException($"{key}: '{value}' is not a number");
}

public enum LabDeviceKind
{
    Nic,
    Nvme,
}

/// <summary>An SR-IOV device of the shape, in guest enumeration order.</summary>
public sealed record LabDevice(LabDeviceKind Kind, int NumaNode, int Vfs);
