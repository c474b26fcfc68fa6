using System.Globalization;
using Isola.Cli.Planning;
using Isola.Domain.Cpu;
using Isola.Scheduling;
using Isola.Scheduling.Pipeline;
using Spectre.Console;

namespace Isola.Cli.Output;

/// <summary>The people's view of a plan: each placement or failure, the reasons, and how full the fleet is.</summary>
internal static class PlanView
{
    public static void Placements(IAnsiConsole console, PlanRun run, int limit)
    {
        var table = new Table().Title("Placements").AddColumns("Server", "Host", "NUMA (guest→host)", "Pinned pCPUs", "Emulator", "Memory", "VFs / PFs");
        foreach (var p in run.Placements.Take(limit))
        {
            table.AddRow(Markup.Escape(p.Server), Markup.Escape(p.Host), Cells(p), Pins(p),
                p.EmulatorPins.Count == 0 ? "-" : CpuSet.Of(p.EmulatorPins).ToString(), Memory(p), Markup.Escape(Devices(p)));
        }
        if (run.Placements.Count > limit)
            table.Caption($"... and {run.Placements.Count - limit} more (-f json has them all)");
        console.Write(table);
        if (run.Failures.Count == 0)
            return;
        var failures = new Table().Title("Not placed").AddColumns("Server", "Why (hosts per reason)");
        foreach (var f in run.Failures.Take(limit))
            failures.AddRow(Markup.Escape(f.Server), Markup.Escape(f.Reasons.Count == 0 ? "no host in the fleet" : string.Join("\n", f.Reasons)));
        if (run.Failures.Count > limit)
            failures.Caption($"... and {run.Failures.Count - limit} more");
        console.Write(failures);
    }

    public static void Summary(IAnsiConsole console, PlanRun run, int hostLimit)
    {
        var decisions = run.Placements.Count + run.Failures.Count;
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{run.Placements.Count} placed, {run.Failures.Count} not placed, on {run.Fleet.Hosts.Count} hosts; " +
            $"{run.DecisionTime.TotalMilliseconds:0.#} ms of decisions ({(decisions == 0 ? 0 : run.DecisionTime.TotalMicroseconds / decisions):0.#} µs each)"));
        if (run.Failures.Count > 0)
        {
            var reasons = new Table().Title("Why servers were not placed").AddColumns("Reason", "Servers", "Host rejections");
            foreach (var (code, servers, hosts) in run.FailureReasons())
                reasons.AddRow(Markup.Escape(Rejection.Describe(code)), $"{servers}", $"{hosts}");
            console.Write(reasons);
        }
        var table = new Table().Title("Utilisation").AddColumns("Host", "Zone", "Pinned pCPUs", "Shared vCPUs", "Cells: pinned, hugepages", "VFs used/total per PF");
        var used = run.Fleet.Hosts.Where(h => h.Generation > 0).ToList();
        foreach (var h in used.Take(hostLimit).Select(HostUtilisation.Of))
        {
            table.AddRow(Markup.Escape(h.Host), Markup.Escape(h.Zone ?? "-"), $"{h.PinnedUsed}/{h.PinnedTotal}", $"{h.SharedUsed}/{h.SharedTotal}",
                Markup.Escape(string.Join("\n", h.Cells.Select(c => $"{c.Cell}: {c.PinnedUsed}/{c.PinnedTotal}" +
                    string.Concat(c.Hugepages.Select(p => $", {Units.PageSize(p.PageSizeKiB)} {p.Used}/{p.Total}"))))),
                Markup.Escape(string.Join("\n", h.Pfs.Select(p => $"{p.NetDev ?? p.Pf} ({p.Physnet}, cell {p.Cell?.ToString(CultureInfo.InvariantCulture) ?? "?"}): " +
                    (p.WholePfTaken ? "whole PF taken" : $"{p.VfsUsed}/{p.VfsTotal}")))));
        }
        var untouched = run.Fleet.Hosts.Count - used.Count;
        table.Caption((used.Count > hostLimit ? $"{used.Count - hostLimit} more used hosts not shown; " : "") + $"{untouched} host(s) untouched");
        console.Write(table);
    }

    private static string Cells(Placement p) =>
        p.Cells is null ? "floating" : string.Join(", ", p.Cells.Select(c => $"{c.GuestCell}→{c.HostCell}"));

    private static string Pins(Placement p) =>
        p.Cells is null ? $"{p.FloatingVcpus} shared" : CpuSet.Of(p.Cells.SelectMany(c => c.Pins.Select(x => x.Pcpu))).ToString() +
            (p.Cells.Sum(c => c.SharedVcpus.Count) is > 0 and var s ? $" +{s} shared" : "");

    private static string Memory(Placement p) =>
        p.Cells is null ? $"{p.FloatingMemory.Sum(m => m.MiB)} MiB"
            : string.Join(", ", p.Cells.GroupBy(c => c.PageSizeKiB).Select(g => g.Key > 4
                ? $"{Units.PageSize(g.Key)}×{g.Sum(c => c.MemMiB * 1024 / g.Key)}"
                : $"{g.Sum(c => c.MemMiB)} MiB"));

    private static string Devices(Placement p) =>
        string.Join(" ", p.Vfs.GroupBy(v => v.Port).Select(g => $"{g.Key}:{string.Join("+", g.Select(v => $"{v.PfNetDev}/vf{v.VfIndex}"))}")
            .Concat(p.Pfs.Select(x => $"{x.Port}:{x.NetDev ?? x.Pf.ToString()}(PF)"))) is { Length: > 0 } s ? s : "-";
}
