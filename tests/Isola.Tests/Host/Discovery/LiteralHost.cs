using Isola.Host.IpLink;
using Isola.Tests.Support;

namespace Isola.Tests.Host.Discovery;

/// <summary>
/// A two-socket host written out by hand in the kernel's layout: 8 CPUs (2 cores x 2 threads per
/// socket), an Intel 82599ES PF with 2 VFs (one on ixgbevf with MSI-X IRQs, one unbound), an NVMe
/// PF with SR-IOV and an unknown NUMA node, and a SATA controller discovery must ignore.
/// </summary>
internal static class LiteralHost
{
    public const string PfDir = "sys/devices/pci0000:00/0000:00:03.0/0000:08:00.0";
    public const string Vf0Dir = "sys/devices/pci0000:00/0000:00:03.0/0000:08:10.0";
    public const string Vf1Dir = "sys/devices/pci0000:00/0000:00:03.0/0000:08:10.2";
    public const string NvmeDir = "sys/devices/pci0000:80/0000:80:01.0/0000:c1:00.0";

    /// <summary>What iproute2 6.1 prints for the PF: vf 0 programmed, vf 1 in reset state.</summary>
    public const string IpLinkJson = """
        [{"ifindex":4,"ifname":"p2p1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"mq","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"90:e2:ba:11:22:33","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"min_mtu":68,"max_mtu":9710,"inet6_addr_gen_mode":"eui64","num_tx_queues":64,"num_rx_queues":64,"gso_max_size":65536,"gso_max_segs":65535,"parentbus":"pci","parentdev":"0000:08:00.0","vfinfo_list":[{"vf":0,"link_type":"ether","address":"fa:16:3e:00:00:01","broadcast":"ff:ff:ff:ff:ff:ff","vlan_list":[{"vlan":100,"qos":3}],"rate":{"max_tx":1000,"min_tx":0},"spoofchk":true,"link_state":"enable","trust":false,"query_rss_en":false},{"vf":1,"link_type":"ether","address":"00:00:00:00:00:00","broadcast":"ff:ff:ff:ff:ff:ff","vlan_list":[{}],"rate":{"max_tx":0,"min_tx":0},"spoofchk":true,"link_state":"auto","trust":false,"query_rss_en":false}]}]
        """;

    public static ScriptedCommandRunner Commands() => new ScriptedCommandRunner().Answer(IpCommands.LinkShowDetails("p2p1"), IpLinkJson);

