using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;

namespace Isola.Agent.Facets;

/// <summary>The domains libvirt has and their states (virsh's words: "running", "paused", "shut off"), by name.</summary>
/// <param name="KeptXml">The XML the agent defined each shut-off domain of a desired server from (kept under its state directory), by name.</param>
public sealed record DomainReading(IReadOnlyDictionary<string, string> Domains, IReadOnlyDictionary<string, string>? KeptXml = null) : IReading<DomainReading>
{
    public static DomainReading None { get; } = new(new Dictionary<string, string>());
}

/// <summary>
/// The libvirt domain (<c>virsh list --all</c>, <c>define</c>, <c>start --paused</c>, <c>destroy</c>,
/// <c>undefine</c>): defined from the plan's XML when libvirt lacks it, started paused while its server
/// builds or an action asks it to run (a start, the second half of a reboot, rebuild, resize or revert) — never an ACTIVE,
/// PAUSED or VERIFY_RESIZE server's domain found shut off — defined again from a changed plan while shut off, and destroyed
/// and undefined when its server goes. A port is ready only once its domain is started.
/// </summary>
public sealed class DomainFacet : IHostFacet
{
    public sealed record Define(string Id, string Domain, string Xml) : Step(Id);
    public sealed record StartPaused(string Id, string Domain) : Step(Id);
    public sealed record Destroy(string Id, string Domain) : Step(Id);
    public sealed record Undefine(string Id, string Domain) : Step(Id);

    /// <summary>
    /// Whether the agent starts a server's domain that is not running: while it builds (the agent's own
    /// define, start paused, resume), and when an action asks it to run again (desired power state running:
    /// a start from SHUTOFF, a reboot's or rebuild's second half). Never when its desired power state is
    /// shutoff, and never for an ACTIVE, PAUSED or VERIFY_RESIZE server: a domain found shut off then was stopped by its
    /// guest (or anyone but Isola), and stays so — the report makes the server SHUTOFF.
    /// </summary>
    public static bool MayStart(DesiredServer server) => server.Status == "BUILD"
        ? server.PowerState != "shutoff"
        : server.PowerState == "running" && server.Status is not ("ACTIVE" or "PAUSED" or "VERIFY_RESIZE");

    public async Task<object?> ReadAsync(HostRead read, CancellationToken ct)
    {
        var domains = await read.Driver.DomainsAsync(ct);
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in read.Desired.Servers.Select(s => s.Plan?.Server).OfType<string>().Where(n => domains.GetValueOrDefault(n) == "shut off"))
        {
            if (read.Driver.DomainXml(name) is { } xml)
                kept[name] = xml;
        }
        return new DomainReading(domains, kept);
    }

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        // Defined when libvirt lacks it; defined again, while shut off, when the plan's XML is not what it was defined from
        // (a resize's new flavor, a revert's old one): a running guest keeps its domain until it next starts.
        // No kept XML (lost, or an older agent's define) counts as different: defined once more from the plan.
        if (server.State is null
            || (server.State == "shut off" && actual.Get<DomainReading>().KeptXml is { } kept && kept.GetValueOrDefault(server.Domain) != server.Plan.DomainXml))
            yield return new Define(server.Id, server.Domain, server.Plan.DomainXml);
        if (server.Starts)
            yield return new StartPaused(server.Id, server.Domain);
    }

    public IEnumerable<Step> PlanTakeDown(AppliedServer gone, ActualHost actual)
    {
        var state = actual.Get<DomainReading>().Domains.GetValueOrDefault(gone.Domain);
        if (state is "running" or "paused")
            yield return new Destroy(gone.Id, gone.Domain);
        if (state is not null)
            yield return new Undefine(gone.Id, gone.Domain);
    }

    public bool Holds(ServerContext server, DesiredPort port, ActualHost actual) => server.Started;

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct) => step switch
    {
        Define d => hands.Driver.DefineAsync(d.Domain, d.Xml, ct),
        StartPaused s => hands.Driver.StartPausedAsync(s.Domain, ct),
        Destroy d => hands.Driver.DestroyAsync(d.Domain, ct),
        Undefine u => hands.Driver.UndefineAsync(u.Domain, ct),
        _ => throw HostFacets.NotMine(this, step),
    };
}
