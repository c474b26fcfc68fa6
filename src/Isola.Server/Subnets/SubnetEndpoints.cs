using System.Text.Json.Serialization;
using Isola.Server.Api;
using Isola.Server.Networks;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Subnets;

public sealed record CreateSubnet(
    string? Name, string? Network, string? Cidr, IReadOnlyList<PoolBody>? AllocationPools = null, IReadOnlyList<string>? DnsNameservers = null,
    bool EnableDhcp = true, string? Project = null)
{
    private readonly string? _gatewayIp;

    /// <summary>Absent: the first host address; <c>null</c>: the subnet has no gateway.</summary>
    public string? GatewayIp
    {
        get => _gatewayIp;
        init
        {
            _gatewayIp = value;
            GatewayGiven = true;
        }
    }

    [JsonIgnore]
    public bool GatewayGiven { get; private init; }
}

/// <summary>/v1/subnets: IPv4 and IPv6 prefixes of a network, with a gateway and pools ports take addresses from.</summary>
internal static class SubnetEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/subnets", async (CreateSubnet body, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            NetworkRecord? network = null;
            if (body.Network is null)
                errors.Add(new("network", "a subnet is on a network"));
            else
                network = await NetworkService.Find(store, caller, body.Network);
            if (network is not null && !caller.Sees(network.ProjectId))
                throw ApiException.Forbidden($"subnets of shared network {network.Name} are made by its owner");
            if (network is not null && body.Project is not null && caller.IsAdmin && (await store.Projects.FindAsync(body.Project))?.Id != network.ProjectId)
                errors.Add(new("project", $"a subnet belongs to its network's project"));
            var addressing = SubnetRules.Check(body, errors);
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var (cidr, gateway, pools, dns) = addressing!.Value;
            var subnet = SubnetRules.Record(ResourceStore.NewId(), network!.ProjectId, network, body.Name!, cidr, gateway, pools, dns, body.EnableDhcp);
            var (outcome, clash) = await store.Subnets.TryCreateAsync(subnet, other => Cidr.Parse(other.Cidr).Overlaps(cidr));
            return outcome switch
            {
                SubnetCreate.Created => Results.Created($"/v1/subnets/{subnet.Id}", View(subnet)),
                SubnetCreate.NameTaken => throw ApiException.Conflict("name-taken", $"the project has a subnet named {subnet.Name}", "name"),
                SubnetCreate.Overlaps => throw ApiException.Conflict("cidr-overlap", $"{cidr} overlaps subnet {clash!.Name} ({clash.Cidr}) of network {network.Name}", "cidr"),
                _ => throw ApiException.NotFound("network", body.Network!),
            };
        });
        api.MapGet("/subnets", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            // network: an id or a name, like every other place a network is named.
            var query = ListQuery.Read(http, ListFilter.Text("name"), ListFilter.Text("network"));
            var subnets = await store.Subnets.ListAsync(caller.ProjectScope, query["name"], query["network"], query.Page);
            return ListAnswer.Of(http, subnets, subnets.Items.Select(View));
        });
        api.MapGet("/subnets/{id}", async (string id, HttpContext http, ResourceStore store) => Results.Ok(View(await Find(store, Caller.Of(http), id))));
        api.MapDelete("/subnets/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            var subnet = await Find(store, caller, id);
            if (!caller.Sees(subnet.ProjectId))
                throw ApiException.Forbidden("a shared network's subnet is deleted by its owner");
            return await store.Subnets.DeleteAsync(subnet.Id) switch
            {
                Removal.InUse => throw ApiException.Conflict("in-use", $"ports hold addresses in subnet {subnet.Name}; delete them first"),
                Removal.NotFound => throw ApiException.NotFound("subnet", id),
                _ => Results.NoContent(),
            };
        });
    }

    /// <summary>A subnet the caller sees (its project's, or of a shared network), by id or name.</summary>
    public static async Task<SubnetRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Subnets.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("subnet", id);
    }

    public static object View(SubnetRecord s) => new
    {
        s.Id,
        s.Name,
        project = s.ProjectId,
        network = s.NetworkId,
        s.IpVersion,
        s.Cidr,
        s.GatewayIp,
        s.AllocationPools,
        s.DnsNameservers,
        s.EnableDhcp,
    };
}
