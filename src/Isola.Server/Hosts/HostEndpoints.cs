using Isola.Coordination;
using Isola.Domain.Serialization;
using Isola.Domain.Topology;
using Isola.Scheduling.State;
using Isola.Server.Api;
using Isola.Server.Supervision;
using Isola.Server.Services;
using Isola.Store;
using Isola.Store.Lifecycle;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Hosts;

/// <summary>What an operator may change of a host.</summary>
public sealed record SetHost(bool? Enabled, string? DisabledReason = null);

/// <summary>/v1/hosts: inventory in (agents and admins), utilisation out (admins).</summary>
internal static class HostEndpoints
{
    // A host as listed: its inventory, or why its stored one cannot be used (then it has no totals), or why the scheduler
    // cannot use it though it reads (a placement stored on it does not fit it; this process's fleet says so, the others agree
    // at their next sync).
    private sealed record Listed(string Name, string? Zone, IReadOnlyList<string> Aggregates, long Generation, bool Enabled, string? DisabledReason,
        HostTopology? Inventory, string? Problem)
    {
        public static IEnumerable<Listed> Of(HostRows rows, IReadOnlyDictionary<string, string> unusable) =>
            rows.Hosts.Select(h => new Listed(h.Name, h.Zone, h.Aggregates, h.Generation, h.Enabled, h.DisabledReason, h.Inventory, unusable.GetValueOrDefault(h.Name)))
                .Concat(rows.Unreadable.Select(u => new Listed(u.Name, u.Zone, u.Aggregates, u.Generation, u.Enabled, u.DisabledReason, null, u.Problem)))
                .OrderBy(h => h.Name, StringComparer.Ordinal);
    }

    private static object View(Listed h, ILookup<(string Host, string Kind), (string Host, string Kind, string Item, string Server)> claims,
        IReadOnlyDictionary<string, AgentStatus> agents, DateTimeOffset now)
    {
        var sets = h.Inventory is null ? null : Isola.Scheduling.State.HostCpuSets.Of(h.Inventory);
        var agent = agents.GetValueOrDefault(h.Name);
        return new
        {
            agent = AgentLiveness.Agent(agent, now),
            heartbeatAt = agent?.Heartbeat,
            agentDownAt = agent?.DownAt,
            revision = agent?.Revision ?? 0,
            appliedRevision = agent?.Applied ?? 0,
            h.Name,
            h.Zone,
            h.Aggregates,
            h.Generation,
            h.Enabled,
            h.DisabledReason,
            inventoryStatus = h.Problem is null ? "valid" : "invalid",
            inventoryProblem = h.Problem,
            pinnedUsed = claims[(h.Name, "pcpu")].Count(),
            pinnedTotal = sets?.Dedicated.Count,
            vfsUsed = claims[(h.Name, "vf")].Count(),
            vfsTotal = h.Inventory?.Devices.Where(d => d.Physnet is not null && d.Allowed).Sum(d => d.AssignableVfs.Count()),
        };
    }

    private static IEnumerable<object> Views(HostRows rows, PlacementService placement,
        ILookup<(string Host, string Kind), (string Host, string Kind, string Item, string Server)> claims, IReadOnlyDictionary<string, AgentStatus> agents,
        DateTimeOffset now) =>
        Listed.Of(rows, placement.Placer.UnreadableHosts).Select(h => View(h, claims, agents, now));

    private static async Task<object> ViewOfAsync(string name, PlacementStore store, PlacementService placement, LifecycleStore lifecycle, DateTimeOffset now) =>
        Views(await store.HostRowsAsync(name), placement, (await store.ClaimsAsync(name)).ToLookup(c => (c.Host, c.Kind)), await lifecycle.AgentsAsync(name), now)
            .FirstOrDefault() ?? throw ApiException.NotFound("host", name);

