using Isola.Scheduling.Fitting;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Pipeline;

/// <summary>Answers "how good is this host for the request" on a fixed scale of 0 (worst) to 100 (best).</summary>
public interface IHostScorer
{
    string Name { get; }

    double Score(HostState host, HostFit fit, RequestContext ctx);
}

/// <summary>Spread: the emptier the host, the better. Pack: the fuller, the better.</summary>
public sealed class StrategyScorer : IHostScorer
{
    public string Name => "strategy";

    public double Score(HostState host, HostFit fit, RequestContext ctx)
    {
        var dedicated = host.DedicatedCpus.Count;
        var cpuFree = ctx.TotalPins > 0 && dedicated > 0
            ? (double)host.FreeDedicatedThreads / dedicated
            : host.SharedUnitsTotal > 0 ? (double)host.SharedUnitsFree / host.SharedUnitsTotal : 0;
        var free = 100 * cpuFree;
        return ctx.Request.Strategy == Strategy.Spread ? free : 100 - free;
    }
}

/// <summary>VF balance: better when the VFs come from pools that still have many free.</summary>
public sealed class VfBalanceScorer : IHostScorer
{
    public string Name => "vf-balance";

    public double Score(HostState host, HostFit fit, RequestContext ctx)
    {
        if (fit.Vfs.Count == 0)
            return 100;
        var sum = 0.0;
        foreach (var vf in fit.Vfs)
        {
            var pool = host.Pools.First(p => p.Pf.Address == vf.Pf);
            sum += pool.Vfs.Count == 0 ? 0 : (double)pool.Free / pool.Vfs.Count;
        }
        return 100 * sum / fit.Vfs.Count;
    }
}

/// <summary>NUMA fragmentation: better when pinning leaves whole cores whole.</summary>
public sealed class NumaFragmentationScorer : IHostScorer
{
    public string Name => "numa-fragmentation";

    public double Score(HostState host, HostFit fit, RequestContext ctx)
    {
        if (fit.Cells is null || ctx.TotalPins == 0)
            return 100;
        var broken = 0;
        var cores = 0;
        foreach (var cell in fit.Cells)
        {
            var cpus = cell.Pins.Select(p => p.Pcpu).Concat(cell.ReservedSiblings).ToList();
            if (cell.GuestCell == 0)
                cpus.AddRange(fit.EmulatorPins.Concat(fit.EmulatorReserved));
            var state = host.Cell(cell.HostCell)!.Cpus;
            broken += state.CoresBrokenBy(cpus);
            cores += Math.Max(1, cpus.Count / Math.Max(1, state.ThreadsPerCore));
        }
        return 100.0 * (1 - Math.Min(1.0, (double)broken / cores));
    }
}

/// <summary>Soft server group policies: toward the members (soft-affinity) or away (soft-anti-affinity).</summary>
public sealed class SoftGroupScorer(FleetState fleet) : IHostScorer
{
    public string Name => "soft-group";

    public double Score(HostState host, HostFit fit, RequestContext ctx)
    {
        if (ctx.Request.Group is not { } name || !fleet.Groups.TryGetValue(name, out var group))
            return 100;
        var members = group.MembersByHost.GetValueOrDefault(host.Index);
        return group.Policy switch
        {
            GroupPolicy.SoftAffinity => members > 0 || group.MembersByHost.Count == 0 ? 100 : 0,
            GroupPolicy.SoftAntiAffinity => Math.Max(0, 100 - (25 * members)),
            _ => 100,
        };
    }
}

/// <summary>pci_numa_affinity_policy=preferred: better when the VFs are on the guest's cells.</summary>
public sealed class PciLocalityScorer : IHostScorer
{
    public string Name => "pci-locality";

    public double Score(HostState host, HostFit fit, RequestContext ctx)
    {
        if (fit.Vfs.Count == 0 || fit.Cells is null)
            return 100;
        var cells = fit.Cells.Select(c => c.HostCell).ToHashSet();
        return 100.0 * fit.Vfs.Count(v => v.HostCell is { } c && cells.Contains(c)) / fit.Vfs.Count;
    }
}
