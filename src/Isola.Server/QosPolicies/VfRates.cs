using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.QosPolicies;

/// <summary>
/// What a QoS policy means for a port, and the rules a port of its kind cannot have (refused under
/// field qosPolicy, never stored and ignored). A VF (direct, macvtap) can cap and guarantee only what
/// the VM sends: an egress bandwidth-limit becomes max_tx_rate and an egress minimum-bandwidth
/// min_tx_rate, in Mbps rounded up (at least 1); burst has no VF knob and is not applied. Ingress
/// limits and DSCP marking need the host's datapath, which a VF bypasses: refused. A whole PF
/// (direct-physical) and a vdpa device get no rate from Isola: any rule is refused. A normal (virtio)
/// port's rules are the OVS agent's flows (docs/flows.md): bandwidth limits both ways as meters, a
/// DSCP mark set on what the VM sends; minimum bandwidth is refused there: Open vSwitch's userspace
/// datapath has no minimum-rate queue (only egress policers), its kernel datapath has one
/// (linux-htb/linux-hfsc min-rate) only on the physical uplink, which the operator owns, and the
/// server does not know a host's datapath.
/// </summary>
internal static class VfRates
{
    /// <summary>The VF rates the policy sets (null: it has no such rule); faults go to <paramref name="errors"/> under field qosPolicy.</summary>
    public static (int? MaxTxRateMbps, int? MinTxRateMbps) Of(VnicKind vnic, QosPolicyRecord policy, IReadOnlyList<QosRuleRecord> rules, List<FieldError> errors)
    {
        var (max, min) = ((int?)null, (int?)null);
        foreach (var rule in rules)
        {
            if (Refusal(vnic, rule) is { } why)
            {
                errors.Add(new("qosPolicy", $"policy {policy.Name} has {Describe(rule)}: {why}"));
                continue;
            }
            if (vnic.Qos != PortQos.VfEgressRates)
                continue;
            if (rule.Type == QosRules.BandwidthLimit)
                max = Mbps(rule.MaxKbps!.Value);
            else
                min = Mbps(rule.MinKbps!.Value);
        }
        return (max, min);
    }

    /// <summary>Why a port of <paramref name="vnic"/>'s kind cannot have <paramref name="rule"/>; null: it is applied.</summary>
    public static string? Refusal(VnicKind vnic, QosRuleRecord rule) => vnic.Qos switch
    {
        PortQos.None => $"Isola sets no QoS on a {vnic.Title} port",
        PortQos.OvsFlows when rule.Type == QosRules.MinimumBandwidth =>
            $"a {vnic.Title} port's traffic goes through the host's Open vSwitch, which cannot guarantee it a rate: its userspace datapath (netdev) " +
            "has no minimum-rate queue, only egress policers, and its kernel datapath (system) has one (linux-htb min-rate) only on the physical uplink, " +
            "which the operator owns; use a direct or macvtap port (the VF's min_tx_rate) or a policy without the rule",
        PortQos.OvsFlows => null,
        _ when rule.Type == QosRules.DscpMarking => "a VF bypasses the host's datapath, so nothing can mark its packets; use a normal port",
        _ when rule.Direction == "ingress" => "a VF can only rate-limit what the VM sends (egress)",
        _ => null,
    };

    /// <summary>"a dscp-marking rule", "an egress minimum-bandwidth rule".</summary>
    public static string Describe(QosRuleRecord rule) =>
        rule.Type == QosRules.DscpMarking ? "a dscp-marking rule" : $"an {rule.Direction} {rule.Type} rule";

    /// <summary>kbps to Mbps, rounded up, at least 1 (a VF rate of 0 means no limit); 0 stays 0.</summary>
    public static int Mbps(long kbps) => kbps == 0 ? 0 : (int)Math.Max(1, (kbps + 999) / 1000);
}