    /// <summary>The servers on the host hold what a new inventory lacks (docs/api.md): it is not stored.</summary>
    private static ApiException InventoryConflict(string host, IReadOnlyList<HeldConflict> conflicts) =>
        new(409, "inventory-conflict",
            $"the new inventory of {host} lacks what its servers hold; nothing was stored: {string.Join("; ", conflicts.Select(c => c.Message))}",
            conflicts.Count == 1 ? conflicts[0].Field : null,
            conflicts.Select(c => new FieldError(c.Field, c.Message)).ToList(),
            new { held = conflicts.Select(c => new { servers = c.Servers, kind = c.Kind, item = c.Item }).ToList() });

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPut("/hosts/{name}", async (string name, HttpRequest request, HttpContext http, PlacementService placement, HostSignals signals,
            PeerRevisions peers) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            // Checked whole before anything is stored (docs/formats.md): a bad document changes nothing. The body is the one
            // the API's body rules read and checked (at most 8 MiB, as an inventory document).
            var doc = InventoryDocument.TryRead(RequestBody.Text(http), out var errors)
                      ?? throw ApiException.Invalid(errors.Select(e => new FieldError(e.Path.Length == 0 ? "body" : e.Path, e.Rule)).ToList());
            if (doc.Host.Hostname != name)
                throw ApiException.Invalid("host.hostname", $"the inventory is of {doc.Host.Hostname}, not {name}");
            var tunnelIp = request.Query["tunnelIp"].FirstOrDefault();
            if (tunnelIp is not null)
            {
                // Dotted quads only for IPv4 (IPAddress also takes "10.1"), kept in canonical form.
                if (!Isola.Domain.Net.IpAddressText.TryParse(tunnelIp, out var parsed))
                    throw ApiException.Invalid("tunnelIp", $"'{tunnelIp}' is not an IP address (the host's VXLAN/GRE endpoint)");
                tunnelIp = parsed.ToString();
            }
            // Checked against what the host's servers hold, in the transaction that stores it: a new inventory that lacks any of it is refused whole.
            var conflicts = await placement.Placer.RegisterHostAsync(doc.Host, request.Query["zone"].FirstOrDefault(),
                request.Query["aggregate"].Where(a => a is not null).Select(a => a!).ToList(), tunnelIp);
            if (conflicts.Count > 0)
                throw InventoryConflict(name, conflicts);
            signals.Notify(name);
            await peers.TouchHostPeersAsync(name);
            return Results.NoContent();
        });
        api.MapGet("/hosts", async (HttpContext http, PlacementStore store, PlacementService placement, LifecycleStore lifecycle, TimeProvider time) =>
        {
            Caller.Of(http).RequireAdmin();
            var query = ListQuery.Read(http, ListFilter.Text("zone"), ListFilter.Bool("enabled"), ListFilter.OneOf("agent", HostFilter.AgentStates));
            var now = time.GetUtcNow();
            var (rows, next) = await store.HostPageAsync(new HostFilter(query["zone"], query.Bool("enabled"), query["agent"], now - AgentLiveness.Silence), query.Page);
            // Utilisation from the store's claims: this process's in-memory view may lag other processes'.
            var claims = (await store.ClaimsAsync()).ToLookup(c => (c.Host, c.Kind));
            var agents = await lifecycle.AgentsAsync();
            return ListAnswer.Of(http, next, Views(rows, placement, claims, agents, now));
        });
        api.MapGet("/hosts/{name}", async (string name, HttpContext http, PlacementStore store, PlacementService placement, LifecycleStore lifecycle,
            TimeProvider time) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            return Results.Ok(await ViewOfAsync(name, store, placement, lifecycle, time.GetUtcNow()));
        });
        // Like `openstack compute service set --disable --disable-reason R`: no new servers there; what it holds stays.
        api.MapPatch("/hosts/{name}", async (string name, SetHost body, HttpContext http, PlacementStore store, PlacementService placement, LifecycleStore lifecycle,
            TimeProvider time) =>
        {
            Caller.Of(http).RequireAdmin();
            if (body.Enabled is null)
                throw ApiException.Invalid("enabled", "say whether the host takes new servers: true or false");
            if (body.DisabledReason is { Length: > 255 })
                throw ApiException.Invalid("disabledReason", "at most 255 characters");
            if (body.Enabled.Value && body.DisabledReason is not null)
                throw ApiException.Invalid("disabledReason", "only a disabled host has a reason");
            if (!await placement.Placer.SetEnabledAsync(name, body.Enabled.Value, body.DisabledReason))
                throw ApiException.NotFound("host", name);
            return Results.Ok(await ViewOfAsync(name, store, placement, lifecycle, time.GetUtcNow()));
        });
    }
}
