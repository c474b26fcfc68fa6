namespace Isola.Rendering.Flows.Tables;

/// <summary>The flows and meters of a host being rendered, as the tables add them.</summary>
internal sealed class FlowSet
{
    private readonly List<(int Table, int Priority, string Text)> _flows = [];
    private readonly List<Meter> _meters = [];

    /// <summary>A flow of the integration bridge, in ovs-ofctl's text form.</summary>
    public void Add(int table, int priority, string match, string actions) =>
        _flows.Add((table, priority, $"table={table},priority={priority}{(match.Length > 0 ? "," + match : "")} actions={actions}"));

    public void Add(Meter meter) => _meters.Add(meter);

    /// <summary>The integration bridge's table: each flow once, by table, then priority (highest first), then text.</summary>
    public List<string> Integration() =>
        _flows.Distinct().OrderBy(f => f.Table).ThenByDescending(f => f.Priority).ThenBy(f => f.Text, StringComparer.Ordinal).Select(f => f.Text).ToList();

    public List<Meter> Meters() => _meters.OrderBy(m => m.Id).ToList();
}
