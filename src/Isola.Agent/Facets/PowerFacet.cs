using Isola.Agent.Reconcile;
using Isola.Contracts.Agent;

namespace Isola.Agent.Facets;

/// <summary>
/// The domain's run state as its server's desired power state says: a paused domain (or one just
/// started paused) whose server should run is resumed (<c>virsh resume</c>) — after its VFs, IRQs and
/// vhost workers, so the guest runs only once its network is in place; a running one that should be
/// paused (a pause; never while it builds, when it is paused anyway) is suspended (<c>virsh suspend</c>);
/// one that should be shut off is asked to shut down (<c>virsh shutdown</c>, again at each cycle, as
/// Nova retries) while its server's shutdown is clean, else — and always when paused, as a paused guest
/// cannot answer — powered off (<c>virsh destroy</c>). Reads nothing of its own: the domain's state is
/// in every server's context.
/// </summary>
public sealed class PowerFacet : IHostFacet
{
    public sealed record Resume(string Id, string Domain) : Step(Id);
    public sealed record Suspend(string Id, string Domain) : Step(Id);
    public sealed record Shutdown(string Id, string Domain) : Step(Id);
    public sealed record PowerOff(string Id, string Domain) : Step(Id);

    public IEnumerable<Step> PlanServer(ServerContext server, ActualHost actual)
    {
        var desired = server.Server;
        switch (desired.PowerState)
        {
            case "running" when server.State is "paused" || server.Starts:
                yield return new Resume(server.Id, server.Domain);
                break;
            case "paused" when server.State is "running" && desired.Status != "BUILD":
                yield return new Suspend(server.Id, server.Domain);
                break;
            case "shutoff" when server.State is "running" && desired.Shutdown == DesiredServer.CleanShutdown:
                yield return new Shutdown(server.Id, server.Domain);
                break;
            case "shutoff" when server.Started:
                yield return new PowerOff(server.Id, server.Domain);
                break;
        }
    }

    public Task ApplyAsync(Step step, AgentHands hands, CancellationToken ct) => step switch
    {
        Resume r => hands.Driver.ResumeAsync(r.Domain, ct),
        Suspend s => hands.Driver.SuspendAsync(s.Domain, ct),
        Shutdown s => hands.Driver.ShutdownAsync(s.Domain, ct),
        PowerOff p => hands.Driver.DestroyAsync(p.Domain, ct),
        _ => throw HostFacets.NotMine(this, step),
    };
}
