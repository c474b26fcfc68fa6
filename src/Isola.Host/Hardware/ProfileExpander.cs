using System.Globalization;
using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Host.Config;

namespace Isola.Host.Hardware;

/// <summary>
/// Turns a <see cref="HardwareProfile"/> into the <see cref="HostTopology"/> a freshly booted host of
/// that shape has: the kernel's CPU numbering (first threads of every core, socket by socket, then
/// their siblings), one NUMA cell per socket, SR-IOV VFs at the addresses offset and stride give,
/// VFs in their reset state. Deterministic: the same profile and hostname give the same host.
/// </summary>
public static class ProfileExpander
{
    private const int FirstIrq = 120;
    private const int FirstIommuGroup = 20;

    public static HostTopology Expand(HardwareProfile profile, string? hostname = null)
    {
        Validate(profile);
        var name = hostname ?? (profile.Hostname.Length > 0 ? profile.Hostname : profile.Name);
        var cpus = Cpus(profile);
        var kernel = KernelCommandLine.Parse(CommandLine(profile, cpus), out _);
        cpus = cpus.Select(c => c with { Isolated = kernel.IsolCpus.Contains(c.Id) }).ToList();
        var cells = Enumerable.Range(0, profile.Sockets).Select(cell => Cell(profile, cell, cpus)).ToList();
        var config = HostConfig.Parse(profile.HostConfig.PhysicalDeviceMappings, profile.HostConfig.ExcludeDevices, []);
        var iommuActive = kernel.Iommu is IommuMode.On or IommuMode.Passthrough;
        var devices = Devices(profile, name, config, iommuActive);
        return new HostTopology(name, cells, cpus, kernel, iommuActive, devices, [], HostVirtualization.Default);
    }

    private static List<CpuInfo> Cpus(HardwareProfile p)
    {
        var physical = p.Sockets * p.CoresPerSocket;
        var cpus = new List<CpuInfo>();
        for (var id = 0; id < physical * p.ThreadsPerCore; id++)
        {
            var slot = id % physical;
            var socket = slot / p.CoresPerSocket;
            var siblings = CpuSet.Of(Enumerable.Range(0, p.ThreadsPerCore).Select(t => slot + (t * physical)));
            cpus.Add(new CpuInfo(id, socket, slot % p.CoresPerSocket, socket, siblings, Online: true, Isolated: false));
        }
        return cpus;
    }

    private static NumaCell Cell(HardwareProfile p, int cell, List<CpuInfo> cpus)
    {
        var pools = p.Hugepages.Select(h => new HugepagePool(SizeKiB(h.Size), h.PerCell, h.PerCell - h.UsedPerCell))
            .OrderBy(h => h.PageSizeKiB).ToList();
        var totalKiB = p.MemoryPerCellMiB * 1024;
        var freeKiB = totalKiB - (p.UsedMemoryPerCellMiB * 1024) - pools.Sum(h => h.PageSizeKiB * h.Total);
        var distances = Enumerable.Range(0, p.Sockets).Select(other => other == cell ? 10 : 21).ToList();
        return new NumaCell(cell, cell, CpuSet.Of(cpus.Where(c => c.Cell == cell).Select(c => c.Id)), totalKiB, freeKiB, pools, distances);
    }

