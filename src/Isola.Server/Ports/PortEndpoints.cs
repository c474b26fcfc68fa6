using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Lifecycle;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Ports;

public sealed record CreatePort(
    string? Name, string? Network, string? VnicType, bool Ha = false, string? Mac = null, int VlanQos = 0, bool? SpoofCheck = null, bool Trust = false,
    int? MaxTxRateMbps = null, int? MinTxRateMbps = null, string? BondMode = null, IReadOnlyList<string>? Addresses = null, string? Gateway = null,
    IReadOnlyList<FixedIpBody>? FixedIps = null, string? QosPolicy = null, IReadOnlyList<string>? SecurityGroups = null, bool PortSecurityEnabled = true,
    string? Project = null, bool HaDistinctAdapters = false, IReadOnlyList<int>? IrqVcpus = null, int? Queues = null);

/// <summary>
/// /v1/ports. SR-IOV vnic types only on flat and vlan networks; HA only for direct ports; MACs
/// unique. A port, its addresses and its security groups are written in one transaction.
/// </summary>
internal static class PortEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/ports", async (CreatePort body, HttpContext http, ResourceStore store, PortService ports) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var port = await ports.CreateAsync(caller, body);
            return Results.Created($"/v1/ports/{port.Id}", await PortView.OneAsync(store, port));
        });
        api.MapGet("/ports", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            // Neutron's filters: network (id or name), device (the server bound to it, id or name), status; name exact.
            var query = ListQuery.Read(http, ListFilter.Text("name"), ListFilter.Text("network"), ListFilter.Text("device"), ListFilter.OneOf("status", PortStatus.All));
            var ports = await store.Ports.ListAsync(caller.ProjectScope, new PortFilter(query["name"], query["network"], query["device"], query["status"]), query.Page);
            return ListAnswer.Of(http, ports, await PortView.ManyAsync(store, ports.Items));
        });
        api.MapGet("/ports/{id}", async (string id, HttpContext http, ResourceStore store, PortService ports) =>
            Results.Ok(await PortView.OneAsync(store, await ports.Find(Caller.Of(http), id))));
        api.MapDelete("/ports/{id}", async (string id, HttpContext http, PortService ports) =>
        {
            await ports.DeleteAsync(Caller.Of(http), id);
            return Results.NoContent();
        });
    }
}
