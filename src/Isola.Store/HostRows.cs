using Isola.Domain.Serialization;

namespace Isola.Store;

/// <summary>
/// A host row the scheduler cannot use: its stored inventory does not parse or breaks the inventory
/// rules (a row of an older version, or written by hand), or it has none. It is listed with the
/// problem and left out of scheduling until the host is registered again with a good inventory.
/// </summary>
public sealed record UnreadableHost(string Name, string? Zone, IReadOnlyList<string> Aggregates, long Generation, bool Enabled, string? DisabledReason,
    string Problem);

/// <summary>Host rows as read: the usable ones and the ones left out, each by name.</summary>
public sealed record HostRows(IReadOnlyList<StoredHost> Hosts, IReadOnlyList<UnreadableHost> Unreadable)
{
    /// <summary>The columns of a <c>hosts</c> row with its <c>host_inventories</c> row (null: none).</summary>
    internal sealed record Row(string Name, string? Zone, string? Aggregates, string? Inventory, long Generation, bool Enabled, string? Reason, string Stamp = "");

    /// <summary>Sorts rows into usable and unreadable; one row's problem never stops the others.</summary>
    internal static HostRows Of(IEnumerable<Row> rows)
    {
        var hosts = new List<StoredHost>();
        var unreadable = new List<UnreadableHost>();
        foreach (var r in rows)
        {
            var aggregates = Aggregates(r.Aggregates);
            var (document, problem) = Inventory(r);
            if (aggregates is null)
                problem ??= "aggregates: not a JSON array of strings";
            if (problem is null)
                hosts.Add(new StoredHost(r.Name, r.Zone, aggregates!, document!.Host, r.Generation, r.Enabled, r.Reason, r.Stamp));
            else
                unreadable.Add(new UnreadableHost(r.Name, r.Zone, aggregates ?? [], r.Generation, r.Enabled, r.Reason, problem));
        }
        return new HostRows(hosts, unreadable);
    }

    private static (InventoryDocument? Document, string? Problem) Inventory(Row r)
    {
        if (r.Inventory is null)
            return (null, "no inventory stored");
        // The first few say enough; the host's next registration gets the whole list in its 400.
        if (InventoryDocument.TryRead(r.Inventory, out var errors) is not { } document)
            return (null, string.Join("; ", errors.Take(3)) + (errors.Count > 3 ? $"; and {errors.Count - 3} more" : ""));
        return document.Host.Hostname == r.Name ? (document, null) : (null, $"host.hostname: the inventory is of {document.Host.Hostname}, not {r.Name}");
    }

    private static List<string>? Aggregates(string? json) =>
        Documents.StoredDocuments.TryRead<List<string>>(json, out var list, out _) && !list.Contains(null!) ? list : null;
}
