using Isola.Domain.Topology;
using Isola.Rendering.Boot;
using Isola.Scheduling;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>What a server was asked for, as stored with it: the flavor and its ports as the host plan needs them.</summary>
public sealed record ServerSpec(Flavor Flavor, IReadOnlyList<PortSpec> Ports, GuestBoot? Boot = null)
{
    /// <summary>The libvirt domain of a server on its host.</summary>
    public static string DomainName(string serverId) => "isola-" + serverId;

    /// <summary>The server's host plan: what its host must look like (the same rendering `isola render` does).</summary>
    public HostPlan Plan(string serverId, Placement placement, HostTopology host) =>
        // The domain is named by the server's id: names are unique per project only, and a host holds many projects' servers.
        HostPlanner.Render(new RenderInput(placement, Flavor, Ports, host, serverId, DomainName(serverId), Boot));
}
