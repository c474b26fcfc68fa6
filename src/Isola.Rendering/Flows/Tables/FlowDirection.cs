namespace Isola.Rendering.Flows.Tables;

/// <summary>
/// One way through a port's security groups: egress (what the VM sends: its port is in <c>reg5</c>,
/// tables 30 and 31, then marking) or ingress (what it receives: <c>reg7</c>, tables 60 and 61, then deliver).
/// </summary>
internal sealed record FlowDirection(string Name, int Conntrack, int Rules, int Next, string Register)
{
    public static FlowDirection Egress { get; } = new("egress", FlowTables.EgressConntrack, FlowTables.EgressRules, FlowTables.Marking, "reg5");

    public static FlowDirection Ingress { get; } = new("ingress", FlowTables.IngressConntrack, FlowTables.IngressRules, FlowTables.Deliver, "reg7");

    /// <summary>Whether a security group rule is of this direction (a rule that does not say egress is an ingress rule).</summary>
    public bool Holds(SecurityRule rule) => (rule.Direction == "egress") == (this == Egress);
}
