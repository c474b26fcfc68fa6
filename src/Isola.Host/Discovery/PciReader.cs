using System.Globalization;
using System.Text.RegularExpressions;
using Isola.Domain.Pci;
using Isola.Domain.Topology;

namespace Isola.Host.Discovery;

/// <summary>
/// Reads PCI physical functions and their VFs from <c>/sys/bus/pci/devices/&lt;BDF&gt;</c>: network
/// controllers and any device with SR-IOV capability. VFs are found through the PF's
/// <c>virtfnN</c> links, never listed on their own.
/// </summary>
internal static partial class PciReader
{
    private const string DevicesDir = "sys/bus/pci/devices";

    public static List<PhysicalFunction> Read(HostRoot root, PciIdsDatabase names, int cellCount)
    {
        var result = new List<PhysicalFunction>();
        foreach (var name in root.List(DevicesDir))
        {
            var dir = $"{DevicesDir}/{name}";
            if (root.IsDanglingLink(dir))
            {
                root.Warn(name, WarningCodes.DanglingLink, $"{dir} is a link to nothing");
                continue;
            }
            if (!PciAddress.TryParse(name, out var address))
            {
                root.Warn(name, WarningCodes.Malformed, $"{dir} is not named by a PCI address");
                continue;
            }
            // VFs are read through their PF.
            if (root.Exists($"{dir}/physfn"))
                continue;
            var classCode = root.ReadHex($"{dir}/class", name);
            var sriovCapable = root.Exists($"{dir}/sriov_totalvfs");
            if (classCode is null || (DeviceKinds.FromClassCode(classCode.Value) != DeviceKind.Network && !sriovCapable))
                continue;
            var pf = ReadPf(root, names, dir, address, classCode.Value, sriovCapable, cellCount);
            if (pf is not null)
                result.Add(pf);
        }
        return result.OrderBy(p => p.Address).ToList();
    }

    private static PhysicalFunction? ReadPf(HostRoot root, PciIdsDatabase names, string dir, PciAddress address, int classCode, bool sriovCapable, int cellCount)
    {
        var subject = address.ToString();
        var vendor = root.ReadHex($"{dir}/vendor", subject);
        var device = root.ReadHex($"{dir}/device", subject);
        if (vendor is null or > 0xffff || device is null or > 0xffff)
        {
            root.Warn(subject, WarningCodes.Malformed, "vendor or device id unreadable; device skipped");
            return null;
        }
        var id = new PciId((ushort)vendor.Value, (ushort)device.Value);
        var kind = DeviceKinds.FromClassCode(classCode);
        var driver = ReadDriver(root, dir, subject, warnIfNone: true);
        var numa = ReadNumaNode(root, dir, subject, cellCount);
        var (netDev, mac, speed) = ReadNet(root, dir, subject);
        int totalVfs = 0, numVfs = 0;
        ushort? vfDevice = null;
        if (sriovCapable)
        {
            totalVfs = root.ReadInt($"{dir}/sriov_totalvfs", subject) ?? 0;
            numVfs = root.ReadInt($"{dir}/sriov_numvfs", subject) ?? 0;
            var vfId = root.ReadHex($"{dir}/sriov_vf_device", subject, optional: true);
            vfDevice = vfId is >= 0 and <= 0xffff ? (ushort)vfId.Value : null;
        }
        var vfs = ReadVfs(root, dir, subject);
        var unbound = vfs.Count(v => v.Driver is null);
        if (unbound > 0)
            root.Warn(subject, WarningCodes.NoDriver, $"{unbound} of {vfs.Count} VFs have no driver bound: usable for passthrough (libvirt binds vfio-pci), not for macvtap");
        if (sriovCapable && vfs.Count != numVfs)
            root.Warn(subject, WarningCodes.Malformed, $"sriov_numvfs is {numVfs} but {vfs.Count} virtfn links were readable");
        return new PhysicalFunction(address, id, names.VendorName(id.Vendor), names.DeviceName(id), classCode, kind, driver,
            netDev, mac, speed, numa, ReadIommuGroup(root, dir), totalVfs, numVfs, vfDevice, Physnet: null, Allowed: true, vfs);
    }

