namespace Isola.Contracts.Agent;

/// <summary>
/// An agent's report (<c>POST /v1/hosts/{name}/report</c>): the desired revision it applied, its
/// domains' states, its ports' statuses. Written by the agent, read by the server, which checks every
/// field (hence nullable: a body may lack any of them).
/// </summary>
/// <param name="Leaving">The servers the agent still holds something of (an applied record) that its desired state no longer has: it is taking them down.</param>
public sealed record HostReport(long AppliedRevision = 0, IReadOnlyList<ReportedServer>? Servers = null, IReadOnlyList<ReportedPort>? Ports = null,
    IReadOnlyList<string>? Leaving = null);

/// <summary>A server's domain state as the agent saw it: paused, running, shutoff or absent.</summary>
/// <param name="DiskVersion">The version of the server's root disk on the host (its plan's <c>disk.version</c> when it was made); null: not said (an older agent).</param>
public sealed record ReportedServer(string? Id, string? VmState, int? DiskVersion = null);

/// <summary>A port's status as the agent saw it: ACTIVE, DOWN or ERROR.</summary>
public sealed record ReportedPort(string? Id, string? Status);

/// <summary>The server's answer to a report: whether the host's revision moved, and the servers that moved on.</summary>
public sealed record ReportAnswer(bool RevisionMoved, IReadOnlyList<ReportTransition> Transitions);

/// <summary>A server's move caused by a report: from one status to a lifecycle step.</summary>
public sealed record ReportTransition(string Server, string From, string Status, string? TaskState, string PowerState);
