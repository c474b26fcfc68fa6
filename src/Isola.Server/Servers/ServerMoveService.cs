using Isola.Coordination;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Server.Flavors;
using Isola.Server.Images;
using Isola.Server.Services;
using Isola.Server.Settings;
using Isola.Store;
using Isola.Store.Documents;
using Isola.Store.Lifecycle;
using Isola.Store.Resources;

namespace Isola.Server.Servers;

/// <summary>
/// Resize, cold migration, and their confirm and revert (Nova's resize, migrate, confirmResize, revertResize). A move is
/// placed through the scheduler as a create is, with the same guarantees, beside what the server holds: its new claims
/// commit with the server's move to them, before anything of the old goes (<see cref="StorePlacer.PlaceMoveAsync"/>).
/// Confirm releases the old placement; revert releases the new one and gives the old back exactly (its claims were kept).
/// </summary>
internal sealed class ServerMoveService(ServerMoveStore moves, PlacementService placement, HostNetworkStore networks, PeerRevisions peers, HostSignals signals,
    ServerSettings settings, IImageBlobs blobs, LifecycleStore lifecycle)
{
    /// <summary>The blob a migration's disk is kept in on its way between hosts.</summary>
    public static string DiskBlob(string migrationId) => migrationId;

    public async Task<ActionBegun> ResizeAsync(Caller caller, ServerRecord server, ResourceStore store, string? flavorRef)
    {
        var spec = SpecOf(server);
        var flavor = FlavorService.ToFlavor(await FindFlavorAsync(store, caller, flavorRef!));
        var old = spec.Flavor;
        if (flavor.Name == old.Name && flavor.Vcpus == old.Vcpus && flavor.RamMiB == old.RamMiB && flavor.DiskGiB == old.DiskGiB
            && flavor.ExtraSpecs.Count == old.ExtraSpecs.Count && !flavor.ExtraSpecs.Except(old.ExtraSpecs).Any())
            throw ApiException.Invalid("resize.flavorRef", $"a resize changes the flavor; the server has {old.Name} already (a move to another host is a migrate)");
        if (flavor.DiskGiB < old.DiskGiB)
            throw ApiException.Invalid("resize.flavorRef", $"a resize never shrinks the root disk: {old.Name} has {old.DiskGiB} GiB, {flavor.Name} {flavor.DiskGiB} GiB");
        // A server with VFs or a whole PF resizes onto another host: within one the new VFs and the old would both be its own
        // until the confirm, with one MAC (as Nova, which resizes to the same host only when told to).
        var devices = server.Placement?.Value is { } held && (held.Vfs.Count > 0 || held.Pfs.Count > 0);
        return await MoveAsync(caller, server, ServerMoveStore.Resize, spec with { Flavor = flavor }, excluded: devices ? server.Host : null);
    }

    public Task<ActionBegun> MigrateAsync(Caller caller, ServerRecord server)
    {
        caller.RequireAdmin();
        return MoveAsync(caller, server, ServerMoveStore.Migration, SpecOf(server), excluded: server.Host);
    }

    public async Task<ActionBegun> ConfirmAsync(Caller caller, ServerRecord server)
    {
        var open = await OpenAsync(server, ServerActions.ConfirmResize);
        var requestId = NewRequestId();
        try
        {
            await placement.Placer.ReleasePlacementAsync(server.Id, open.SourcePlacement.Value, moves.ConfirmWrites(open, requestId, caller.Token.Id));
        }
        catch (MoveRefusedException e)
        {
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: {e.Message}");
        }
        await blobs.DeleteAsync(DiskBlob(open.Record.Id), default);
        signals.Notify(open.Record.SourceHost);
        signals.Notify(open.Record.DestHost);
        var status = server.PowerState == PowerState.Shutoff ? ServerStatus.Shutoff : ServerStatus.Active;
        return new ActionBegun(new ServerActionRecord(requestId, server.Id, server.ProjectId, ServerActions.ConfirmResize, caller.Token.Id, "", null,
            ServerActionStore.Success, null), open.Record.SourceHost, new LifecycleStep(status, null, server.PowerState, false));
    }

    public async Task<ActionBegun> RevertAsync(Caller caller, ServerRecord server)
    {
        var open = await OpenAsync(server, ServerActions.RevertResize);
        var requestId = NewRequestId();
        (ServerActionRecord Action, LifecycleStep Step)? begun = null;
        try
        {
            // Between hosts the new placement stays held until the destination's agent took the server down (ClearAsync).
            if (open.Record.SourceHost != open.Record.DestHost)
                begun = await moves.RevertBetweenHostsAsync(open, requestId, caller.Token.Id);
            else
                await placement.Placer.ReleasePlacementAsync(server.Id, server.Placement!.Value,
                    moves.RevertWrites(open, requestId, caller.Token.Id, (a, s) => begun = (a, s)));
        }
        catch (MoveRefusedException e)
        {
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: {e.Message}");
        }
        await blobs.DeleteAsync(DiskBlob(open.Record.Id), default);
        await TouchNetworksAsync(server.Id, open.Record);
        return new ActionBegun(begun!.Value.Action, open.Record.SourceHost, begun.Value.Step);
    }

    /// <summary>
    /// Nova's evacuate: a server of a host whose agent is down is rebuilt on another host from its image (its disk there cannot be
    /// had), running again unless it was SHUTOFF. The claims it left stay until that host's agent, back, reports it taken down.
    /// </summary>
    public async Task<ActionBegun> EvacuateAsync(Caller caller, ServerRecord server)
    {
        caller.RequireAdmin();
        if (!ServerMoveStore.MayEvacuate(server.Status))
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: cannot evacuate the server while it is {server.Status}");
        var agent = server.Host is null ? null : (await lifecycle.AgentsAsync(server.Host)).GetValueOrDefault(server.Host);
        if (agent is not { DownAt: not null })
            throw ApiException.Conflict("host-up", $"server {server.Name}: the agent of its host {server.Host} is not down; evacuate moves the servers of a host whose agent stopped reporting (stop or migrate this one)");
        var spec = SpecOf(server);
        return await MoveAsync(caller, server, ServerMoveStore.Evacuation, spec, excluded: server.Host,
            version => StoredDocument<ServerSpec>.Of(spec with { Boot = (spec.Boot ?? Isola.Rendering.Boot.GuestBoot.Blank) with { DiskVersion = version } }));
    }

    /// <summary>
    /// A host reports a server gone that it is still charged with: evacuated off it (the placement it left there is given back), or
    /// taken back off it by a revert (the placement it had there is given back, and the revert goes on on the source).
    /// </summary>
    public async Task ClearAsync(string serverId, string host)
    {
        if (await moves.OpenAsync(serverId) is not { } open)
            return;
        var record = open.Record;
        try
        {
            if (record.Status == ServerMoveStore.Evacuating && record.SourceHost == host)
            {
                await placement.Placer.ReleasePlacementAsync(serverId, open.SourcePlacement.Value, moves.ClearEvacuationWrites(record.Id));
            }
            else if (record.Status == ServerMoveStore.Reverting && record.DestHost == host && open.DestPlacement is { } moved)
            {
                await placement.Placer.ReleasePlacementAsync(serverId, moved.Value, moves.FinishRevertWrites(open));
                signals.Notify(record.SourceHost);
            }
        }
        catch (MoveRefusedException)
        {
            // Another report (or server process) cleared it first.
        }
    }

    private async Task<ActionBegun> MoveAsync(Caller caller, ServerRecord server, string kind, ServerSpec newSpec, string? excluded,
        Func<int, StoredDocument<ServerSpec>>? evacuated = null)
    {
        var action = kind == ServerMoveStore.Resize ? ServerActions.Resize : ServerActions.Migrate;
        if (evacuated is null && !ServerActions.MayMove(action, server.Status, server.TaskState, out var refusal))
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: {refusal}");
        PlacementRequest request;
        try
        {
            request = PlacementRequest.Create(server.Name, newSpec.Flavor, newSpec.Ports.Select(p => p.ToRequest()).ToList(), group: server.GroupId)
                with { ExcludedHosts = excluded is null ? null : [excluded] };
        }
        catch (RequestValidationException e)
        {
            throw ApiException.Invalid(e.Errors.Select(x => new FieldError(kind == ServerMoveStore.Resize ? "resize.flavorRef" : x.Field, x.Message)).ToList());
        }
        var stored = StoredDocument<ServerSpec>.Of(newSpec);
        var beginning = new MoveBeginning(server.Id, kind, server.Status, NewRequestId(), caller.Token.Id, stored, TimeSpan.FromSeconds(settings.ShutdownTimeoutSeconds));
        StoredPlacementResult result;
        try
        {
            result = await placement.Placer.PlaceMoveAsync(server.Id, server.ProjectId, request, (p, host) =>
            {
                // The new host plan is made before anything is committed, as at a create.
                PlanCheck.Render(server.Id, p, newSpec, host);
                return evacuated is null ? moves.BeginWrites(beginning, p) : moves.EvacuateWrites(beginning, p, evacuated);
            });
        }
        catch (MoveRefusedException e)
        {
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: {e.Message}");
        }
        if (result.Placement is null)
        {
            throw result.LastOutcome is CommitOutcome.StaleHost or CommitOutcome.ResourceTaken && result.Decision.Placement is not null
                ? new ApiException(503, "busy", result.Explain())
                : ApiException.Conflict("no-valid-host", $"no host can take server {server.Name} {(kind == ServerMoveStore.Resize ? $"as {newSpec.Flavor.Name}" : "elsewhere")}: {result.Explain()}",
                    extra: new { reasons = result.Decision.Rejections });
        }
        await TouchNetworksAsync(server.Id, beginning.Migration!);
        return new ActionBegun(beginning.Action!, result.Placement.Host, beginning.Step!);
    }

    /// <summary>Both hosts have something new to do, and so do the hosts that share a virtio network with the server (its tunnels moved).</summary>
    private async Task TouchNetworksAsync(string serverId, MigrationRecord m)
    {
        signals.Notify(m.SourceHost);
        signals.Notify(m.DestHost);
        if (m.SourceHost != m.DestHost)
            await peers.TouchAsync(await networks.NetworksOfServerAsync(serverId), null);
    }

    private async Task<OpenMigration> OpenAsync(ServerRecord server, string action)
    {
        if (!ServerActions.MayMove(action, server.Status, server.TaskState, out var refusal))
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: {refusal}");
        return await moves.OpenAsync(server.Id) ?? throw ApiException.Conflict("invalid-state", $"server {server.Name} has no resize or migration to {(action == ServerActions.ConfirmResize ? "confirm" : "revert")}");
    }

    private static async Task<FlavorRecord> FindFlavorAsync(ResourceStore store, Caller caller, string flavorRef)
    {
        try
        {
            return await FlavorService.Find(store, caller, flavorRef);
        }
        catch (ApiException e) when (e.Status == 404)
        {
            throw ApiException.Invalid("resize.flavorRef", $"no flavor '{flavorRef}'");
        }
    }

    private static ServerSpec SpecOf(ServerRecord server) =>
        server.Spec?.Value ?? throw ApiException.Conflict("invalid-state", $"server {server.Name} has no spec to move");

    private static string NewRequestId() => "req-" + Guid.NewGuid().ToString("D");
}
