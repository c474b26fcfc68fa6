using Isola.Agent.Driver;
using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;

namespace Isola.Agent.Facets;

/// <summary>
/// One concern of the host (its domains, its VFs, its IRQs, ...): reads its part of the host, decides
/// the steps that make that part match the desired state, applies them, and says when the host has
/// moved behind the agent's back (the drift its steps carry, see <see cref="IDriftStep"/>). The
/// agent runs the facets in a fixed order (<see cref="HostFacets.All"/>) and knows none of them by name.
/// </summary>
/// <remarks>
/// A cycle plans in four rounds, each going over the facets in order: every server the host should
/// hold (<see cref="PlanServer"/>), the host as a whole (<see cref="PlanHost"/>), every server that
/// left (<see cref="PlanTakeDown"/>), and what is left over after that (<see cref="PlanSweep"/>).
/// Planning is pure: everything it needs of the host is in what the facets read. A server in the
/// desired state without a plan is in no round: nothing is made for it, and it has not left.
/// </remarks>
public interface IHostFacet
{
    /// <summary>
    /// Reads this facet's part of the host (a record of its own type, kept in <see cref="ActualHost"/>);
    /// null: it reads nothing. Facets read in order: <see cref="HostRead.Actual"/> holds what the earlier ones read.
    /// </summary>
    Task<object?> ReadAsync(HostRead read, CancellationToken ct) => Task.FromResult<object?>(null);

    /// <summary>Steps for a server the host should hold (one with a plan).</summary>
    IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual) => [];

    /// <summary>Host-wide steps, after every server's.</summary>
    IEnumerable<Step> PlanHost(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied, ActualHost actual) => [];

    /// <summary>Steps that take away what this facet put on the host for a server that left the desired state.</summary>
    IEnumerable<Step> PlanTakeDown(AppliedServer gone, ActualHost actual) => [];

    /// <summary>Last: what no server here owns any more (left behind by earlier agents).</summary>
    IEnumerable<Step> PlanSweep(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied, ActualHost actual) => [];

    /// <summary>Does one of this facet's steps; a failing command throws <see cref="DriverException"/>.</summary>
    Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct);

    /// <summary>Whether this facet's part of a port is in place (for the report: a port is ACTIVE when every facet says so).</summary>
    bool Holds(ServerContext server, DesiredPort port, ActualHost actual) => true;

    /// <summary>What keeps this facet from doing its part, said in the cycle's failures (nothing it can fix by a step).</summary>
    IEnumerable<string> Problems(DesiredHost desired, ActualHost actual) => [];
}

/// <summary>What a facet reads the host with: the desired state, what the agent applied so far, the driver, and the earlier facets' readings.</summary>
public sealed record HostRead(DesiredHost Desired, IReadOnlyDictionary<string, AppliedServer> Applied, HostDriver Driver, ActualHost Actual);

/// <summary>What a facet applies its steps with: the driver (the host) and the agent's record of what it applied (its state directory).</summary>
public sealed record AgentHands(HostDriver Driver, AppliedStore Applied);

/// <summary>A step that may say the host drifted: set before by the agent, and changed since behind its back.</summary>
public interface IDriftStep
{
    /// <summary>What drifted, for the cycle's drift list; null: not drift (first time, or after a start).</summary>
    string? Drift { get; }
}
