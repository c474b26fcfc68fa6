using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering;

namespace Isola.Agent.Facets;

/// <summary>
/// A server the host should hold, as every facet plans it: its plan, what the agent applied for it
/// (null: new to this agent), and its domain's state — every other concern hangs on the domain (VFs
/// are programmed after it starts, IRQs steered and vhost workers pinned once it runs).
/// </summary>
/// <param name="State">The domain's state in virsh's words ("running", "paused", "shut off"); null: libvirt lacks it.</param>
/// <param name="Starts">Whether this cycle starts the domain (paused).</param>
public sealed record ServerContext(DesiredServer Server, HostPlan Plan, AppliedServer? Applied, string? State, bool Starts)
{
    public string Id => Server.Id;

    /// <summary>The libvirt domain's name.</summary>
    public string Domain => Plan.Server;

    /// <summary>Whether the agent applied something for this server before (so a difference now is drift).</summary>
    public bool Known => Applied is not null;

    /// <summary>Started, paused or running: QEMU runs, the guest's IRQs and vhost workers exist.</summary>
    public bool Started => State is "paused" or "running";

    /// <summary>The server's domain state as the report says it: paused, running, shutoff or absent.</summary>
    public string VmState => VmStateOf(State);

    /// <summary>A domain's state (virsh's words; null: libvirt lacks it) as the report says it.</summary>
    public static string VmStateOf(string? state) => state switch
    {
        null => "absent",
        "shut off" => "shutoff",
        _ => state,
    };

    /// <summary>The state of a domain as the domain facet read it, as the report says it.</summary>
    public static string VmStateOf(ActualHost actual, string domain) => VmStateOf(actual.Get<DomainReading>().Domains.GetValueOrDefault(domain));

    public static ServerContext Of(DesiredServer server, HostPlan plan, AppliedServer? applied, ActualHost actual)
    {
        var state = actual.Get<DomainReading>().Domains.GetValueOrDefault(plan.Server);
        return new(server, plan, applied, state, (state is null or "shut off") && DomainFacet.MayStart(server));
    }
}