    private static List<VirtualFunction> ReadVfs(HostRoot root, string pfDir, string pfSubject)
    {
        var vfs = new List<VirtualFunction>();
        foreach (var name in root.List(pfDir))
        {
            var m = VirtfnName().Match(name);
            if (!m.Success)
                continue;
            var index = (int)Math.Min(int.MaxValue, long.Parse(m.Groups[1].Value.Length > 9 ? "2147483647" : m.Groups[1].Value, CultureInfo.InvariantCulture));
            var link = $"{pfDir}/{name}";
            if (root.IsDanglingLink(link))
            {
                root.Warn(pfSubject, WarningCodes.DanglingLink, $"{name} is a link to nothing");
                continue;
            }
            var target = root.LinkTargetName(link);
            if (target is null || !PciAddress.TryParse(target, out var address))
            {
                root.Warn(pfSubject, WarningCodes.Malformed, $"{name} does not link to a PCI device");
                continue;
            }
            var subject = address.ToString();
            var driver = ReadDriver(root, link, subject, warnIfNone: false);
            var (netDev, _, _) = ReadNet(root, link, subject);
            var irqs = new List<int>();
            foreach (var irq in root.List($"{link}/msi_irqs"))
            {
                if (int.TryParse(irq, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                    irqs.Add(n);
                else
                    root.Warn(subject, WarningCodes.Malformed, $"msi_irqs/{irq} is not an IRQ number");
            }
            vfs.Add(new VirtualFunction(address, index, driver, netDev, irqs.Order().ToList(), ReadIommuGroup(root, link), Excluded: false, State: null));
        }
        return vfs.OrderBy(v => v.Index).ToList();
    }

    private static string? ReadDriver(HostRoot root, string dir, string subject, bool warnIfNone)
    {
        var link = $"{dir}/driver";
        if (root.IsDanglingLink(link))
        {
            root.Warn(subject, WarningCodes.DanglingLink, "driver is a link to nothing");
            return null;
        }
        var driver = root.LinkTargetName(link);
        if (driver is null && warnIfNone)
            root.Warn(subject, WarningCodes.NoDriver, "no driver bound");
        return driver;
    }

    private static int? ReadNumaNode(HostRoot root, string dir, string subject, int cellCount)
    {
        var node = root.ReadInt($"{dir}/numa_node", subject);
        if (node is >= 0)
            return node;
        // -1 is the kernel's "unknown": harmless on a one-cell host, a placement question on a NUMA host.
        if (node == -1)
            root.Warn(subject, WarningCodes.NumaUnknown, cellCount > 1
                ? "numa_node is -1: the firmware did not say which NUMA cell this device is on; pci_numa_affinity_policy=required cannot use it"
                : "numa_node is -1 (the firmware did not say); harmless on this one-cell host");
        return null;
    }

    private static (string? NetDev, string? Mac, int? SpeedMbps) ReadNet(HostRoot root, string dir, string subject)
    {
        var netDev = root.List($"{dir}/net").FirstOrDefault();
        if (netDev is null)
            return (null, null, null);
        var mac = root.ReadText($"{dir}/net/{netDev}/address", subject, optional: true)?.ToLowerInvariant();
        // speed reads -1 (or fails with EINVAL) while the link is down.
        var speed = root.ReadInt($"{dir}/net/{netDev}/speed", subject, optional: true);
        return (netDev, mac, speed is > 0 ? speed : null);
    }

    private static int? ReadIommuGroup(HostRoot root, string dir) =>
        int.TryParse(root.LinkTargetName($"{dir}/iommu_group"), NumberStyles.None, CultureInfo.InvariantCulture, out var group) ? group : null;

    [GeneratedRegex(@"^virtfn(\d+)$")]
    private static partial Regex VirtfnName();
}
