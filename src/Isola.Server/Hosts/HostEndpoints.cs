using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Server.Api;
using Isola.Server.Lifecycle;
using Isola.Server.Servers;
using Isola.Store;
using Isola.Store.Lifecycle;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Hosts;

/// <summary>What an operator may change of a host.</summary>
public sealed record SetHost(bool? Enabled, string? DisabledReason = null);

/// <summary>/v1/hosts: inventory in (agents and admins), utilisation out (admins).</summary>
internal static class HostEndpoints
{
    private static object View(StoredHost h, ILookup<(string Host, string Kind), (string Host, string Kind, string Item, string Server)> claims,
        IReadOnlyDictionary<string, AgentStatus> agents, DateTimeOffset now)
    {
        var sets = Isola.Scheduling.State.HostCpuSets.Of(h.Inventory);
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
            pinnedUsed = claims[(h.Name, "pcpu")].Count(),
            pinnedTotal = sets.Dedicated.Count,
            vfsUsed = claims[(h.Name, "vf")].Count(),
            vfsTotal = h.Inventory.Devices.Where(d => d.Physnet is not null && d.Allowed).Sum(d => d.AssignableVfs.Count()),
        };
    }

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPut("/hosts/{name}", async (string name, HttpRequest request, HttpContext http, PlacementStore store, PlacementService placement, HostSignals signals,
            PeerRevisions peers) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            InventoryDocument doc;
            try
            {
                doc = InventoryDocument.Parse(await new StreamReader(request.Body).ReadToEndAsync());
            }
            catch (JsonException e)
            {
                throw ApiException.Invalid("inventory", e.Message);
            }
            if (doc.Host.Hostname != name)
                throw ApiException.Invalid("host.hostname", $"the inventory is of {doc.Host.Hostname}, not {name}");
            var tunnelIp = request.Query["tunnelIp"].FirstOrDefault();
            if (tunnelIp is not null)
            {
                // Dotted quads only for IPv4 (IPAddress also takes "10.1"), kept in canonical form.
                if (!System.Net.IPAddress.TryParse(tunnelIp, out var parsed)
                    || parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && tunnelIp.Count(c => c == '.') != 3)
                    throw ApiException.Invalid("tunnelIp", $"'{tunnelIp}' is not an IP address (the host's VXLAN/GRE endpoint)");
                tunnelIp = parsed.ToString();
            }
            await store.UpsertHostAsync(doc.Host, request.Query["zone"].FirstOrDefault(), request.Query["aggregate"].Where(a => a is not null).Select(a => a!).ToList(),
                tunnelIp: tunnelIp);
            await placement.AddOrRefreshHostAsync(name);
            signals.Notify(name);
            await peers.TouchHostPeersAsync(name);
            return Results.NoContent();
        });
        api.MapGet("/hosts", async (HttpContext http, PlacementStore store, LifecycleStore lifecycle, TimeProvider time) =>
        {
            Caller.Of(http).RequireAdmin();
            // Utilisation from the store's claims: this process's in-memory view may lag other processes'.
            var claims = (await store.ClaimsAsync()).ToLookup(c => (c.Host, c.Kind));
            var agents = await lifecycle.AgentsAsync();
            return Results.Ok((await store.HostsAsync()).Select(h => View(h, claims, agents, time.GetUtcNow())));
        });
        api.MapGet("/hosts/{name}", async (string name, HttpContext http, PlacementStore store, LifecycleStore lifecycle, TimeProvider time) =>
        {
            Caller.Of(http).RequireAgentOf(name);
            var host = await store.HostAsync(name) ?? throw ApiException.NotFound("host", name);
            return Results.Ok(View(host, (await store.ClaimsAsync(name)).ToLookup(c => (c.Host, c.Kind)), await lifecycle.AgentsAsync(name), time.GetUtcNow()));
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
            var host = (await store.HostAsync(name))!;
            return Results.Ok(View(host, (await store.ClaimsAsync(name)).ToLookup(c => (c.Host, c.Kind)), await lifecycle.AgentsAsync(name), time.GetUtcNow()));
        });
    }
}
