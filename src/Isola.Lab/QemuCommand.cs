using System.Globalization;

namespace Isola.Lab;

/// <summary>How the guest's CPUs run: hardware virtualization when it works here, else QEMU's emulation.</summary>
public enum LabAccel
{
    Tcg,
    Kvm,
}

/// <summary>The files of one lab boot: its kernel and initramfs, and the directory it keeps everything else in.</summary>
/// <param name="Exchange">Shared read-write with the guest (mount tag <c>exchange</c>): jobs, their output, the ready mark.</param>
public sealed record LabFiles(string Kernel, string Initramfs, string Directory)
{
    public string Exchange => Path.Join(Directory, "exchange");

    public string Console => Path.Join(Directory, "console.log");

    public string NvmeImage(int i) => Path.Join(Directory, $"nvme{i}.img");
}

/// <summary>
/// The QEMU command line of a lab host, a pure function of its shape: a q35 machine with one vCPU and
/// one memory backend per NUMA node; each SR-IOV device on a PCIe root port of its node (a PCIe expander
/// bridge per node with <c>numa_node=N</c>, so the kernel reports the device's node); every NIC's wire on one hub, so frames one PF sends arrive at the others; the host's
/// root read-only over 9p (the lab runs the same tools and the same Isola build as the test run) and the
/// exchange directory read-write; the console in a file.
/// </summary>
public static class QemuCommand
{
    public const string Binary = "qemu-system-x86_64";

    /// <summary>The kernel command line: the console on the first serial port, the IOMMU as the shape says, a panic ends the run.</summary>
    public static string KernelArgs(LabShape shape) =>
        "console=ttyS0 panic=-1 loglevel=4" + (shape.Iommu ? " intel_iommu=on iommu=pt" : "");

    public static IReadOnlyList<string> Argv(LabShape shape, LabFiles files, LabAccel accel)
    {
        var a = new List<string> { Binary, "-name", "isola-lab", "-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none" };
        // TCG runs one thread for all vCPUs: QEMU 10.0's multi-threaded TCG trips its own assertion (physmem.c, iotlb_to_section)
        // with the emulated IOMMU and igb's DMA now and then; on two host cores one thread is hardly slower.
        a.AddRange(accel == LabAccel.Kvm ? ["-machine", "q35,accel=kvm"] : ["-machine", "q35", "-accel", "tcg,thread=single"]);
        a.AddRange(["-cpu", "max"]);
        var nodes = shape.NumaNodes;
        a.AddRange(["-smp", $"{nodes},sockets={nodes},cores=1,threads=1", "-m", $"{nodes * shape.MemoryMiBPerNode}M"]);
        for (var n = 0; n < nodes; n++)
        {
            a.AddRange(["-object", $"memory-backend-ram,id=mem{n},size={shape.MemoryMiBPerNode}M"]);
            a.AddRange(["-numa", $"node,nodeid={n},cpus={n},memdev=mem{n}"]);
        }
        if (shape.Iommu)
            a.AddRange(["-device", "intel-iommu,intremap=off"]);
        // Node 0's devices too sit behind an expander bridge with their node: on the root complex the
        // kernel gives them no node at all (numa_node -1), which no two-socket server does.
        for (var n = 0; n < nodes; n++)
            a.AddRange(["-device", $"pxb-pcie,id=pxb{n},bus_nr={Hex(0x20 + 0x40 * n)},numa_node={n},bus=pcie.0"]);
        var chassis = 0;
        string RootPort(int node)
        {
            chassis++;
            var id = $"rp{chassis}";
            a.AddRange(["-device", $"pcie-root-port,id={id},chassis={chassis},slot={chassis},bus=pxb{node}"]);
            return id;
        }
        var nic = 0;
        foreach (var n in shape.Nics.OrderBy(n => n.NumaNode))
        {
            var port = RootPort(n.NumaNode);
            a.AddRange(["-netdev", $"hubport,id=wire{nic},hubid=0"]);
            a.AddRange(["-device", $"igb,bus={port},netdev=wire{nic},mac=52:54:00:15:a1:{nic:x2}"]);
            nic++;
        }
        var ssd = 0;
        foreach (var s in shape.Nvmes.OrderBy(n => n.NumaNode))
        {
            var port = RootPort(s.NumaNode);
            // Each VF needs an admin and an I/O queue and one interrupt from the flexible pools; the PF keeps two queues of its own.
            var vq = 2 * s.Vfs;
            a.AddRange(["-drive", $"file={files.NvmeImage(ssd)},if=none,id=nvm{ssd},format=raw"]);
            a.AddRange(["-device", $"nvme-subsys,id=subsys{ssd},nqn=nqn.2026-12.io.isola:lab{ssd}"]);
            a.AddRange(["-device", $"nvme,id=nvme{ssd},serial=ISOLALAB{ssd:D4},subsys=subsys{ssd},bus={port}"
                + (s.Vfs > 0 ? $",sriov_max_vfs={s.Vfs},sriov_vq_flexible={vq},sriov_vi_flexible={s.Vfs},max_ioqpairs={vq + 2},msix_qsize={s.Vfs + 4}" : "")]);
            a.AddRange(["-device", $"nvme-ns,drive=nvm{ssd},nsid=1,bus=nvme{ssd}"]);
            ssd++;
        }
        // On the root complex by name: left to QEMU, a device may land on an expander bridge, which takes only bridges.
        a.AddRange(["-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on"]);
        a.AddRange(["-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0"]);
        a.AddRange(["-fsdev", $"local,id=exchange,path={files.Exchange},security_model=none"]);
        a.AddRange(["-device", "virtio-9p-pci,fsdev=exchange,mount_tag=exchange,bus=pcie.0"]);
        a.AddRange(["-serial", $"file:{files.Console}"]);
        a.AddRange(["-kernel", files.Kernel, "-initrd", files.Initramfs, "-append", KernelArgs(shape)]);
        return a;
    }

    private static string Hex(int value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
