using System.Text.Json;
using Isola.Domain.Topology;

namespace Isola.Domain.Serialization;

/// <summary>
/// The inventory file: what <c>isola host discover -f json</c> prints and what the scheduler reads
/// (<c>isola plan --inventory FILE</c>). The schema is in docs/formats.md.
/// </summary>
public sealed record InventoryDocument(int SchemaVersion, HostTopology Host)
{
    public const int CurrentSchemaVersion = 1;

    public static InventoryDocument Of(HostTopology host) => new(CurrentSchemaVersion, host);

    public string ToJson() => JsonSerializer.Serialize(this, IsolaJson.Options);

    public static InventoryDocument Parse(string json)
    {
        var doc = JsonSerializer.Deserialize<InventoryDocument>(json, IsolaJson.Options)
                  ?? throw new JsonException("the inventory document is null");
        if (doc.SchemaVersion != CurrentSchemaVersion)
            throw new JsonException($"schemaVersion {doc.SchemaVersion} is not supported (this isola reads {CurrentSchemaVersion})");
        return doc;
    }
}
