using Isola.Agent.Reconcile;

namespace Isola.Agent.Facets;

/// <summary>
/// The domain's run state (<c>virsh resume</c>): a paused domain (or one just started paused) whose
/// server's desired power state is <c>running</c> is resumed — after its VFs, IRQs and vhost workers,
/// so the guest runs only once its network is in place. Reads nothing of its own: the domain's state
/// is in every server's context.
/// </summary>
public sealed class PowerFacet : IHostFacet
{
    public sealed record Resume(string Id, string Domain) : Step(Id);

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        if (server.Server.PowerState == "running" && (server.State is "paused" || server.Starts))
            yield return new Resume(server.Id, server.Domain);
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct) => step switch
    {
        Resume r => hands.Driver.ResumeAsync(r.Domain, ct),
        _ => throw HostFacets.NotMine(this, step),
    };
}