    public static TreeBuilder Write(string root)
    {
        var t = new TreeBuilder(root)
            .File("proc/sys/kernel/hostname", "lab1\n")
            .File("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=/dev/sda1 ro intel_iommu=on iommu=pt isolcpus=2-3,6-7 default_hugepagesz=1G hugepagesz=1G hugepages=4\n")
            .File("sys/devices/system/cpu/isolated", "2-3,6-7\n")
            .File("sys/devices/system/cpu/online", "0-7\n");
        // Socket 0 holds cores (0,4) and (1,5); socket 1 holds (2,6) and (3,7).
        for (var cpu = 0; cpu < 8; cpu++)
        {
            var slot = cpu % 4;
            var dir = $"sys/devices/system/cpu/cpu{cpu}";
            if (cpu != 0)
                t.File($"{dir}/online", "1\n");
            t.File($"{dir}/topology/physical_package_id", $"{slot / 2}\n")
                .File($"{dir}/topology/core_id", $"{slot % 2}\n")
                .File($"{dir}/topology/thread_siblings_list", $"{slot},{slot + 4}\n");
        }
        for (var node = 0; node < 2; node++)
        {
            var dir = $"sys/devices/system/node/node{node}";
            t.File($"{dir}/cpulist", node == 0 ? "0-1,4-5\n" : "2-3,6-7\n")
                .File($"{dir}/distance", node == 0 ? "10 21\n" : "21 10\n")
                .File($"{dir}/meminfo", $"Node {node} MemTotal:       16384000 kB\nNode {node} MemFree:        12000000 kB\nNode {node} MemUsed:         4384000 kB\nNode {node} HugePages_Total:     2\n")
                .File($"{dir}/hugepages/hugepages-1048576kB/nr_hugepages", "2\n")
                .File($"{dir}/hugepages/hugepages-1048576kB/free_hugepages", node == 0 ? "1\n" : "2\n")
                .File($"{dir}/hugepages/hugepages-2048kB/nr_hugepages", "0\n")
                .File($"{dir}/hugepages/hugepages-2048kB/free_hugepages", "0\n")
                .Link($"{dir}/cpu{node * 2}", $"../../cpu/cpu{node * 2}");
        }

        // The 82599ES PF.
        t.File($"{PfDir}/vendor", "0x8086\n").File($"{PfDir}/device", "0x10fb\n").File($"{PfDir}/class", "0x020000\n")
            .File($"{PfDir}/numa_node", "0\n")
            .Link($"{PfDir}/driver", "../../../../bus/pci/drivers/ixgbe")
            .Link($"{PfDir}/iommu_group", "../../../../kernel/iommu_groups/30")
            .File($"{PfDir}/net/p2p1/address", "90:E2:BA:11:22:33\n").File($"{PfDir}/net/p2p1/speed", "10000\n")
            .File($"{PfDir}/sriov_totalvfs", "63\n").File($"{PfDir}/sriov_numvfs", "2\n").File($"{PfDir}/sriov_vf_device", "10ed\n")
            .Link($"{PfDir}/virtfn0", "../0000:08:10.0").Link($"{PfDir}/virtfn1", "../0000:08:10.2")
            .Link("sys/bus/pci/devices/0000:08:00.0", $"../../../devices/pci0000:00/0000:00:03.0/0000:08:00.0")
            .Dir("sys/bus/pci/drivers/ixgbe").Dir("sys/kernel/iommu_groups/30/devices");

        // VF 0: on ixgbevf, with a netdev and three MSI-X vectors.
        t.File($"{Vf0Dir}/vendor", "0x8086\n").File($"{Vf0Dir}/device", "0x10ed\n").File($"{Vf0Dir}/class", "0x020000\n")
            .File($"{Vf0Dir}/numa_node", "0\n")
            .Link($"{Vf0Dir}/physfn", "../0000:08:00.0")
            .Link($"{Vf0Dir}/driver", "../../../../bus/pci/drivers/ixgbevf")
            .Link($"{Vf0Dir}/iommu_group", "../../../../kernel/iommu_groups/31")
            .File($"{Vf0Dir}/net/p2p1v0/address", "5a:4b:3c:2d:1e:0f\n")
            .File($"{Vf0Dir}/msi_irqs/130", "msix\n").File($"{Vf0Dir}/msi_irqs/131", "msix\n").File($"{Vf0Dir}/msi_irqs/132", "msix\n")
            .Link("sys/bus/pci/devices/0000:08:10.0", "../../../devices/pci0000:00/0000:00:03.0/0000:08:10.0")
            .Dir("sys/bus/pci/drivers/ixgbevf").Dir("sys/kernel/iommu_groups/31/devices");

        // VF 1: no driver bound, so no netdev and no IRQs.
        t.File($"{Vf1Dir}/vendor", "0x8086\n").File($"{Vf1Dir}/device", "0x10ed\n").File($"{Vf1Dir}/class", "0x020000\n")
            .File($"{Vf1Dir}/numa_node", "0\n")
            .Link($"{Vf1Dir}/physfn", "../0000:08:00.0")
            .Link($"{Vf1Dir}/iommu_group", "../../../../kernel/iommu_groups/32")
            .Link("sys/bus/pci/devices/0000:08:10.2", "../../../devices/pci0000:00/0000:00:03.0/0000:08:10.2")
            .Dir("sys/kernel/iommu_groups/32/devices");

        // An NVMe SSD with SR-IOV, VFs not enabled, on a slot the firmware gave no NUMA node.
        t.File($"{NvmeDir}/vendor", "0x144d\n").File($"{NvmeDir}/device", "0xa824\n").File($"{NvmeDir}/class", "0x010802\n")
            .File($"{NvmeDir}/numa_node", "-1\n")
            .Link($"{NvmeDir}/driver", "../../../../bus/pci/drivers/nvme")
            .File($"{NvmeDir}/sriov_totalvfs", "32\n").File($"{NvmeDir}/sriov_numvfs", "0\n").File($"{NvmeDir}/sriov_vf_device", "a824\n")
            .Link("sys/bus/pci/devices/0000:c1:00.0", "../../../devices/pci0000:80/0000:80:01.0/0000:c1:00.0")
            .Dir("sys/bus/pci/drivers/nvme");

        // A SATA controller: neither a NIC nor SR-IOV capable; discovery passes it by.
        t.File("sys/devices/pci0000:00/0000:00:1f.2/vendor", "0x8086\n").File("sys/devices/pci0000:00/0000:00:1f.2/device", "0xa102\n")
            .File("sys/devices/pci0000:00/0000:00:1f.2/class", "0x010601\n")
            .Link("sys/bus/pci/devices/0000:00:1f.2", "../../../devices/pci0000:00/0000:00:1f.2");

        t.File("usr/share/misc/pci.ids", "# test\n8086  Intel Corporation\n\t10ed  82599 Ethernet Controller Virtual Function\n\t10fb  82599ES 10-Gigabit SFI/SFP+ Network Connection\n\t\t8086 000c  Ethernet Server Adapter X520-DA2\n144d  Samsung Electronics Co Ltd\nC 02  Network controller\n\t00  Ethernet controller\n");
        return t;
    }
}
