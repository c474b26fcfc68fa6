using System.Text.Json;
using System.Text.Json.Serialization;
using Isola.Domain.Serialization;
using Isola.Rendering.Vf;

namespace Isola.Agent.Reconcile;

/// <summary>
/// What the agent has put on the host for a server, kept on disk before it acts: a restarted agent
/// knows what to take down even when the server left the desired state meanwhile. A facet that must
/// remember more (the IRQ facet the affinities it changed, the vhost facet the workers it pinned)
/// keeps it as a part under its own name, a field of the same JSON object:
/// <c>{"id", "domain", "vfs", "irqsBefore": {...}, "vhost": {...}}</c> — the file agents before the
/// facets wrote, read as it is.
/// </summary>
/// <param name="Domain">The libvirt domain's name.</param>
/// <param name="Vfs">The VFs the server's plan gave it: reset when it goes.</param>
public sealed record AppliedServer(string Id, string Domain, IReadOnlyList<VfSettings> Vfs)
{
    /// <summary>The facets' parts, by name, as JSON (a part written null by an older agent reads as absent).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Parts { get; init; }

    /// <summary>A facet's part; null when it has none.</summary>
    public T? Part<T>(string name) where T : class =>
        Parts?.GetValueOrDefault(name) is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } json ? json.Deserialize<T>(IsolaJson.Options) : null;

    /// <summary>This record with a facet's part set.</summary>
    public AppliedServer WithPart<T>(string name, T value) where T : class =>
        this with { Parts = new Dictionary<string, JsonElement>(Parts ?? [], StringComparer.Ordinal) { [name] = JsonSerializer.SerializeToElement(value, IsolaJson.Options) } };
}
