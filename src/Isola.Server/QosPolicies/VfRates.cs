using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.QosPolicies;

/// <summary>
/// What a QoS policy means for a port. A VF (direct, macvtap) can cap and guarantee only what the
/// VM sends: an egress bandwidth-limit becomes max_tx_rate and an egress minimum-bandwidth
/// min_tx_rate, in Mbps rounded up (at least 1); burst has no VF knob and is not applied. Ingress
/// limits and DSCP marking need the host's datapath, which a VF bypasses: refused. A whole PF
/// (direct-physical) and a vdpa device get no rate from Isola: any rule is refused. Normal (virtio)
/// ports take every rule; the policy is recorded for the OVS agent (not rendered yet).
/// </summary>
internal static class VfRates
{
    /// <summary>The VF rates the policy sets (null: it has no such rule); faults go to <paramref name="errors"/> under field qosPolicy.</summary>
    public static (int? MaxTxRateMbps, int? MinTxRateMbps) Of(VnicKind vnic, QosPolicyRecord policy, IReadOnlyList<QosRuleRecord> rules, List<FieldError> errors)
    {
        if (vnic.Qos == PortQos.AllRules)
            return (null, null);
        var (max, min) = ((int?)null, (int?)null);
        foreach (var rule in rules)
        {
            var what = rule.Type == QosRules.DscpMarking ? "a dscp-marking rule" : $"an {rule.Direction} {rule.Type} rule";
            if (vnic.Qos == PortQos.None)
                errors.Add(new("qosPolicy", $"policy {policy.Name} has {what}: Isola sets no QoS on a {vnic.Title} port"));
            else if (rule.Type == QosRules.DscpMarking)
                errors.Add(new("qosPolicy", $"policy {policy.Name} has {what}: a VF bypasses the host's datapath, so nothing can mark its packets; use a normal port"));
            else if (rule.Direction == "ingress")
                errors.Add(new("qosPolicy", $"policy {policy.Name} has {what}: a VF can only rate-limit what the VM sends (egress)"));
            else if (rule.Type == QosRules.BandwidthLimit)
                max = Mbps(rule.MaxKbps!.Value);
            else
                min = Mbps(rule.MinKbps!.Value);
        }
        return (max, min);
    }

    /// <summary>kbps to Mbps, rounded up, at least 1 (a VF rate of 0 means no limit); 0 stays 0.</summary>
    public static int Mbps(long kbps) => kbps == 0 ? 0 : (int)Math.Max(1, (kbps + 999) / 1000);
}
