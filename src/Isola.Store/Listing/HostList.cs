using System.Globalization;
using Isola.Store.Resources;

namespace Isola.Store.Listing;

/// <summary>
/// Which hosts a list shows (null: any): in <paramref name="Zone"/>, enabled or not, and whose agent is
/// <paramref name="Agent"/> (up, down or never-reported; down: it reported, then not since <paramref name="SilentSince"/>,
/// or a sweep marked it down).
/// </summary>
public sealed record HostFilter(string? Zone = null, bool? Enabled = null, string? Agent = null, DateTimeOffset SilentSince = default)
{
    /// <summary>The agent states a host list filters on.</summary>
    public static IReadOnlyList<string> AgentStates { get; } = ["up", "down", "never-reported"];
}

/// <summary>Host rows a page at a time, by name (the API's host list).</summary>
public static class HostList
{
    /// <summary>A page of the host rows that match the filter, by name (a marker is a host's name).</summary>
    public static async Task<(HostRows Rows, string? Next)> HostPageAsync(this PlacementStore store, HostFilter filter, PageRequest page, CancellationToken ct = default)
    {
        await using var c = await store.Factory.OpenAsync(ct);
        var agent = filter.Agent switch
        {
            null => null,
            "never-reported" => "h.heartbeat_at IS NULL",
            "down" => "h.heartbeat_at IS NOT NULL AND (h.agent_down_at IS NOT NULL OR h.heartbeat_at < @silentSince)",
            "up" => "h.heartbeat_at IS NOT NULL AND h.agent_down_at IS NULL AND h.heartbeat_at >= @silentSince",
            _ => throw new ArgumentException($"no agent state '{filter.Agent}'", nameof(filter)),
        };
        var found = await new ListSql("host", "hosts h LEFT JOIN host_inventories i ON i.host = h.name", "h.name", "h.name", "name")
            .Filter("h.zone = @zone", "zone", filter.Zone)
            .Filter("h.enabled = @enabled", "enabled", filter.Enabled)
            .Filter(agent ?? "", "silentSince", agent is null ? null : filter.SilentSince.ToString("O", CultureInfo.InvariantCulture))
            .PageAsync(c, "h.name, h.zone, h.aggregates, i.inventory, h.generation, h.enabled, h.disabled_reason, h.updated_at", page,
                r => new HostRows.Row(r.GetString(0), r.NullableString(1), r.NullableString(2), r.NullableString(3), r.Long(4), r.Bool(5), r.NullableString(6), r.GetString(7)),
                h => h.Name);
        return (HostRows.Of(found.Items), found.Next);
    }
}
