using Isola.Domain.Topology;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Server.Api;

namespace Isola.Server.Servers;

/// <summary>A server's host plan made at create, on the host placement chose: what the host would refuse is refused before anything is committed.</summary>
internal static class PlanCheck
{
    public static HostPlan Render(string serverId, Placement placement, ServerSpec spec, HostTopology host)
    {
        try
        {
            // The same function the agent's plans are made by (PlanCache): what is checked here is what the host gets.
            return spec.Plan(serverId, placement, host);
        }
        catch (RenderException e)
        {
            throw ApiException.Invalid(e.Errors.Select(x => new FieldError(x.Field, $"{x.Message} (host {placement.Host})")).ToList());
        }
    }
}
