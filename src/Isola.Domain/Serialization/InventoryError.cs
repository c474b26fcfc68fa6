namespace Isola.Domain.Serialization;

/// <summary>One thing wrong with an inventory document: where, as a JSON path (<c>host.cells[1].cpus</c>; empty for the whole document), and the rule it breaks.</summary>
public sealed record InventoryError(string Path, string Rule)
{
    public override string ToString() => Path.Length == 0 ? Rule : $"{Path}: {Rule}";
}
