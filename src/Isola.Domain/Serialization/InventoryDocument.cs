using System.Text.Json;
using Isola.Domain.Topology;

namespace Isola.Domain.Serialization;

/// <summary>
/// The inventory file: what <c>isola host discover -f json</c> prints and what the scheduler reads
/// (<c>isola plan --inventory FILE</c>). The schema and its rules are in docs/formats.md.
/// </summary>
public sealed record InventoryDocument(int SchemaVersion, HostTopology Host)
{
    public const int CurrentSchemaVersion = 1;

    /// <summary>The largest document read: 8 MiB (a host with 2048 VFs writes about 1.5 MiB).</summary>
    public const int MaxBytes = 8 * 1024 * 1024;

    /// <summary>At most this many errors are reported of one document.</summary>
    public const int MaxErrors = 50;

    public static InventoryDocument Of(HostTopology host) => new(CurrentSchemaVersion, host);

    public string ToJson() => JsonSerializer.Serialize(this, IsolaJson.Options);

    /// <summary>Reads a document and checks it; throws a <see cref="JsonException"/> naming what is wrong.</summary>
    public static InventoryDocument Parse(string json) =>
        TryRead(json, out var errors) ?? throw new JsonException(string.Join("; ", errors));

    /// <summary>
    /// Reads a document in three steps, each only when the one before found nothing wrong: its JSON
    /// against the records' shape (<see cref="InventoryShape"/>), the values (cpulists, PCI addresses),
    /// then <see cref="InventoryRules"/>. Answers null and every error found (at most
    /// <see cref="MaxErrors"/>) when anything is wrong. A device's <c>numaNode</c> of -1 (sysfs's
    /// "unknown") is read as null.
    /// </summary>
    public static InventoryDocument? TryRead(string json, out IReadOnlyList<InventoryError> errors)
    {
        var found = new List<InventoryError>();
        errors = found;
        if (json.Length > MaxBytes)
        {
            found.Add(new("", $"the document is larger than {MaxBytes} bytes"));
            return null;
        }
        JsonDocument parsed;
        try
        {
            parsed = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            found.Add(new("", $"not a JSON document: {e.Message}"));
            return null;
        }
        InventoryDocument? document;
        using (parsed)
        {
            InventoryShape.Check(parsed.RootElement, found, MaxErrors);
            if (found.Count > 0)
                return null;
            try
            {
                document = parsed.RootElement.Deserialize<InventoryDocument>(IsolaJson.Options);
            }
            catch (JsonException e)
            {
                // The shape held, so this is a value a converter refused ("'x' is not a CPU id"), with its path.
                found.Add(new(e.Path is { Length: > 1 } p ? p.TrimStart('$', '.') : "", e.Message));
                return null;
            }
        }
        if (document is null)
        {
            found.Add(new("", "the document is null"));
            return null;
        }
        found.AddRange(InventoryRules.Check(document).Take(MaxErrors));
        if (found.Count > 0)
            return null;
        var host = document.Host;
        return host.Devices.Any(d => d.NumaNode == -1)
            ? document with { Host = host with { Devices = host.Devices.Select(d => d.NumaNode == -1 ? d with { NumaNode = null } : d).ToList() } }
            : document;
    }
}
