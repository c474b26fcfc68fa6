using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Server.Api;
using Isola.Server.Lifecycle;
using Isola.Server.Servers;
using Isola.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Hosts;

/// <summary>/v1/hosts: inventory in (agents and admins), utilisation out (admins).</summary>
internal static class HostEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPut("/hosts/{name}", async (string name, HttpRequest request, HttpContext http, PlacementStore store, PlacementService placement, HostSignals signals) =>
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
            await store.UpsertHostAsync(doc.Host, request.Query["zone"].FirstOrDefault(), request.Query["aggregate"].Where(a => a is not null).Select(a => a!).ToList());
            await placement.AddOrRefreshHostAsync(name);
            signals.Notify(name);
            return Results.NoContent();
        });
        api.MapGet("/hosts", async (HttpContext http, PlacementStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            // Utilisation from the store's claims: this process's in-memory view may lag other processes'.
            var hosts = await store.HostsAsync();
            var claims = (await store.ClaimsAsync()).ToLookup(c => (c.Host, c.Kind));
            return Results.Ok(hosts.Select(h =>
            {
                var sets = Isola.Scheduling.State.HostCpuSets.Of(h.Inventory);
                return new
                {
                    h.Name,
                    h.Zone,
                    h.Aggregates,
                    h.Generation,
                    h.Enabled,
                    pinnedUsed = claims[(h.Name, "pcpu")].Count(),
                    pinnedTotal = sets.Dedicated.Count,
                    vfsUsed = claims[(h.Name, "vf")].Count(),
                    vfsTotal = h.Inventory.Devices.Where(d => d.Physnet is not null && d.Allowed).Sum(d => d.AssignableVfs.Count()),
                };
            }));
        });
    }
}
