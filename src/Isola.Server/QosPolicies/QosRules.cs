using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.QosPolicies;

public sealed record CreateQosRule(string? Type, long? MaxKbps = null, long? MaxBurstKbps = null, long? MinKbps = null, string? Direction = null, int? DscpMark = null);

/// <summary>Neutron's QoS rule types and what each takes.</summary>
internal static class QosRules
{
    public const string BandwidthLimit = "bandwidth-limit";
    public const string MinimumBandwidth = "minimum-bandwidth";
    public const string DscpMarking = "dscp-marking";

    /// <summary>The DSCP values Neutron accepts: 0 and the standard per-hop behaviours (CS, AF, EF).</summary>
    public static readonly IReadOnlySet<int> DscpMarks = new HashSet<int> { 0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 46, 48, 56 };

    private const long MaxRate = int.MaxValue;

    /// <summary>A rule record, or null when <paramref name="errors"/> (fields under <paramref name="prefix"/>) says what is wrong.</summary>
    public static QosRuleRecord? Check(CreateQosRule body, string policyId, string prefix, List<FieldError> errors)
    {
        var count = errors.Count;
        void Error(string field, string message) => errors.Add(new(prefix + field, message));
        void Rate(string field, long? value, bool required)
        {
            if (value is null && required)
                Error(field, $"a {body.Type} rule needs {field}");
            else if (value is < 0 or > MaxRate)
                Error(field, $"kbps are 0-{MaxRate}");
        }
        void Absent(string field, object? value)
        {
            if (value is not null)
                Error(field, $"a {body.Type} rule has no {field}");
        }
        switch (body.Type)
        {
            case BandwidthLimit:
                Rate("maxKbps", body.MaxKbps, required: true);
                Rate("maxBurstKbps", body.MaxBurstKbps, required: false);
                Absent("minKbps", body.MinKbps);
                Absent("dscpMark", body.DscpMark);
                break;
            case MinimumBandwidth:
                Rate("minKbps", body.MinKbps, required: true);
                Absent("maxKbps", body.MaxKbps);
                Absent("maxBurstKbps", body.MaxBurstKbps);
                Absent("dscpMark", body.DscpMark);
                break;
            case DscpMarking:
                if (body.DscpMark is null || !DscpMarks.Contains(body.DscpMark.Value))
                    Error("dscpMark", $"a DSCP mark is one of {string.Join(", ", DscpMarks)}");
                Absent("maxKbps", body.MaxKbps);
                Absent("maxBurstKbps", body.MaxBurstKbps);
                Absent("minKbps", body.MinKbps);
                Absent("direction", body.Direction);
                break;
            default:
                Error("type", $"must be {BandwidthLimit}, {MinimumBandwidth} or {DscpMarking}");
                break;
        }
        if (body.Direction is not (null or "egress" or "ingress"))
            Error("direction", "must be egress (what the VM sends) or ingress (what it receives)");
        if (errors.Count > count)
            return null;
        return new QosRuleRecord(ResourceStore.NewId(), policyId, body.Type!, body.Direction ?? "egress",
            body.MaxKbps, body.Type == BandwidthLimit ? body.MaxBurstKbps ?? 0 : null, body.MinKbps, body.DscpMark);
    }

    public static object View(QosRuleRecord r) => new
    {
        r.Id,
        r.Type,
        direction = r.Type == DscpMarking ? null : r.Direction,
        r.MaxKbps,
        r.MaxBurstKbps,
        r.MinKbps,
        r.DscpMark,
    };
}
