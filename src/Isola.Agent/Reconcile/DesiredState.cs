using Isola.Rendering.Vf;

namespace Isola.Agent.Reconcile;

/// <summary>The part of a server's host plan the agent applies today: its domain and its VFs.</summary>
public sealed record DesiredPlan(string Server, string Uuid, string DomainXml, IReadOnlyList<VfSettings> Vfs);

public sealed record DesiredPort(string Id, string Name, string Mac, string Status);

/// <summary>A server the host should hold, as <c>GET /v1/hosts/{name}/desired</c> gives it.</summary>
public sealed record DesiredServer(string Id, string Name, string Status, string PowerState, IReadOnlyList<DesiredPort> Ports, DesiredPlan? Plan);

/// <summary>What the host should hold, at a revision.</summary>
public sealed record DesiredHost(string Host, long Revision, IReadOnlyList<DesiredServer> Servers);

/// <summary>What the host holds: its domains' states (virsh's words) and the VF settings its PFs hold.</summary>
public sealed record ActualHost(IReadOnlyDictionary<string, string> Domains, IReadOnlyDictionary<(string Pf, int Vf), Isola.Domain.Pci.VfState> Vfs);

/// <summary>
/// What the agent has put on the host for a server, kept on disk before it acts: a restarted agent
/// knows what to take down even when the server left the desired state meanwhile.
/// </summary>
public sealed record AppliedServer(string Id, string Domain, IReadOnlyList<VfSettings> Vfs);
