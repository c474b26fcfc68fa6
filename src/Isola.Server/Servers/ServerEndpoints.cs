using System.Text.Json;
using Isola.Domain.Serialization;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.Flavors;
using Isola.Server.Hosts;
using Isola.Server.Lifecycle;
using Isola.Server.Ports;
using Isola.Store;
using Isola.Store.Lifecycle;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Servers;

/// <summary>A NIC on a network, its port made by the server create (and deleted with the server).</summary>
public sealed record ServerNic(string? Network, string? VnicType = null, bool Ha = false, IReadOnlyList<FixedIpBody>? FixedIps = null);

public sealed record CreateServer(string? Name, string? Flavor, IReadOnlyList<string>? Ports, string? AvailabilityZone = null, string? Project = null, string? Group = null,
    IReadOnlyList<ServerNic>? Networks = null);

/// <summary>
/// /v1/servers. Create = validate, place, and commit the placement, its claims and the port bindings
/// in one transaction: a create that fails leaves no row, no claim, no bound port.
/// </summary>
internal static class ServerEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/servers", async (CreateServer body, HttpContext http, ResourceStore store, PlacementService placement, HostSignals signals, PeerRevisions peers) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            Names.Check(body.Name, "name", errors);
            if (body.Flavor is null)
                errors.Add(new("flavor", "a server has a flavor"));
            var names = body.Ports ?? [];
            if (names.Distinct().Count() != names.Count)
                errors.Add(new("ports", "a port is given twice"));
            var nics = body.Networks ?? [];
            for (var i = 0; i < nics.Count; i++)
            {
                if (nics[i]?.Network is null)
                    errors.Add(new($"networks[{i}].network", "a NIC names its network"));
            }
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var project = await caller.ProjectForAsync(store, body.Project);
            var flavor = FlavorEndpoints.ToFlavor(await FlavorEndpoints.Find(store, caller, body.Flavor!));
            var ports = new List<PortRecord>();
            foreach (var name in names)
            {
                var port = await PortEndpoints.Find(store, caller, name);
                if (port.ProjectId != project)
                    throw ApiException.Invalid("ports", $"port {name} is in another project");
                if (port.ServerId is not null)
                    throw ApiException.Conflict("port-in-use", $"port {port.Name} is bound to another server", "ports");
                ports.Add(port);
            }
            var id = ResourceStore.NewId();
            try
            {
                return await CreateAsync(body, caller, store, placement, signals, peers, id, project, flavor, ports, nics);
            }
            catch (Exception) when (nics.Count > 0)
            {
                // A create that fails leaves no port it made.
                await store.DeletePortsCreatedForAsync(id);
                throw;
            }
        });
        api.MapGet("/servers", async (HttpContext http, ResourceStore store, LifecycleStore lifecycle, TimeProvider time) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var servers = await store.ServersAsync(caller.ProjectScope);
            var agents = await lifecycle.AgentsAsync();
            var now = time.GetUtcNow();
            return Results.Ok(servers.Select(s => View(s, null, AgentLiveness.HostStatus(s.Host is null ? null : agents.GetValueOrDefault(s.Host), now))));
        });
        api.MapGet("/servers/{id}", async (string id, HttpContext http, ResourceStore store, LifecycleStore lifecycle, TimeProvider time) =>
        {
            var server = await Find(store, Caller.Of(http), id);
            var agent = server.Host is null ? null : (await lifecycle.AgentsAsync(server.Host)).GetValueOrDefault(server.Host);
            return Results.Ok(View(server, null, AgentLiveness.HostStatus(agent, time.GetUtcNow())));
        });
        api.MapGet("/servers/{id}/plan", async (string id, HttpContext http, ResourceStore store, PlacementStore placements) =>
        {
            var server = await Find(store, Caller.Of(http), id);
            if (server.Placement is null || server.Spec is null || server.Host is null || !ServerStatus.HoldsResources(server.Status))
                throw ApiException.Conflict("no-plan", $"server {server.Name} holds nothing on a host ({server.Status})");
            var host = await placements.HostAsync(server.Host) ?? throw ApiException.NotFound("host", server.Host);
            try
            {
                return Results.Ok(ServerSpec.Plan(server.Id, server.Placement, server.Spec, host.Inventory));
            }
            catch (RenderException e)
            {
                throw ApiException.Conflict("no-plan", $"server {server.Name} has no host plan: {e.Message}");
            }
        });
        api.MapDelete("/servers/{id}", async (string id, HttpContext http, ResourceStore store, PlacementService placement, HostSignals signals,
            HostNetworkStore networks, PeerRevisions peers) =>
        {
            var server = await Find(store, Caller.Of(http), id);
            var onNetworks = await networks.NetworksOfServerAsync(server.Id);
            var madeGroups = await peers.GroupsOfAsync(await networks.PortsCreatedForAsync(server.Id));
            // Of two deletes of one server, one releases it; the other finds it gone.
            if (!await placement.Placer.ReleaseAsync(server.Id, server.Host, (c, tx) => ResourceStore.UnbindPortsAsync(c, tx, server.Id)))
                throw ApiException.NotFound("server", id);
            await peers.TouchAsync(onNetworks, server.Host);
            // The ports it made for itself (created from networks) go with it, as Nova's do; their groups lose members.
            await store.DeletePortsCreatedForAsync(server.Id);
            await peers.TouchGroupsAsync(madeGroups);
            if (server.Host is not null)
                signals.Notify(server.Host);
            return Results.NoContent();
        });
    }

    private static async Task<IResult> CreateAsync(CreateServer body, Caller caller, ResourceStore store, PlacementService placement, HostSignals signals, PeerRevisions peers,
        string id, string project, Flavor flavor, List<PortRecord> ports, IReadOnlyList<ServerNic> nics)
    {
        for (var i = 0; i < nics.Count; i++)
        {
            var nic = nics[i];
            var name = $"{body.Name![..Math.Min(body.Name!.Length, 58)]}-nic{i}";
            try
            {
                ports.Add(await PortEndpoints.CreateAsync(store, caller, new CreatePort(name, nic.Network, nic.VnicType, nic.Ha, FixedIps: nic.FixedIps,
                    Project: body.Project), createdFor: id));
            }
            catch (ApiException e)
            {
                throw e.Under($"networks[{i}].");
            }
        }
        ServerGroupRecord? group = null;
        if (body.Group is not null)
        {
            group = await store.ServerGroupAsync(project, body.Group) ?? throw ApiException.Invalid("group", $"the project has no server group '{body.Group}'");
            await placement.Placer.AddGroupAsync(group.Id, GroupPolicies.Parse(group.Policy));
        }
        var specs = ports.Select(p => PortEndpoints.Spec(p) with { PortId = p.Id }).ToList();
        PlacementRequest request;
        try
        {
            request = PlacementRequest.Create(body.Name!, flavor, specs.Select(s => s.ToRequest()).ToList(),
                group: group?.Id, availabilityZone: body.AvailabilityZone);
        }
        catch (RequestValidationException e)
        {
            throw ApiException.Invalid(e.Errors.Select(x => new FieldError(x.Field, x.Message)).ToList());
        }
        var spec = new ServerSpec(flavor, specs).ToJson();
        StoredPlacementResult result;
        try
        {
            result = await placement.Placer.PlaceAsync(id, project, request, (p, host) =>
            {
                // The host plan is made now, before anything is committed: a server whose plan its host would refuse is refused here, not on the host.
                PlanCheck.Render(id, p, flavor, specs, host);
                var bindings = ports.Select(port => (port.Id, Binding(p, port.Name))).ToList();
                return (c, tx) => ResourceStore.BindPortsAsync(c, tx, id, bindings);
            }, spec: spec);
        }
        catch (PortBindingException e)
        {
            var name = ports.FirstOrDefault(p => p.Id == e.PortId)?.Name ?? e.PortId;
            throw e.Gone ? ApiException.Conflict("port-gone", $"port {name} was deleted while the server was being created", "ports")
                : ApiException.Conflict("port-in-use", $"port {name} is bound to another server", "ports");
        }
        if (result.Placement is null)
        {
            throw result.LastOutcome switch
            {
                CommitOutcome.NameTaken => ApiException.Conflict("name-taken", $"the project has a server named {body.Name}", "name"),
                // Other processes kept winning the host: nothing is wrong with the request; try again.
                CommitOutcome.StaleHost or CommitOutcome.ResourceTaken when result.Decision.Placement is not null =>
                    new ApiException(503, "busy", result.Explain()),
                _ => ApiException.Conflict("no-valid-host", result.Explain(), extra: new { reasons = result.Decision.Rejections }),
            };
        }
        signals.Notify(result.Placement.Host);
        var virtioNetworks = ports.Where(p => PortEndpoints.Spec(p).Kind.OnOvs).Select(p => p.NetworkId).ToList();
        if (virtioNetworks.Count > 0)
            await peers.TouchAsync(virtioNetworks, result.Placement.Host);
        // Ports it made for itself joined their groups.
        if (nics.Count > 0)
            await peers.TouchGroupsAsync(await peers.GroupsOfAsync(ports.Select(p => p.Id)));
        // The row as the commit wrote it (no need to read it back).
        var created = new ServerRecord(id, project, body.Name!, ServerStatus.Build, result.Placement.Host, null, spec, TaskState.Scheduled, PowerState.Paused,
            GroupId: group?.Id);
        return Results.Created($"/v1/servers/{id}", View(created, result.Placement));
    }

    private static async Task<ServerRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.ServerAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("server", id);
    }

    /// <summary>A port's binding: the host and the devices it got; for an HA port, whether its legs are on distinct adapters.</summary>
    private static string Binding(Placement p, string port) => JsonSerializer.Serialize(new
    {
        host = p.Host,
        vfs = p.Vfs.Where(v => v.Port == port).Select(v => new { pf = v.Pf.ToString(), pfNetDev = v.PfNetDev, vf = v.Vf.ToString(), v.VfIndex }),
        pf = p.Pfs.FirstOrDefault(x => x.Port == port)?.Pf.ToString(),
        haLegs = p.HaLegsOf(port),
    }, IsolaJson.Compact);

    /// <param name="hostStatus">Its host as Nova's host_status says it (UP, DOWN, UNKNOWN, MAINTENANCE); not given on create.</param>
    private static object View(ServerRecord s, Placement? placed, string? hostStatus = null) => new
    {
        s.Id,
        s.Name,
        project = s.ProjectId,
        s.Status,
        s.TaskState,
        s.PowerState,
        s.VmState,
        s.Fault,
        group = s.GroupId,
        s.Host,
        hostStatus,
        flavor = s.Spec is null ? null : ServerSpec.Parse(s.Spec).Flavor.Name,
        ports = s.Spec is null ? [] : ServerSpec.Parse(s.Spec).Ports.Select(p => new { p.Name, p.PortId, p.VnicType, p.Mac }),
        placement = placed ?? (s.Placement is null ? null : JsonSerializer.Deserialize<Placement>(s.Placement, IsolaJson.Options)),
    };
}

