using Isola.Domain.Topology;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.Services;

namespace Isola.Server.Servers;

/// <summary>A server's host plan made at create, on the host placement chose: what the host would refuse is refused before anything is committed.</summary>
internal static class PlanCheck
{
    public static HostPlan Render(string serverId, Placement placement, Flavor flavor, IReadOnlyList<PortSpec> ports, HostTopology host)
    {
        try
        {
            return HostPlanner.Render(new RenderInput(placement, flavor, ports, host, serverId, ServerSpec.DomainName(serverId)));
        }
        catch (RenderException e)
        {
            throw ApiException.Invalid(e.Errors.Select(x => new FieldError(x.Field, $"{x.Message} (host {placement.Host})")).ToList());
        }
    }
}
