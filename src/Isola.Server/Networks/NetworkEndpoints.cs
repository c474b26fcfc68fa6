using Isola.Server.Api;
using Isola.Server.Settings;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Networks;

public sealed record CreateNetwork(string? Name, string? Type, string? Physnet, long? Segment, int? Mtu, bool Shared = false, string? Project = null);

/// <summary>/v1/networks: flat, vlan (1-4094 on a physnet), vxlan (VNI 1-16777215), gre (key 1-4294967295).</summary>
internal static class NetworkEndpoints
{
    /// <summary>How often a create takes the next free segment after losing one to a parallel create.</summary>
    private const int MaxAllocationAttempts = 64;

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/networks", async (CreateNetwork body, HttpContext http, ResourceStore store, ServerSettings settings) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            var type = body.Type;
            switch (type)
            {
                case "flat":
                    if (string.IsNullOrEmpty(body.Physnet))
                        errors.Add(new("physnet", "a flat network needs the physnet it is on"));
                    if (body.Segment is not null)
                        errors.Add(new("segment", "a flat network has no segment"));
                    break;
                case "vlan":
                    if (string.IsNullOrEmpty(body.Physnet))
                        errors.Add(new("physnet", "a vlan network needs the physnet it is on"));
                    if (body.Segment is not null and (< 1 or > 4094))
                        errors.Add(new("segment", "a VLAN id is 1-4094"));
                    break;
                case "vxlan" or "gre":
                    if (body.Physnet is not null)
                        errors.Add(new("physnet", $"a {type} network is an overlay: it has no physnet"));
                    var max = type == "vxlan" ? 16777215L : 4294967295L;
                    if (body.Segment is not null && (body.Segment < 1 || body.Segment > max))
                        errors.Add(new("segment", type == "vxlan" ? "a VNI is 1-16777215" : "a GRE key is 1-4294967295"));
                    break;
                default:
                    errors.Add(new("type", "must be flat, vlan, vxlan or gre"));
                    break;
            }
            if (body.Physnet is not null && type is "flat" or "vlan")
                Physnets.Check(body.Physnet, caller.IsAdmin ? null : settings.ConfiguredPhysnets(), errors);
            var mtu = body.Mtu ?? type switch { "vxlan" => 1450, "gre" => 1458, _ => 1500 };
            if (mtu is < 68 or > 9216)
                errors.Add(new("mtu", "must be 68-9216"));
            if (body.Shared && !caller.IsAdmin)
                errors.Add(new("shared", "only an admin makes a network shared"));
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var project = await caller.ProjectForAsync(store, body.Project);
            // An allocated segment another create took meanwhile: take the next free one (a segment asked for stays asked for).
            for (var attempt = 0; ; attempt++)
            {
                var segment = body.Segment ?? await Allocate(store, settings, type!, body.Physnet);
                var network = new NetworkRecord(ResourceStore.NewId(), project, body.Name!, type!, body.Physnet, segment, mtu, body.Shared);
                if (await store.Networks.TryCreateAsync(network))
                    return Results.Created($"/v1/networks/{network.Id}", View(network));
                var taken = (await store.Networks.FindAsync(network.ProjectId, network.Name))?.ProjectId == network.ProjectId;
                if (taken)
                    throw ApiException.Conflict("name-taken", $"the project has a network named {network.Name}", "name");
                if (body.Segment is null && type != "flat" && attempt < MaxAllocationAttempts)
                    continue;
                throw ApiException.Conflict("segment-in-use", type == "flat" ? $"physnet {body.Physnet} has a flat network already"
                    : $"{type} segment {segment}{(body.Physnet is null ? "" : $" on {body.Physnet}")} is in use", "segment");
            }
        });
        api.MapGet("/networks", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var query = ListQuery.Read(http, ListFilter.Text("name"));
            var networks = await store.Networks.ListAsync(caller.ProjectScope, query["name"], query.Page);
            return ListAnswer.Of(http, networks, networks.Items.Select(View));
        });
        api.MapGet("/networks/{id}", async (string id, HttpContext http, ResourceStore store) => Results.Ok(View(await NetworkService.Find(store, Caller.Of(http), id))));
        api.MapDelete("/networks/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            var network = await NetworkService.Find(store, caller, id);
            if (!caller.Sees(network.ProjectId))
                throw ApiException.Forbidden("a shared network is deleted by its owner");
            return await store.Networks.DeleteAsync(network.Id) switch
            {
                Removal.InUse => throw ApiException.Conflict("in-use", $"network {network.Name} still has ports"),
                // Of two deletes of one network, the second finds it gone.
                Removal.NotFound => throw ApiException.NotFound("network", id),
                _ => Results.NoContent(),
            };
        });
    }

    /// <summary>The lowest free segment of the configured ranges for that type (and physnet).</summary>
    private static async Task<long?> Allocate(ResourceStore store, ServerSettings settings, string type, string? physnet)
    {
        if (type == "flat")
            return null;
        var ranges = type switch
        {
            "vlan" => settings.Vlans().Where(r => r.Physnet == physnet).Select(r => (r.First, r.Last)).ToList(),
            "vxlan" => ServerSettings.Ranges(settings.VniRanges).ToList(),
            _ => ServerSettings.Ranges(settings.GreRanges).ToList(),
        };
        var used = (await store.Networks.SegmentsInUseAsync(type, physnet)).ToHashSet();
        foreach (var (first, last) in ranges)
        {
            for (var s = first; s <= last; s++)
            {
                if (!used.Contains(s))
                    return s;
            }
        }
        throw ranges.Count == 0
            ? ApiException.Invalid("segment", $"give a segment: no {type} range is configured{(physnet is null ? "" : $" for {physnet}")}")
            : ApiException.Conflict("segments-exhausted", $"every {type} segment of the configured ranges{(physnet is null ? "" : $" on {physnet}")} is in use", "segment");
    }

    /// <summary>A network as the API shows it.</summary>
    public static object View(NetworkRecord n) => new { n.Id, n.Name, project = n.ProjectId, n.Type, n.Physnet, n.Segment, n.Mtu, n.Shared };
}
