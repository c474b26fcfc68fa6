using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Server.Api;
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
        api.MapPut("/hosts/{name}", async (string name, HttpRequest request, HttpContext http, PlacementStore store, PlacementService placement) =>
        {
            var caller = Caller.Of(http);
            if (!caller.IsAdmin && !(caller.IsHost && caller.Token.Host == name))
                throw caller.IsHost ? ApiException.Forbidden($"this host token is for {caller.Token.Host}") : ApiException.Forbidden("this needs an admin or the host's token");
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
            return Results.NoContent();
        });
        api.MapGet("/hosts", async (HttpContext http, PlacementStore store, PlacementService placement) =>
        {
            Caller.Of(http).RequireAdmin();
            var hosts = await store.HostsAsync();
            return Results.Ok(hosts.Select(h =>
            {
                var state = placement.Fleet.Host(h.Name);
                return new
                {
                    h.Name,
                    h.Zone,
                    h.Aggregates,
                    h.Generation,
                    h.Enabled,
                    pinnedUsed = state is null ? 0 : state.DedicatedCpus.Count - state.FreeDedicatedThreads,
                    pinnedTotal = state?.DedicatedCpus.Count ?? 0,
                    freeVfs = state?.Pools.Sum(p => p.Free) ?? 0,
                };
            }));
        });
    }
}
