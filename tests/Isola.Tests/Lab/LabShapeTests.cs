using Isola.Lab;

namespace Isola.Tests.Lab;

public sealed class LabShapeTests
{
    [Fact]
    public void A_shape_reads_from_its_text_form_and_lists_devices_in_guest_order()
    {
        var shape = LabShape.Parse("nodes=2,mem=768,nvme=0:2,nic=1:3,nic=0:4,iommu=off");

        Assert.Equal((2, 768, false), (shape.NumaNodes, shape.MemoryMiBPerNode, shape.Iommu));
        // Node by node, NICs before NVMe: the order of their root ports, so of their PCI addresses.
        Assert.Equal([new LabDevice(LabDeviceKind.Nic, 0, 4), new LabDevice(LabDeviceKind.Nvme, 0, 2), new LabDevice(LabDeviceKind.Nic, 1, 3)], shape.Devices);
    }

    [Theory]
    [InlineData("nodes=2,nic=2:4", "nic: NUMA node 2 is not one of the shape's 2")]
    [InlineData("nic=0:8", "nic: 8 VFs is not 0-7")]
    [InlineData("nodes=5", "numaNodes: 5 is not 1-4")]
    [InlineData("mem=128", "memoryMiBPerNode: 128 is below 512")]
    [InlineData("nic=0", "nic: '0' is not node:vfs")]
    [InlineData("gpu=0:1", "'gpu' is not nodes, mem, iommu, nic or nvme")]
    [InlineData("iommu=yes", "iommu: 'yes' is not on or off")]
    public void A_bad_shape_is_refused_naming_its_field(string text, string message)
    {
        var e = Assert.ThrowsAny<Exception>(() => LabShape.Parse(text));

        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Qemu_puts_each_device_on_a_root_port_of_its_node_and_every_nic_wire_on_one_hub()
    {
        var files = new LabFiles("/boot/vmlinuz", "/tmp/lab/initramfs.cpio", "/tmp/lab");

        var argv = QemuCommand.Argv(LabShape.Parse("nodes=2,nic=0:4,nic=1:4,nvme=1:2"), files, LabAccel.Tcg);

        string[] Values(string flag) => [.. argv.Select((a, i) => (a, i)).Where(x => x.a == flag).Select(x => argv[x.i + 1])];
        var devices = Values("-device");
        Assert.Equal(["pxb-pcie,id=pxb0,bus_nr=0x20,numa_node=0,bus=pcie.0", "pxb-pcie,id=pxb1,bus_nr=0x60,numa_node=1,bus=pcie.0"],
            devices.Where(d => d.StartsWith("pxb-pcie", StringComparison.Ordinal)));
        Assert.Equal(["pcie-root-port,id=rp1,chassis=1,slot=1,bus=pxb0", "pcie-root-port,id=rp2,chassis=2,slot=2,bus=pxb1", "pcie-root-port,id=rp3,chassis=3,slot=3,bus=pxb1"],
            devices.Where(d => d.StartsWith("pcie-root-port", StringComparison.Ordinal)));
        Assert.Equal(["igb,bus=rp1,netdev=wire0,mac=52:54:00:15:a1:00", "igb,bus=rp2,netdev=wire1,mac=52:54:00:15:a1:01"],
            devices.Where(d => d.StartsWith("igb", StringComparison.Ordinal)));
        Assert.Equal(["hubport,id=wire0,hubid=0", "hubport,id=wire1,hubid=0"], Values("-netdev"));
        Assert.Contains(devices, d => d.StartsWith("nvme,id=nvme0,", StringComparison.Ordinal) && d.Contains("bus=rp3,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=6", StringComparison.Ordinal));
        Assert.Equal(["local,id=hostroot,path=/,security_model=none,readonly=on", "local,id=exchange,path=/tmp/lab/exchange,security_model=none"], Values("-fsdev"));
        Assert.Equal(["virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0", "virtio-9p-pci,fsdev=exchange,mount_tag=exchange,bus=pcie.0"],
            devices.Where(d => d.StartsWith("virtio-9p-pci", StringComparison.Ordinal)));
        Assert.Equal(["node,nodeid=0,cpus=0,memdev=mem0", "node,nodeid=1,cpus=1,memdev=mem1"], Values("-numa"));
        Assert.Equal("q35", Values("-machine").Single());
        Assert.Equal("tcg,thread=single", Values("-accel").Single());
        Assert.Contains("intel_iommu=on", Values("-append").Single(), StringComparison.Ordinal);
    }
}
