using Isola.Domain.Topology;
using Isola.Host.Hardware;

namespace Isola.Tests.Scheduling;

/// <summary>
/// Small hosts for scheduling tests, built through the real profile expander:
/// <c>new HostBuilder("h1").Sockets(2).Cores(4).Threads(2).Pages1G(8).Nic(0, "physnet2", vfs: 4).Build()</c>.
/// One core per socket is kept for the host; the rest are isolated and pinnable.
/// </summary>
internal sealed class HostBuilder(string name)
{
    private readonly HardwareProfile _p = new()
    {
        Name = name, Hostname = name, Sockets = 1, CoresPerSocket = 4, ThreadsPerCore = 1,
        MemoryPerCellMiB = 65536, UsedMemoryPerCellMiB = 512, ReservedCoresPerSocket = 1, Iommu = "passthrough",
    };
    private int _bus = 0x10;

    public HostBuilder Sockets(int n) { _p.Sockets = n; return this; }

    public HostBuilder Cores(int n) { _p.CoresPerSocket = n; return this; }

    public HostBuilder Threads(int n) { _p.ThreadsPerCore = n; return this; }

    public HostBuilder Reserved(int cores) { _p.ReservedCoresPerSocket = cores; return this; }

    public HostBuilder MemoryMiB(long perCell) { _p.MemoryPerCellMiB = perCell; return this; }

    public HostBuilder Pages1G(int perCell, int used = 0) => Pages("1G", perCell, used);

    public HostBuilder Pages2M(int perCell, int used = 0) => Pages("2M", perCell, used);

    private HostBuilder Pages(string size, int perCell, int used)
    {
        _p.Hugepages.Add(new HugepageSpec { Size = size, PerCell = perCell, UsedPerCell = used });
        var hugeMiB = _p.Hugepages.Sum(h => ProfileExpander.SizeKiB(h.Size) * h.PerCell) / 1024;
        _p.MemoryPerCellMiB = Math.Max(_p.MemoryPerCellMiB, hugeMiB + 16384);
        return this;
    }

    /// <summary>An 82599ES with <paramref name="ports"/> PFs on <paramref name="cell"/> (-1: unknown), each with <paramref name="vfs"/> VFs on the physnet.</summary>
    public HostBuilder Nic(int cell, string physnet, int vfs, int ports = 1, string model = "intel-82599es", string? vfDriver = null)
    {
        var bus = _bus++;
        var names = Enumerable.Range(0, ports).Select(fn => $"p{bus:x2}p{fn}").ToList();
        _p.Devices.Add(new DeviceSpec { Model = model, Cell = cell, Bus = $"0x{bus:x2}", Ports = names, NumVfs = vfs, VfDriver = vfDriver });
        _p.HostConfig.PhysicalDeviceMappings.AddRange(names.Select(n => $"{physnet}:{n}"));
        return this;
    }

    public HostTopology Build() => ProfileExpander.Expand(_p);
}