    /// <summary>The kernel command line a host of this shape boots with.</summary>
    private static string CommandLine(HardwareProfile p, List<CpuInfo> cpus)
    {
        var parts = new List<string> { "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64", "root=/dev/mapper/vg0-root", "ro", "quiet" };
        parts.AddRange(p.Iommu switch
        {
            "passthrough" => ["intel_iommu=on", "iommu=pt"],
            "on" => ["intel_iommu=on"],
            _ => ["intel_iommu=off"],
        });
        if (p.Hugepages.Count > 0)
        {
            var largest = p.Hugepages.MaxBy(h => SizeKiB(h.Size))!;
            parts.Add($"default_hugepagesz={largest.Size}");
            foreach (var h in p.Hugepages.OrderByDescending(h => SizeKiB(h.Size)))
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"hugepagesz={h.Size} hugepages={h.PerCell * p.Sockets}"));
        }
        if (p.ReservedCoresPerSocket > 0)
        {
            var reserved = CpuSet.Of(cpus.Where(c => c.Core < p.ReservedCoresPerSocket).Select(c => c.Id));
            var isolated = CpuSet.Of(cpus.Select(c => c.Id)).Except(reserved);
            parts.Add($"isolcpus=managed_irq,domain,{isolated}");
            parts.Add($"nohz_full={isolated}");
            parts.Add($"rcu_nocbs={isolated}");
            parts.Add($"irqaffinity={reserved}");
        }
        return string.Join(' ', parts);
    }

    private static List<PhysicalFunction> Devices(HardwareProfile p, string hostname, HostConfig config, bool iommu)
    {
        var devices = new List<PhysicalFunction>();
        var irq = FirstIrq;
        var group = FirstIommuGroup;
        foreach (var spec in p.Devices)
        {
            var model = NicModel.Find(spec.Model)!;
            var bus = ParseBus(spec.Bus)!.Value;
            for (var fn = 0; fn < spec.Ports.Count; fn++)
            {
                var address = new PciAddress(0, bus, 0, fn);
                var netDev = model.IsNetwork ? spec.Ports[fn] : null;
                var numVfs = spec.NumVfs ?? model.TotalVfs;
                var vfDriver = spec.VfDriver switch { null => model.VfDriver, "none" => null, var d => d };
                var hostVfDriver = vfDriver is not null && vfDriver != "vfio-pci" && model.IsNetwork;
                var excluded = config.ExcludeDevices.Where(e => e.Device == netDev).SelectMany(e => e.Vfs).ToHashSet();
                var vfs = new List<VirtualFunction>();
                var pfGroup = iommu ? group++ : (int?)null;
                for (var i = 0; i < numVfs; i++)
                {
                    var irqs = hostVfDriver ? Enumerable.Range(irq, model.VfMsixVectors).ToList() : [];
                    irq += irqs.Count;
                    var vfAddress = model.VfAddress(address, i);
                    vfs.Add(new VirtualFunction(vfAddress, i, vfDriver, hostVfDriver ? $"{netDev}v{i}" : null, irqs,
                        iommu ? group++ : null, excluded.Contains(vfAddress), model.IsNetwork ? VfState.Reset : null));
                }
                devices.Add(new PhysicalFunction(address, model.Id, model.VendorName, model.DeviceName, model.ClassCode,
                    DeviceKinds.FromClassCode(model.ClassCode), model.Driver, netDev,
                    model.IsNetwork ? Mac(model.Oui, hostname, address) : null,
                    model.IsNetwork && !spec.LinkDown ? model.SpeedMbps : null,
                    spec.Cell >= 0 ? spec.Cell : null, pfGroup, model.TotalVfs, numVfs,
                    model.TotalVfs > 0 ? model.VfDeviceId : null, config.PhysnetOf(netDev), Allowed: true, vfs));
            }
        }
        return devices.OrderBy(d => d.Address).ToList();
    }

    /// <summary>A stable, locally plausible MAC: the vendor OUI and three bytes of an FNV-1a hash.</summary>
    private static string Mac(string oui, string hostname, PciAddress address)
    {
        var hash = 2166136261u;
        foreach (var c in $"{hostname}/{address}")
            hash = (hash ^ c) * 16777619u;
        return string.Create(CultureInfo.InvariantCulture, $"{oui}:{(hash >> 16) & 0xff:x2}:{(hash >> 8) & 0xff:x2}:{hash & 0xff:x2}");
    }

    public static long SizeKiB(string size) => KernelCommandLine.ParseMemorySizeKiB(size) ?? 0;

    internal static int? ParseBus(string text)
    {
        var s = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return int.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var bus) && bus is > 0 and <= 0xff ? bus : null;
    }

    /// <summary>Reports every rule a profile breaks, naming the field.</summary>
    public static void Validate(HardwareProfile p)
    {
        var errors = new List<string>();
        void Check(bool ok, string field, string rule)
        {
            if (!ok)
                errors.Add($"{field}: {rule}");
        }
        Check(p.Sockets is >= 1 and <= 8, "sockets", "must be 1-8");
        Check(p.CoresPerSocket is >= 1 and <= 256, "coresPerSocket", "must be 1-256");
        Check(p.ThreadsPerCore is 1 or 2 or 4, "threadsPerCore", "must be 1, 2 or 4");
        Check(p.Iommu is "passthrough" or "on" or "off", "iommu", "must be passthrough, on or off");
        Check(p.ReservedCoresPerSocket >= 0 && p.ReservedCoresPerSocket < p.CoresPerSocket, "reservedCoresPerSocket", "must be 0 or fewer than coresPerSocket");
        for (var i = 0; i < p.Hugepages.Count; i++)
        {
            var h = p.Hugepages[i];
            Check(SizeKiB(h.Size) is HugepagePool.Size2M or HugepagePool.Size1G, $"hugepages[{i}].size", "must be 2M or 1G");
            Check(h.UsedPerCell >= 0 && h.UsedPerCell <= h.PerCell, $"hugepages[{i}].usedPerCell", "must be 0-perCell");
        }
        var hugeMiB = p.Hugepages.Sum(h => SizeKiB(h.Size) * h.PerCell) / 1024;
        Check(p.MemoryPerCellMiB >= hugeMiB + p.UsedMemoryPerCellMiB, "memoryPerCellMiB", $"must hold the hugepages ({hugeMiB} MiB) and usedMemoryPerCellMiB");
        var buses = new HashSet<int>();
        var ports = new HashSet<string>();
        for (var i = 0; i < p.Devices.Count; i++)
        {
            var d = p.Devices[i];
            var model = NicModel.Find(d.Model);
            Check(model is not null, $"devices[{i}].model", $"'{d.Model}' is not one of {string.Join(", ", NicModel.Catalog.Select(m => m.Name))}");
            var bus = ParseBus(d.Bus);
            Check(bus is not null, $"devices[{i}].bus", $"'{d.Bus}' is not a bus number 0x01-0xff");
            Check(bus is null || buses.Add(bus.Value), $"devices[{i}].bus", $"bus {d.Bus} is used twice");
            Check(d.Cell >= -1 && d.Cell < p.Sockets, $"devices[{i}].cell", $"must be -1 (unknown) or 0-{p.Sockets - 1}");
            Check(d.Ports.Count is >= 1 and <= 8, $"devices[{i}].ports", "must name 1-8 ports");
            foreach (var port in d.Ports)
                Check(ports.Add(port), $"devices[{i}].ports", $"'{port}' is used twice");
            if (model is not null)
                Check(d.NumVfs is null || (d.NumVfs >= 0 && d.NumVfs <= model.TotalVfs), $"devices[{i}].numVfs", $"must be 0-{model.TotalVfs} for {model.Name}");
        }
        if (errors.Count > 0)
            throw new ArgumentException($"profile {p.Name}:\n  " + string.Join("\n  ", errors));
    }
}
