namespace Isola.Host.Hardware;

/// <summary>
/// A machine shape, written in YAML (see docs/formats.md): sockets, cores, SMT, memory and
/// hugepages per NUMA cell, the kernel's IOMMU and CPU isolation settings, and PCI devices by
/// model. <see cref="ProfileExpander"/> turns it into the topology a real host of that shape has.
/// </summary>
public sealed class HardwareProfile
{
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public string Hostname { get; set; } = "";
    public int Sockets { get; set; } = 1;
    public int CoresPerSocket { get; set; } = 4;
    public int ThreadsPerCore { get; set; } = 1;
    public long MemoryPerCellMiB { get; set; } = 16384;
    public long UsedMemoryPerCellMiB { get; set; } = 1024;
    public List<HugepageSpec> Hugepages { get; set; } = [];
    /// <summary>passthrough (intel_iommu=on iommu=pt), on, or off.</summary>
    public string Iommu { get; set; } = "passthrough";
    /// <summary>Cores per socket kept for the host; the rest are isolated (isolcpus, nohz_full, rcu_nocbs). 0: no isolation.</summary>
    public int ReservedCoresPerSocket { get; set; }
    public List<DeviceSpec> Devices { get; set; } = [];
    public HostConfigSpec HostConfig { get; set; } = new();
}

public sealed class HugepageSpec
{
    /// <summary>2M or 1G.</summary>
    public string Size { get; set; } = "2M";
    public int PerCell { get; set; }
    /// <summary>Pages already in use per cell (free = perCell - used).</summary>
    public int UsedPerCell { get; set; }
}

public sealed class DeviceSpec
{
    /// <summary>A <see cref="NicModel"/> name.</summary>
    public string Model { get; set; } = "";
    /// <summary>NUMA cell of the slot; -1 when the firmware does not say.</summary>
    public int Cell { get; set; }
    /// <summary>PCI bus number, hex ("0x08" or "08").</summary>
    public string Bus { get; set; } = "";
    /// <summary>One netdev name per port (function); for storage, one name per function, used for nothing but counting.</summary>
    public List<string> Ports { get; set; } = [];
    /// <summary>VFs enabled per port (sriov_numvfs); default all (sriov_totalvfs).</summary>
    public int? NumVfs { get; set; }
    /// <summary>Override the VF driver: a driver name, or "none" for unbound VFs.</summary>
    public string? VfDriver { get; set; }
    public bool LinkDown { get; set; }
}

public sealed class HostConfigSpec
{
    public List<string> PhysicalDeviceMappings { get; set; } = [];
    public List<string> ExcludeDevices { get; set; } = [];
}
