using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Scheduling;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>
/// A placement with what it needs to be rendered, as one JSON file (<c>render-input.json</c>, the
/// input of <c>isola render --placement</c>): the placement, the flavor, the ports and the host's inventory.
/// </summary>
public sealed record RenderBundle(Placement Placement, Flavor Flavor, IReadOnlyList<PortSpec> Ports, HostTopology Host)
{
    public RenderInput ToInput() => new(Placement, Flavor, Ports, Host);

    public string ToJson() => JsonSerializer.Serialize(this, IsolaJson.Options);

    public static RenderBundle Parse(string json) =>
        JsonSerializer.Deserialize<RenderBundle>(json, IsolaJson.Options) ?? throw new JsonException("the render input is null");
}
