using Isola.Rendering;
using Isola.Rendering.Flows;

namespace Isola.Contracts.Agent;

/// <summary>
/// What a host should hold, at a revision: the answer of <c>GET /v1/hosts/{name}/desired</c>, written
/// by the server and read by the host's agent. No computed properties here: every public property is
/// a field on the wire.
/// </summary>
/// <param name="AppliedRevision">The revision the host's agent last reported applied.</param>
/// <param name="Network">What the host's Open vSwitch flows depend on (virtio ports, their networks and peers); null from a controller that does not send it.</param>
public sealed record DesiredHost(string Host, long Revision, long AppliedRevision, IReadOnlyList<DesiredServer> Servers, HostNetworkState? Network = null);

/// <summary>A server the host should hold.</summary>
/// <param name="Project">The server's project id.</param>
/// <param name="PlanStamp">Changes exactly when the plan does (the host's inventory stamp); null when the server has no spec to plan from.</param>
/// <param name="Plan">The server's host plan; null when the poll asked for stamps only (<c>plans=omit</c>), there is none, or the controller could not make it (<paramref name="PlanError"/> says why: the agent leaves the server as it is).</param>
/// <param name="PlanError">Why the controller could not make the plan; null with <c>plans=omit</c> (the plans call says).</param>
/// <param name="Shutdown">How a domain that should be shut off goes down: <c>clean</c> (the guest is asked: ACPI, as <c>virsh shutdown</c>,
/// until the controller's shutdown deadline passes) or <c>hard</c> (powered off, <c>virsh destroy</c>); null is hard.</param>
/// <param name="Migration">A resize or cold migration between two hosts that this host is one end of; null: none (or one within this host).</param>
public sealed record DesiredServer(string Id, string Name, string Project, string Status, string? TaskState, string PowerState, string? VmState,
    IReadOnlyList<DesiredPort> Ports, string? PlanStamp, HostPlan? Plan, string? PlanError = null, string? Shutdown = null, DesiredMigration? Migration = null)
{
    public const string CleanShutdown = "clean";
    public const string HardShutdown = "hard";
}

/// <summary>
/// A resize or cold migration between hosts, as one end sees it. The source keeps the server's domain, shut off, and its
/// disk (sent to the controller once shut off: <c>PUT /v1/hosts/{name}/servers/{id}/disk</c>) until the move is confirmed
/// (then the server leaves its desired state) or reverted (then it is the source's server again). The destination holds the
/// server only once its disk was sent, and makes its disk from it (<c>GET</c> of the same path) instead of from the image.
/// </summary>
/// <param name="Id">The migration's id.</param>
/// <param name="Role"><c>source</c> or <c>destination</c>.</param>
/// <param name="DiskSent">Whether the source has sent the server's disk.</param>
public sealed record DesiredMigration(string Id, string Role, bool DiskSent)
{
    public const string Source = "source";
    public const string Destination = "destination";
}

/// <summary>A port bound to a server on the host.</summary>
public sealed record DesiredPort(string Id, string Name, string Mac, string Status);

/// <summary>
/// One server's plan with the stamp it was rendered at: the values of <c>GET /v1/hosts/{name}/plans</c>,
/// keyed by server id; without a plan when the controller cannot make it, and then <paramref name="PlanError"/> says why.
/// </summary>
public sealed record ServerPlan(string PlanStamp, HostPlan? Plan, string? PlanError = null);
