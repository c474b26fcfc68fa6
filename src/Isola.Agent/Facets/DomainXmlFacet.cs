using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;

namespace Isola.Agent.Facets;

/// <summary>The domains whose XML the agent keeps in its state directory (the file it defined them from), by name.</summary>
public sealed record DomainXmlReading(IReadOnlySet<string> Files) : IReading<DomainXmlReading>
{
    public static DomainXmlReading None { get; } = new(new HashSet<string>(StringComparer.Ordinal));
}

/// <summary>
/// The domain XML the agent keeps (<c>domains/NAME.xml</c> under its state directory, written by
/// <see cref="DomainFacet.Define"/>): removed when its server goes, after the domain and everything
/// else of the server, and removed whenever found with no server here to own it (what agents before
/// this one left for every deleted server).
/// </summary>
public sealed class DomainXmlFacet : IHostFacet
{
    /// <summary>Removes the XML a domain was defined from (kept in the state directory while its server is on the host).</summary>
    public sealed record RemoveDomainXml(string Id, string Domain) : Step(Id);

    public Task<object?> ReadAsync(HostRead read, CancellationToken ct) => Task.FromResult<object?>(new DomainXmlReading(read.Driver.DomainFiles()));

    public IEnumerable<Step> PlanTakeDown(AppliedServer gone, ActualHost actual)
    {
        if (actual.Get<DomainXmlReading>().Files.Contains(gone.Domain))
            yield return new RemoveDomainXml(gone.Id, gone.Domain);
    }

    public IEnumerable<Step> PlanSweep(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied, ActualHost actual)
    {
        // XML of domains no server here owns (earlier agents left it behind when a server went).
        var owned = applied.Values.Select(a => a.Domain).Concat(desired.Servers.Select(s => s.Plan?.Server).OfType<string>()).ToHashSet(StringComparer.Ordinal);
        foreach (var orphan in actual.Get<DomainXmlReading>().Files.Where(d => !owned.Contains(d)).Order(StringComparer.Ordinal))
            yield return new RemoveDomainXml(orphan, orphan);
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        if (step is not RemoveDomainXml x)
            throw HostFacets.NotMine(this, step);
        hands.Driver.RemoveDomainFile(x.Domain);
        return Task.CompletedTask;
    }
}
