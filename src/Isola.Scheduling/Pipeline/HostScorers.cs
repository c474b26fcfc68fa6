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

    public double Score(HostState host, HostFit fit, RequestContext ctx) => 100 * fit.VfFreeShare;
}

/// <summary>NUMA fragmentation: better when pinning leaves whole cores whole.</summary>
public sealed class NumaFragmentationScorer : IHostScorer
{
    public string Name => "numa-fragmentation";

    public double Score(HostState host, HostFit fit, RequestContext ctx) =>
        fit.CoresTouched == 0 ? 100 : 100.0 * (1 - ((double)fit.CoresBroken / fit.CoresTouched));
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
        var plan = fit.Placement;
        if (plan.Vfs.Count == 0 || plan.Cells is null)
            return 100;
        var local = 0;
        foreach (var vf in plan.Vfs)
        {
            foreach (var cell in plan.Cells)
            {
                if (vf.HostCell == cell.HostCell)
                {
                    local++;
                    break;
                }
            }
        }
        return 100.0 * local / plan.Vfs.Count;
    }
}
