using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;

namespace Isola.Store.Resources;

public sealed record ProjectRecord(string Id, string Name);

/// <summary>A token's rights: admin (everything), member (one project), host (one host's agent).</summary>
public sealed record TokenRecord(string Id, string Role, string? ProjectId, string? Host);

/// <summary>A token as it is listed: never its secret (only its hash is stored).</summary>
public sealed record TokenSummary(string Id, string Role, string? ProjectId, string? Host, string CreatedAt);

public sealed record NetworkRecord(string Id, string ProjectId, string Name, string Type, string? Physnet, long? Segment, int Mtu, bool Shared);

public sealed record FlavorRecord(string Id, string Name, int Vcpus, long RamMiB, int DiskGiB, IReadOnlyDictionary<string, string> ExtraSpecs);

/// <summary>A port: what was asked of it (<see cref="Spec"/>) and, once its server is placed, the host and devices it got (<see cref="Binding"/>).</summary>
public sealed record PortRecord(string Id, string ProjectId, string NetworkId, string Name, string Mac, string Status, string? ServerId,
    StoredDocument<PortSpec> Spec, StoredDocument<PortBinding>? Binding);

/// <summary>A server: where it was placed (<see cref="Placement"/>) and what it asked for (<see cref="Spec"/>), both null before a placement.</summary>
public sealed record ServerRecord(string Id, string ProjectId, string Name, string Status, string? Host, StoredDocument<Placement>? Placement, StoredDocument<ServerSpec>? Spec,
    string? TaskState = null, string PowerState = "paused", string? VmState = null, string? Fault = null, string? GroupId = null);

public sealed record ServerGroupRecord(string Id, string ProjectId, string Name, string Policy);

/// <summary>A port could not be bound to a server being created: another server holds it, or it was deleted (<paramref name="Gone"/>) meanwhile.</summary>
public sealed class PortBindingException(string portId, bool gone)
    : Exception(gone ? $"port {portId} was deleted while the server was being created" : $"port {portId} was bound to another server meanwhile")
{
    public string PortId { get; } = portId;

    public bool Gone { get; } = gone;
}
