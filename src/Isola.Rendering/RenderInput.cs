using Isola.Domain.Topology;
using Isola.Rendering.Boot;
using Isola.Scheduling;
using Isola.Scheduling.Requests;

namespace Isola.Rendering;

/// <summary>Everything a host plan is made from: the placement, what was asked, and the host it is on.</summary>
/// <param name="Uuid">The server's UUID; derived from its name when null.</param>
/// <param name="DomainName">The libvirt domain's name (and its instance directory); the server's name when null.</param>
/// <param name="Boot">The image, user-data and keys the server boots with; null: a blank disk, nothing else.</param>
public sealed record RenderInput(Placement Placement, Flavor Flavor, IReadOnlyList<PortSpec> Ports, HostTopology Host, string? Uuid = null, string? DomainName = null, GuestBoot? Boot = null)
{
    /// <summary>The name the domain has on the host.</summary>
    public string Domain => DomainName ?? Placement.Server;
}


/// <summary>A plan that cannot be made as asked: which field, which rule.</summary>
public sealed class RenderException(IReadOnlyList<RequestError> errors) : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<RequestError> Errors { get; } = errors;
}
