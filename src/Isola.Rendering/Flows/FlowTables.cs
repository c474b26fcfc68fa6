namespace Isola.Rendering.Flows;

/// <summary>
/// The integration bridge's tables (docs/flows.md). Registers: reg5 = the local port a frame came
/// from (0 when it came from a tunnel or a physical network), reg6 = the network's zone on this
/// host (also the conntrack zone), reg7 = the local port it goes to.
/// </summary>
public static class FlowTables
{
    /// <summary>Where a frame came from: a VM's tap, a tunnel with a known key, a physical network's patch port with its VLAN.</summary>
    public const int Classify = 0;

    /// <summary>A VM may send only from its MAC and its addresses.</summary>
    public const int PortSecurity = 10;

    /// <summary>ARP requests for addresses known on the network are answered here, never flooded.</summary>
    public const int ArpResponder = 20;

    /// <summary>Egress security groups: IP traffic goes through conntrack...</summary>
    public const int EgressConntrack = 30;

    /// <summary>...and is passed when established/related or when a rule allows a new connection.</summary>
    public const int EgressRules = 31;

    /// <summary>What a VM sends, past its security groups, gets its port's DSCP mark (IPv4 and IPv6) before it is forwarded anywhere.</summary>
    public const int Marking = 40;

    /// <summary>L2: a local MAC, a remote MAC behind its tunnel (l2population), or flooding to the network's members.</summary>
    public const int Forward = 50;

    /// <summary>Ingress security groups of the destination port: conntrack...</summary>
    public const int IngressConntrack = 60;

    /// <summary>...and the decision.</summary>
    public const int IngressRules = 61;

    /// <summary>Out to the destination port, through its ingress meter.</summary>
    public const int Deliver = 70;
}
