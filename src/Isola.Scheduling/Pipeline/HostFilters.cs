using Isola.Scheduling.Fitting;
using Isola.Scheduling.Requests;
using Isola.Scheduling.State;

namespace Isola.Scheduling.Pipeline;

/// <summary>Answers "can this host take the request, and if not, why" without the exact fit.</summary>
public interface IHostFilter
{
    Rejection? Check(HostState host, RequestContext ctx);
}

/// <summary>Hosts an operator disabled take no new servers.</summary>
public sealed class EnabledFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx) =>
        host.Disabled ? new Rejection(RejectionCode.HostDisabled, "disabled") : null;
}

/// <summary>
/// Hosts whose stored state the fleet cannot use (a committed placement that does not fit the
/// inventory, an inventory row that does not read) take no new servers: what they hold is not known here.
/// </summary>
public sealed class UsableFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx) =>
        host.Unusable is { } why ? new Rejection(RejectionCode.HostUnusable, why) : null;
}

/// <summary>
/// Hosts whose agent reported and then fell silent take no new servers: nothing would build them
/// (Nova's ComputeFilter skips hosts whose compute service is down). A host whose agent never
/// reported (inventory registered by an operator) stays a candidate.
/// </summary>
public sealed class AgentUpFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx) =>
        host.AgentDown ? new Rejection(RejectionCode.AgentDown, "its agent stopped reporting") : null;
}

/// <summary>Not a host the request excludes (a cold migration leaves the server's own host).</summary>
public sealed class ExcludedHostFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx) =>
        ctx.Request.ExcludedHosts is { Count: > 0 } excluded && excluded.Contains(host.Name, StringComparer.Ordinal)
            ? new Rejection(RejectionCode.HostExcluded, "the server is on it (a migration goes to another host)")
            : null;
}

/// <summary>Only hosts of the requested availability zone.</summary>
public sealed class ZoneFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx) =>
        ctx.Request.AvailabilityZone is { } zone && host.AvailabilityZone != zone
            ? new Rejection(RejectionCode.AvailabilityZone, $"in {host.AvailabilityZone ?? "no zone"}, not {zone}")
            : null;
}

/// <summary>Only hosts in every requested aggregate.</summary>
public sealed class AggregateFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx)
    {
        foreach (var aggregate in ctx.Request.Aggregates ?? [])
        {
            if (!host.Aggregates.Contains(aggregate))
                return new Rejection(RejectionCode.Aggregate, $"not in aggregate {aggregate}");
        }
        return null;
    }
}

/// <summary>Hard server group policies: affinity (with the members) and anti-affinity (away from them).</summary>
public sealed class GroupFilter(FleetState fleet) : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx)
    {
        if (ctx.Request.Group is not { } name || !fleet.Groups.TryGetValue(name, out var group))
            return null;
        var members = group.MembersByHost;
        return group.Policy switch
        {
            GroupPolicy.AntiAffinity when members.ContainsKey(host.Index) =>
                new Rejection(RejectionCode.GroupAntiAffinity, $"holds {members[host.Index]} member(s) of {name}"),
            GroupPolicy.Affinity when members.Count > 0 && !members.ContainsKey(host.Index) =>
                new Rejection(RejectionCode.GroupAffinity, $"the members of {name} are elsewhere"),
            _ => null,
        };
    }
}

/// <summary>Host-wide totals, before the exact fit: free pinnable pCPUs, memory, VFs per physnet.</summary>
public sealed class TotalsFilter : IHostFilter
{
    public Rejection? Check(HostState host, RequestContext ctx)
    {
        if (ctx.TotalPins > host.FreeDedicatedThreads)
            return new Rejection(RejectionCode.DedicatedCpus, $"{ctx.TotalPins} pCPUs to pin, {host.FreeDedicatedThreads} free on the host");
        if (ctx.FloatingVcpus > host.SharedUnitsFree)
            return new Rejection(RejectionCode.SharedCpus, $"{ctx.FloatingVcpus} shared vCPUs asked, {host.SharedUnitsFree} free");
        if (ctx.SmallMemDemandMiB > host.SmallFreeMiB)
            return new Rejection(RejectionCode.Memory, $"{ctx.SmallMemDemandMiB} MiB asked, {host.SmallFreeMiB} MiB free");
        foreach (var (physnet, count) in ctx.VfDemand)
        {
            if (count == 0)
                continue;
            if (Array.IndexOf(host.Physnets, physnet) < 0)
                return new Rejection(RejectionCode.NoPhysnet, $"no PF on {physnet}");
            var free = host.FreeVfs(physnet, needNetDev: false);
            if (free < count)
                return new Rejection(RejectionCode.NoFreeVf, $"{count} VFs asked on {physnet}, {free} free");
        }
        return null;
    }
}
