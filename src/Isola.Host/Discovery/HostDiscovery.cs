using Isola.Domain.Cpu;
using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Isola.Host.Commands;
using Isola.Host.Config;
using Isola.Host.IpLink;

namespace Isola.Host.Discovery;

/// <summary>
/// Discovers a host: CPUs, NUMA cells, memory, hugepages, SR-IOV devices and their VFs' runtime
/// state, from sysfs and procfs under a root directory and from <c>ip -d -j link show</c>. Then
/// applies the host configuration (physnets, exclusions, allow-list). Never throws on what it
/// reads: every problem is a warning on the result.
/// </summary>
public sealed class HostDiscovery(string rootPath, ICommandRunner commands, HostConfig config)
{
    public async Task<HostTopology> DiscoverAsync(CancellationToken cancellationToken = default)
    {
        var root = new HostRoot(rootPath);
        var hostname = root.ReadText("proc/sys/kernel/hostname", "host", optional: true)
                       ?? root.ReadText("etc/hostname", "host") ?? "unknown";
        var kernel = ReadKernel(root);
        var cells = NumaReader.Read(root);
        var cpus = CpuReader.Read(root, cells, ReadIsolated(root, kernel));
        if (cells.Count == 0)
            cells = [SingleCell(root, cpus)];
        cells = cells.Select(c => c with { Socket = cpus.FirstOrDefault(cpu => cpu.Cell == c.Id && cpu.Socket >= 0)?.Socket ?? -1 }).ToList();
        var names = PciIdsDatabase.Load(root);
        var devices = PciReader.Read(root, names, cells.Count);
        devices = await ReadVfStatesAsync(root, devices, cancellationToken);
        devices = ApplyConfig(root, devices);
        var iommuActive = root.List("sys/kernel/iommu_groups").Count > 0;
        // What the agent may run guests with: KVM needs /dev/kvm (the agent still tries it before it says kvm), virtio
        // ports vhost-net. Which paths the agent keeps its files in is the agent's setting, not discovery's.
        var virtualization = new HostVirtualization(
            DomainType: root.Exists("dev/kvm") ? HostVirtualization.Kvm : HostVirtualization.Qemu,
            VhostNet: root.Exists("dev/vhost-net"));
        return new HostTopology(hostname, cells, cpus, kernel, iommuActive, devices, root.Warnings.ToList(), virtualization);
    }

    private static KernelCommandLine ReadKernel(HostRoot root)
    {
        var raw = root.ReadText("proc/cmdline", "kernel");
        if (raw is null)
            return KernelCommandLine.Empty;
        var kernel = KernelCommandLine.Parse(raw, out var problems);
        foreach (var problem in problems)
            root.Warn("kernel", WarningCodes.Malformed, $"/proc/cmdline: {problem}");
        return kernel;
    }

    /// <summary>The kernel's own list of isolated CPUs; the command line when sysfs lacks it.</summary>
    private static CpuSet ReadIsolated(HostRoot root, KernelCommandLine kernel)
    {
        var text = root.ReadText("sys/devices/system/cpu/isolated", "kernel", optional: true);
        if (text is null)
            return kernel.IsolCpus;
        if (CpuSet.TryParse(text, out var set, out var error))
            return set;
        root.Warn("kernel", WarningCodes.Malformed, $"sys/devices/system/cpu/isolated: {error}");
        return kernel.IsolCpus;
    }

    /// <summary>A kernel without NUMA support has no node directories: the host is one cell.</summary>
    private static NumaCell SingleCell(HostRoot root, List<CpuInfo> cpus)
    {
        root.Warn("host", WarningCodes.MissingFile, "no sys/devices/system/node/node*: treating the host as one NUMA cell");
        long total = 0, free = 0;
        foreach (var line in (root.ReadText("proc/meminfo", "host") ?? "").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], out var kib))
            {
                if (parts[0] == "MemTotal:")
                    total = kib;
                else if (parts[0] == "MemFree:")
                    free = kib;
            }
        }
        for (var i = 0; i < cpus.Count; i++)
            cpus[i] = cpus[i] with { Cell = 0 };
        return new NumaCell(0, -1, CpuSet.Of(cpus.Select(c => c.Id)), total, free, [], [10]);
    }

    private async Task<List<PhysicalFunction>> ReadVfStatesAsync(HostRoot root, List<PhysicalFunction> devices, CancellationToken ct)
    {
        var result = new List<PhysicalFunction>(devices.Count);
        foreach (var pf in devices)
        {
            if (pf.Kind != DeviceKind.Network || pf.NetDev is null || pf.Vfs.Count == 0)
            {
                result.Add(pf);
                continue;
            }
            var argv = IpCommands.LinkShowDetails(pf.NetDev);
            var answer = await commands.RunAsync(argv, ct);
            if (!answer.Succeeded)
            {
                root.Warn(pf.NetDev, WarningCodes.CommandFailed, $"{answer.Describe(argv)}; VF settings unknown");
                result.Add(pf);
                continue;
            }
            IReadOnlyDictionary<int, VfState> states;
            try
            {
                states = IpLinkParser.ParseVfStates(answer.StandardOutput, pf.NetDev);
            }
            catch (FormatException e)
            {
                root.Warn(pf.NetDev, WarningCodes.Malformed, $"`{string.Join(' ', argv)}`: {e.Message}");
                result.Add(pf);
                continue;
            }
            var vfs = pf.Vfs.Select(vf =>
            {
                if (states.TryGetValue(vf.Index, out var state))
                    return vf with { State = state };
                root.Warn(vf.Address.ToString(), WarningCodes.VfStateMissing, $"{pf.NetDev} reports no vf {vf.Index}");
                return vf;
            }).ToList();
            result.Add(pf with { Vfs = vfs });
        }
        return result;
    }

    private List<PhysicalFunction> ApplyConfig(HostRoot root, List<PhysicalFunction> devices)
    {
        var netDevs = devices.Where(d => d.NetDev is not null).ToDictionary(d => d.NetDev!, StringComparer.Ordinal);
        foreach (var mapping in config.PhysicalDeviceMappings.Where(m => !netDevs.ContainsKey(m.Device)))
            root.Warn(mapping.Device, WarningCodes.ConfigUnmatched, $"{PhysnetMapping.Field} maps {mapping.Physnet} to {mapping.Device}, which is not a PF on this host");
        foreach (var exclusion in config.ExcludeDevices)
        {
            if (!netDevs.TryGetValue(exclusion.Device, out var pf))
            {
                root.Warn(exclusion.Device, WarningCodes.ConfigUnmatched, $"{ExcludedVfs.Field} names {exclusion.Device}, which is not a PF on this host");
                continue;
            }
            foreach (var address in exclusion.Vfs.Where(a => pf.Vfs.All(vf => vf.Address != a)))
                root.Warn(exclusion.Device, WarningCodes.ConfigUnmatched, $"{ExcludedVfs.Field} names {address}, which is not a VF of {exclusion.Device}");
        }
        return devices.Select(pf =>
        {
            var excluded = config.ExcludeDevices.Where(e => e.Device == pf.NetDev).SelectMany(e => e.Vfs).ToHashSet();
            var allowed = config.DeviceAllowList.Count == 0 ||
                          config.DeviceAllowList.Any(m => m.Matches(pf.Address, pf.Id, pf.VfDeviceId, pf.NetDev));
            return pf with
            {
                Physnet = config.PhysnetOf(pf.NetDev),
                Allowed = allowed,
                Vfs = pf.Vfs.Select(vf => vf with { Excluded = excluded.Contains(vf.Address) }).ToList(),
            };
        }).ToList();
    }
}
