using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.QosPolicies;
using Isola.Server.SecurityGroups;
using Isola.Store.Resources;

namespace Isola.Server.Ports;

/// <summary>A port's QoS policy (as VF rates) and security groups, checked against its vnic type.</summary>
internal static class PortPolicies
{
    /// <summary>The policy a port names (its project's or a shared one) with its rules, and the VF rates that follow.</summary>
    public sealed record Qos(QosPolicyRecord? Policy, IReadOnlyList<string> RuleIds, int MaxTxRateMbps, int MinTxRateMbps);

    public static async Task<Qos> QosAsync(ResourceStore store, string project, CreatePort body, VnicKind vnic, List<FieldError> errors)
    {
        var (max, min) = (body.MaxTxRateMbps ?? 0, body.MinTxRateMbps ?? 0);
        if (body.QosPolicy is null)
            return new Qos(null, [], max, min);
        var policy = await store.Qos.PolicyAsync(project, body.QosPolicy);
        if (policy is null)
        {
            errors.Add(new("qosPolicy", $"the project has (and shares) no QoS policy '{body.QosPolicy}'"));
            return new Qos(null, [], max, min);
        }
        var rules = await store.Qos.RulesAsync([policy.Id]);
        var (policyMax, policyMin) = VfRates.Of(vnic, policy, rules, errors);
        if (policyMax is not null && body.MaxTxRateMbps is { } givenMax && givenMax != policyMax)
            errors.Add(new("maxTxRateMbps", $"{givenMax} disagrees with QoS policy {policy.Name}, which gives {policyMax} Mbps; give one of them"));
        if (policyMin is not null && body.MinTxRateMbps is { } givenMin && givenMin != policyMin)
            errors.Add(new("minTxRateMbps", $"{givenMin} disagrees with QoS policy {policy.Name}, which gives {policyMin} Mbps; give one of them"));
        return new Qos(policy, rules.Select(r => r.Id).ToList(), policyMax ?? max, policyMin ?? min);
    }

    /// <summary>
    /// A normal port's groups: those named, or the project's default group when none are named and
    /// port security is on. SR-IOV ports get none: their traffic bypasses the host's firewall.
    /// </summary>
    public static async Task<IReadOnlyList<string>> SecurityGroupsAsync(ResourceStore store, string project, CreatePort body, VnicKind vnic, List<FieldError> errors)
    {
        var sriov = !vnic.SecurityGroups;
        if (body.SecurityGroups is { Count: > 0 } && sriov)
        {
            errors.Add(new("securityGroups", $"a {body.VnicType} port's VF bypasses the host's firewall, so security groups cannot filter it; " +
                "leave securityGroups out (set portSecurityEnabled false to say so) or use a normal port"));
            return [];
        }
        if (body.SecurityGroups is { Count: > 0 } && !body.PortSecurityEnabled)
        {
            errors.Add(new("securityGroups", "a port with portSecurityEnabled false has no security groups"));
            return [];
        }
        if (sriov || !body.PortSecurityEnabled)
            return [];
        if (body.SecurityGroups is null)
            return [(await SecurityGroupService.DefaultGroupAsync(store, project)).Id];
        var ids = new List<string>();
        for (var i = 0; i < body.SecurityGroups.Count; i++)
        {
            var group = body.SecurityGroups[i] == SecurityGroupService.Default
                ? await SecurityGroupService.DefaultGroupAsync(store, project)
                : await store.SecurityGroups.FindAsync(project, body.SecurityGroups[i]);
            if (group is not null)
                ids.Add(group.Id);
            else
                errors.Add(new($"securityGroups[{i}]", $"the project has no security group '{body.SecurityGroups[i]}'"));
        }
        return ids;
    }
}
