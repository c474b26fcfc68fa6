using System.Text.Json;
using Isola.Cli.Output;
using Isola.Domain.Cpu;
using Isola.Domain.Serialization;
using Isola.Scheduling;
using Spectre.Console;

namespace Isola.Cli.Client;

/// <summary>A server's placement for people: NUMA cells, pinned pCPUs, memory and the VFs its ports got.</summary>
internal static class ServerView
{
    public static readonly Column Vfs = Column.Of("devices", s => Of(s) is { } p ? Devices(p) : null);

    public static readonly Column[] PlacementColumns =
    [
        Column.Of("cells", s => Of(s) is { } p ? p.Cells is null ? "floating" : string.Join(", ", p.Cells.Select(c => $"{c.GuestCell}→{c.HostCell}")) : null),
        Column.Of("pinned", s => Of(s) is { Cells: { } cells } ? CpuSet.Of(cells.SelectMany(c => c.Pins.Select(x => x.Pcpu))).ToString() : null),
        Column.Of("emulator", s => Of(s) is { EmulatorPins.Count: > 0 } p ? CpuSet.Of(p.EmulatorPins).ToString() : null),
        Vfs,
    ];

    /// <summary>The tables under <c>server show</c>: vCPU→pCPU pins per cell, and each VF or PF per port.</summary>
    public static void Details(CliConsole console, JsonElement server)
    {
        if (Of(server) is not { } p)
            return;
        if (p.Cells is { Count: > 0 })
        {
            var cells = new Table().Title("Pinning").AddColumns("Guest cell", "Host cell", "vCPU→pCPU", "Shared vCPUs", "Memory");
            foreach (var c in p.Cells)
            {
                cells.AddRow($"{c.GuestCell}", $"{c.HostCell}", string.Join(" ", c.Pins.Select(x => $"{x.Vcpu}→{x.Pcpu}")) is { Length: > 0 } pins ? pins : "-",
                    c.SharedVcpus.Count == 0 ? "-" : string.Join(",", c.SharedVcpus),
                    c.PageSizeKiB > 4 ? $"{c.MemMiB} MiB in {Units.PageSize(c.PageSizeKiB)} pages" : $"{c.MemMiB} MiB");
            }
            console.Ansi.Write(cells);
        }
        if (p.Vfs.Count + p.Pfs.Count == 0)
            return;
        var devices = new Table().Title("Devices").AddColumns("Port", "Physnet", "PF", "VF", "Address", "Host cell", "MAC");
        foreach (var v in p.Vfs)
        {
            devices.AddRow(Markup.Escape(v.Port), Markup.Escape(v.Physnet), Markup.Escape(v.PfNetDev ?? v.Pf.ToString()), $"vf{v.VfIndex}",
                v.Vf.ToString(), v.HostCell?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-", v.Mac);
        }
        foreach (var f in p.Pfs)
        {
            devices.AddRow(Markup.Escape(f.Port), Markup.Escape(f.Physnet), Markup.Escape(f.NetDev ?? f.Pf.ToString()), "whole PF",
                f.Pf.ToString(), f.HostCell?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-", "-");
        }
        console.Ansi.Write(devices);
    }

    /// <summary>"bond: p2p1/vf0+p2p2/vf0; mgmt: p2p1(PF)".</summary>
    private static string? Devices(Placement p) =>
        string.Join("; ", p.Vfs.GroupBy(v => v.Port).Select(g => $"{g.Key}: {string.Join("+", g.Select(v => $"{v.PfNetDev ?? v.Pf.ToString()}/vf{v.VfIndex}"))}")
            .Concat(p.Pfs.Select(x => $"{x.Port}: {x.NetDev ?? x.Pf.ToString()}(PF)"))) is { Length: > 0 } s ? s : null;

    private static Placement? Of(JsonElement server) =>
        Column.Property(server, "placement") is { ValueKind: JsonValueKind.Object } placement
            ? placement.Deserialize<Placement>(IsolaJson.Options)
            : null;
}
