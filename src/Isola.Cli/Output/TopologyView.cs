using Isola.Domain.Pci;
using Isola.Domain.Topology;
using Spectre.Console;

namespace Isola.Cli.Output;

/// <summary>The people's view of a discovered host: cells, devices, warnings.</summary>
internal static class TopologyView
{
    public static void Render(IAnsiConsole console, HostTopology host)
    {
        var k = host.Kernel;
        console.MarkupLine($"[bold]{Markup.Escape(host.Hostname)}[/]: {host.SocketCount} socket(s), {host.Cpus.Count} CPUs, " +
                           $"SMT {(host.SmtEnabled ? "on" : "off")}, IOMMU {k.Iommu.ToString().ToLowerInvariant()} ({(host.IommuActive ? "groups present" : "no IOMMU groups")})");
        if (!k.IsolCpus.IsEmpty || !k.NohzFull.IsEmpty)
            console.WriteLine($"isolcpus={k.IsolCpus} nohz_full={k.NohzFull} rcu_nocbs={k.RcuNocbs}" + (k.IrqAffinity is null ? "" : $" irqaffinity={k.IrqAffinity}"));

        var cells = new Table().Title("NUMA cells").AddColumns("Cell", "Socket", "CPUs", "Isolated", "Memory free/total", "Hugepages free/total");
        foreach (var cell in host.Cells)
        {
            var isolated = Domain.Cpu.CpuSet.Of(host.Cpus.Where(c => c.Cell == cell.Id && c.Isolated).Select(c => c.Id));
            var pages = cell.Hugepages.Count == 0 ? "-" : string.Join(", ", cell.Hugepages.Select(h => $"{Units.PageSize(h.PageSizeKiB)}: {h.Free}/{h.Total}"));
            cells.AddRow($"{cell.Id}", $"{cell.Socket}", $"{cell.Cpus}", isolated.IsEmpty ? "-" : $"{isolated}",
                $"{Units.GiB(cell.MemFreeKiB)} / {Units.GiB(cell.MemTotalKiB)}", pages);
        }
        console.Write(cells);

        if (host.Devices.Count > 0)
        {
            var devices = new Table().Title("PCI devices").AddColumns("Address", "Netdev", "Device", "Driver", "Cell", "Link", "VFs", "VF driver", "Physnet", "Assignable");
            foreach (var pf in host.Devices)
            {
                var vfDrivers = string.Join(",", pf.Vfs.Select(v => v.Driver ?? "none").Distinct());
                devices.AddRow(
                    $"{pf.Address}",
                    Markup.Escape(pf.NetDev ?? "-"),
                    Markup.Escape(Short($"{pf.Id} {pf.DeviceName ?? ""}".Trim())),
                    Markup.Escape(pf.Driver ?? "none"),
                    pf.NumaNode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?",
                    pf.Kind == DeviceKind.Network ? Units.Speed(pf.LinkSpeedMbps) : "-",
                    pf.TotalVfs == 0 ? "-" : $"{pf.NumVfs}/{pf.TotalVfs}",
                    vfDrivers.Length == 0 ? "-" : Markup.Escape(vfDrivers),
                    Markup.Escape(pf.Physnet ?? "-"),
                    pf.Allowed ? $"{pf.AssignableVfs.Count()}" : "not allowed");
            }
            console.Write(devices);
        }

        if (host.Warnings.Count > 0)
        {
            console.MarkupLine($"[yellow]{host.Warnings.Count} warning(s):[/]");
            foreach (var w in host.Warnings)
                console.WriteLine($"  {w}");
        }
    }

    private static string Short(string text) => text.Length > 40 ? text[..39] + "…" : text;
}
