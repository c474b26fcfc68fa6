using Isola.Coordination;
using Isola.Rendering;
using Isola.Rendering.Boot;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.Flavors;
using Isola.Server.Ports;
using Isola.Server.Services;
using Isola.Store;
using Isola.Store.Documents;
using Isola.Store.Lifecycle;
using Isola.Store.Resources;

namespace Isola.Server.Servers;

/// <summary>A server as its create committed it, and the placement it got.</summary>
internal sealed record CreatedServer(ServerRecord Server, Placement Placement);

/// <summary>
/// The server use cases. Create = validate, make the ports it asks networks for, place, and commit the
/// placement, its claims and the port bindings in one transaction: a create that fails leaves no row,
/// no claim, no bound port, and no port it made (the compensation is here, in one place).
/// </summary>
internal sealed class ServerService(ResourceStore store, PlacementService placement, PlacementStore placements, HostNetworkStore networks, PortService portService,
    HostSignals signals, PeerRevisions peers, TimeProvider time, ServerMoveStore moves, Isola.Server.Images.IImageBlobs blobs)
{
    private string Now => time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture);

    private static string NewRequestId() => "req-" + Guid.NewGuid().ToString("D");

    public async Task<CreatedServer> CreateAsync(Caller caller, CreateServer body)
    {
        caller.RequireUser();
        var errors = new List<FieldError>();
        ResourceNames.Check(body.Name, "name", errors);
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
        var (userData, sshKeys) = ServerBoot.Read(body.UserData, body.SshKeys, errors);
        if (errors.Count > 0)
            throw ApiException.Invalid(errors);
        var project = await caller.ProjectForAsync(store, body.Project);
        var flavor = FlavorService.ToFlavor(await FlavorService.Find(store, caller, body.Flavor!));
        // The image is the server's project's or public (an admin's create too: the server is that project's).
        var (boot, image) = await ServerBoot.ResolveAsync(store, project, flavor, body.Image, userData, sshKeys);
        var bound = new List<PortRecord>();
        foreach (var name in names)
        {
            var port = await portService.Find(caller, name);
            if (port.ProjectId != project)
                throw ApiException.Invalid("ports", $"port {name} is in another project");
            if (port.ServerId is not null)
                throw ApiException.Conflict("port-in-use", $"port {port.Name} is bound to another server", "ports");
            bound.Add(port);
        }
        var id = ResourceStore.NewId();
        try
        {
            return await PlaceAsync(body, caller, id, project, flavor, boot, image, bound, nics);
        }
        catch (Exception) when (nics.Count > 0)
        {
            // A create that fails leaves no port it made.
            await store.Ports.DeleteCreatedForAsync(id);
            throw;
        }
    }

    /// <summary>Releases a server and its claims, unbinds its ports and deletes those it made; the hosts that depend on it are told.</summary>
    public async Task DeleteAsync(Caller caller, string id)
    {
        var server = await FindAsync(caller, id);
        var onNetworks = await networks.NetworksOfServerAsync(server.Id);
        var madeGroups = await peers.GroupsOfAsync(await networks.PortsCreatedForAsync(server.Id));
        // A resize or migration in progress goes with it: the placement it left, the host it left, the disk on its way.
        var moving = await moves.OpenAsync(server.Id);
        // Of two deletes of one server, one releases it; the other finds it gone.
        if (!await placement.Placer.ReleaseAsync(server.Id, server.Host, async (c, tx) =>
            {
                await PortStore.UnbindAsync(c, tx, server.Id);
                // An action in progress ends with it; the delete is recorded done (its host's agent takes the rest down).
                var now = Now;
                await ServerActionStore.FinishAsync(c, tx, server.Id, ServerActionStore.Error, "the server was deleted", now);
                await ServerActionStore.RecordAsync(c, tx, new ServerActionRecord(NewRequestId(), server.Id, server.ProjectId, ServerActions.Delete,
                    caller.Token.Id, now, now, ServerActionStore.Success, null));
            }))
            throw ApiException.NotFound("server", id);
        await peers.TouchAsync(onNetworks, server.Host);
        // The ports it made for itself (created from networks) go with it, as Nova's do; their groups lose members.
        await store.Ports.DeleteCreatedForAsync(server.Id);
        await peers.TouchGroupsAsync(madeGroups);
        if (server.Host is not null)
            signals.Notify(server.Host);
        if (moving is not null)
        {
            signals.Notify(moving.Record.SourceHost);
            await blobs.DeleteAsync(ServerMoveService.DiskBlob(moving.Record.Id), default);
        }
    }

    /// <summary>The host plan of a server that holds resources on a host.</summary>
    public async Task<HostPlan> PlanAsync(Caller caller, string id)
    {
        var server = await FindAsync(caller, id);
        if (server.Placement is null || server.Spec is null || server.Host is null || !ServerStatus.HoldsResources(server.Status))
            throw ApiException.Conflict("no-plan", $"server {server.Name} holds nothing on a host ({server.Status})");
        var host = await placements.HostAsync(server.Host) ?? throw ApiException.NotFound("host", server.Host);
        try
        {
            return server.Spec.Value.Plan(server.Id, server.Placement.Value, host.Inventory);
        }
        catch (RenderException e)
        {
            throw ApiException.Conflict("no-plan", $"server {server.Name} has no host plan: {e.Message}");
        }
    }

    private async Task<CreatedServer> PlaceAsync(CreateServer body, Caller caller, string id, string project, Flavor flavor, GuestBoot? boot, ImageRecord? image,
        List<PortRecord> ports, IReadOnlyList<ServerNic> nics)
    {
        for (var i = 0; i < nics.Count; i++)
        {
            var nic = nics[i];
            var name = $"{body.Name![..Math.Min(body.Name!.Length, 58)]}-nic{i}";
            try
            {
                ports.Add(await portService.MakeAsync(caller, new CreatePort(name, nic.Network, nic.VnicType, nic.Ha, FixedIps: nic.FixedIps,
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
            group = await store.ServerGroups.FindAsync(project, body.Group) ?? throw ApiException.Invalid("group", $"the project has no server group '{body.Group}'");
            await placement.Placer.AddGroupAsync(group.Id, GroupPolicies.Parse(group.Policy));
        }
        var specs = ports.Select(p => p.Spec.Value with { PortId = p.Id }).ToList();
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
        var spec = StoredDocument<ServerSpec>.Of(new ServerSpec(flavor, specs, boot));
        StoredPlacementResult result;
        try
        {
            result = await placement.Placer.PlaceAsync(id, project, request, (p, host) =>
            {
                // The host plan is made now, before anything is committed: a server whose plan its host would refuse is refused here, not on the host.
                PlanCheck.Render(id, p, spec.Value, host);
                var bindings = ports.Select(port => (port.Id, PortBinding.Of(p, port.Name))).ToList();
                return async (c, tx) =>
                {
                    await PortStore.BindAsync(c, tx, id, bindings);
                    // The create is an action like the others: done when the server is ACTIVE (or ERROR).
                    await ServerActionStore.RecordAsync(c, tx, new ServerActionRecord(NewRequestId(), id, project, ServerActions.Create, caller.Token.Id, Now,
                        null, null, null));
                    // The image it boots from, with its row: an image in use is not deleted (409), and one deleted meanwhile fails the create.
                    if (image is not null)
                        await ImageStore.ReferAsync(c, tx, id, image.Id);
                };
            }, spec: spec);
        }
        catch (ImageGoneException)
        {
            throw ApiException.Conflict("image-gone", $"image {image!.Name} was deleted while the server was being created", "image");
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
        var virtioNetworks = ports.Where(p => p.Spec.Value.Kind.OnOvs).Select(p => p.NetworkId).ToList();
        if (virtioNetworks.Count > 0)
            await peers.TouchAsync(virtioNetworks, result.Placement.Host);
        // Ports it made for itself joined their groups.
        if (nics.Count > 0)
            await peers.TouchGroupsAsync(await peers.GroupsOfAsync(ports.Select(p => p.Id)));
        // The row as the commit wrote it (no need to read it back).
        var created = new ServerRecord(id, project, body.Name!, ServerStatus.Build, result.Placement.Host, null, spec, TaskState.Scheduled, PowerState.Paused,
            GroupId: group?.Id, ImageId: image?.Id, ImageName: image?.Name);
        return new CreatedServer(created, result.Placement);
    }

    public async Task<ServerRecord> FindAsync(Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Servers.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("server", id);
    }
}
