using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Scheduling;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>What a server was asked for, as stored with it: the flavor and its ports as the host plan needs them.</summary>
public sealed record ServerSpec(Flavor Flavor, IReadOnlyList<PortSpec> Ports)
{
    public string ToJson() => JsonSerializer.Serialize(this, IsolaJson.Compact);

    public static ServerSpec Parse(string json) => JsonSerializer.Deserialize<ServerSpec>(json, IsolaJson.Options) ?? throw new JsonException("a stored server spec is null");

    /// <summary>The libvirt domain of a server on its host.</summary>
    public static string DomainName(string serverId) => "isola-" + serverId;

    /// <summary>The server's host plan: what its host must look like (the same rendering `isola render` does).</summary>
    public static HostPlan Plan(string serverId, string placementJson, string specJson, HostTopology host)
    {
        var placement = JsonSerializer.Deserialize<Placement>(placementJson, IsolaJson.Options)!;
        var spec = Parse(specJson);
        // The domain is named by the server's id: names are unique per project only, and a host holds many projects' servers.
        return HostPlanner.Render(new RenderInput(placement, spec.Flavor, spec.Ports, host, serverId, DomainName(serverId)));
    }
}
