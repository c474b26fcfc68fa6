using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;
using Isola.Rendering;
using Isola.Rendering.Isolation;

namespace Isola.Agent.Facets;

/// <summary>The host's irqbalance file as it is; null: there is none.</summary>
public sealed record IrqbalanceReading(string? Content) : IReading<IrqbalanceReading>
{
    public static IrqbalanceReading None { get; } = new((string?)null);
}

/// <summary>
/// irqbalance (<c>/etc/default/irqbalance</c> under the root, <c>systemctl try-restart
/// irqbalance.service</c>): one file for the whole host, merged over every server — the dedicated
/// pCPUs banned and every IRQ any server's plan steers left alone — written when it differs, then
/// irqbalance restarted. With no server left Isola's file keeps the CPU list and loses the IRQs; a
/// file Isola did not write is left alone. The IRQs the agent steered for a server that came without
/// a plan (left as it is) stay banned; with servers left but no plan, the file stays as it is.
/// </summary>
public sealed class IrqbalanceFacet : IHostFacet
{
    /// <summary>The host's one irqbalance file, merged over every server, then irqbalance restarted.</summary>
    public sealed record Irqbalance(string Path, string Content) : Step("");

    public const string Path = "/etc/default/irqbalance";

    /// <summary>
    /// irqbalance's file for the whole host: keep off the dedicated pCPUs (host-wide, the same in every
    /// plan) and leave alone every IRQ any server's plan steers, and every IRQ the agent steered for a
    /// server without a plan now (<paramref name="applied"/>); null: leave the file as it is.
    /// </summary>
    public static HostFile? File(DesiredHost desired, ActualHost actual, IReadOnlyDictionary<string, AppliedServer>? applied = null)
    {
        var plans = desired.Servers.Select(s => s.Plan).OfType<HostPlan>().Where(p => p.Isolation is not null).ToList();
        if (plans.Count == 0)
        {
            // Servers without a plan: the CPU list is in no plan to write, and their IRQs stay banned.
            if (desired.Servers.Any(s => s.Plan is null))
                return null;
            // No server left: the CPUs stay banned (host policy), the IRQs Isola steered are irqbalance's again.
            return actual.Get<IrqbalanceReading>().Content is { } now && now.StartsWith("# Written by Isola", StringComparison.Ordinal)
                ? new HostFile(Path, string.Concat(now.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("IRQBALANCE_ARGS=", StringComparison.Ordinal)).Select(l => l + "\n")))
                : null;
        }
        var kept = desired.Servers.Where(s => s.Plan is null)
            .SelectMany(s => IrqFacet.Before(applied?.GetValueOrDefault(s.Id)).Keys.Concat(IrqFacet.Steered(applied?.GetValueOrDefault(s.Id))));
        // The vectors of started domains only: a stopped server's host-driver vectors are not steered, so not banned either.
        var domains = actual.Get<DomainReading>().Domains;
        var steered = plans.Where(p => p.Irqs is not null && domains.GetValueOrDefault(p.Server) is "running" or "paused")
            .SelectMany(p => IrqFacet.Assignments(p.Irqs, actual)).Select(a => a.Irq).Concat(kept)
            .Distinct().Order().ToList();
        return (plans[0].Isolation with { BannedIrqs = steered }).IrqbalanceDefaults;
    }

    public Task<object?> ReadAsync(HostRead read, CancellationToken ct) => Task.FromResult<object?>(new IrqbalanceReading(read.Driver.ReadHostFile(Path)));

    public IEnumerable<Step> PlanHost(DesiredHost desired, IReadOnlyDictionary<string, AppliedServer> applied, ActualHost actual)
    {
        if (File(desired, actual, applied) is { } file && file.Content != actual.Get<IrqbalanceReading>().Content)
            yield return new Irqbalance(file.Path, file.Content);
    }

    public async Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct)
    {
        if (step is not Irqbalance b)
            throw HostFacets.NotMine(this, step);
        hands.Driver.WriteHostFile(b.Path, b.Content);
        await hands.Driver.RestartIrqbalanceAsync(ct);
    }
}
