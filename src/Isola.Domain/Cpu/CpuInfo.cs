namespace Isola.Domain.Cpu;

/// <summary>
/// One logical CPU as sysfs describes it (<c>/sys/devices/system/cpu/cpuN/topology/*</c>).
/// </summary>
/// <param name="Id">The logical CPU number N.</param>
/// <param name="Socket">physical_package_id.</param>
/// <param name="Core">core_id (unique within a socket, not across sockets).</param>
/// <param name="Cell">The NUMA cell whose cpulist holds this CPU.</param>
/// <param name="Siblings">thread_siblings_list: the hardware threads of this core, this CPU included.</param>
/// <param name="Online">False when <c>cpuN/online</c> reads 0.</param>
/// <param name="Isolated">True when the kernel lists it in <c>/sys/devices/system/cpu/isolated</c>.</param>
public sealed record CpuInfo(int Id, int Socket, int Core, int Cell, CpuSet Siblings, bool Online, bool Isolated);
