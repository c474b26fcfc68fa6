using System.Text.Json;
using Isola.Rendering;
using Isola.Server.Api;
using Isola.Server.Flavors;
using Isola.Server.Services;
using Isola.Server.Settings;
using Isola.Store.Documents;
using Isola.Store.Listing;
using Isola.Store.Lifecycle;
using Isola.Store.Resources;

namespace Isola.Server.Servers;

/// <summary>An action asked for in <c>POST /v1/servers/{id}/action</c>, read from Nova's body (one key: the action).</summary>
/// <param name="Image">A rebuild's image (id or name).</param>
/// <param name="UserData">A rebuild's new user data (base64); null: the server keeps its own.</param>
/// <param name="Flavor">A resize's new flavor (id or name: Nova's flavorRef).</param>
internal sealed record RequestedAction(string Action, bool Hard = false, string? Image = null, string? UserData = null, string? Flavor = null)
{
    /// <summary>The body's keys (Nova's) and the action each asks for.</summary>
    public static IReadOnlyDictionary<string, string> Keys { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["os-stop"] = ServerActions.Stop,
        ["os-start"] = ServerActions.Start,
        ["reboot"] = ServerActions.Reboot,
        ["pause"] = ServerActions.Pause,
        ["unpause"] = ServerActions.Unpause,
        ["rebuild"] = ServerActions.Rebuild,
        ["resize"] = ServerActions.Resize,
        ["migrate"] = ServerActions.Migrate,
        ["confirmResize"] = ServerActions.ConfirmResize,
        ["revertResize"] = ServerActions.RevertResize,
        ["evacuate"] = ServerActions.Evacuate,
    };

    /// <summary>
    /// Reads <c>{"os-stop": null}</c>, <c>{"reboot": {"type": "SOFT"|"HARD"}}</c>,
    /// <c>{"rebuild": {"image": "...", "userData": "..."}}</c> and the others; a bad body is a 400 naming the field.
    /// </summary>
    public static RequestedAction Read(JsonElement body)
    {
        var names = string.Join(", ", Keys.Keys);
        if (body.ValueKind != JsonValueKind.Object)
            throw ApiException.Invalid("action", $"the body is an object with one key, the action: {names}");
        var props = body.EnumerateObject().ToList();
        if (props.Count != 1)
            throw ApiException.Invalid("action", $"one action per request ({(props.Count == 0 ? "none" : string.Join(", ", props.Select(p => p.Name)))} given): {names}");
        var (key, value) = (props[0].Name, props[0].Value);
        if (!Keys.TryGetValue(key, out var action))
            throw ApiException.Invalid(key, $"is not a server action here: {names}");
        switch (action)
        {
            case ServerActions.Reboot:
                if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                    || type.GetString() is not ("SOFT" or "HARD"))
                    throw ApiException.Invalid("reboot.type", "is SOFT or HARD");
                Only(value, "reboot", "type");
                return new(action, Hard: type.GetString() == "HARD");
            case ServerActions.Rebuild:
                if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("image", out var image) || image.ValueKind != JsonValueKind.String
                    || image.GetString() is not { Length: > 0 } imageName)
                    throw ApiException.Invalid("rebuild.image", "a rebuild names the image (id or name) the new disk is made from");
                string? userData = null;
                if (value.TryGetProperty("userData", out var data))
                {
                    if (data.ValueKind != JsonValueKind.String)
                        throw ApiException.Invalid("rebuild.userData", "is base64 text");
                    userData = data.GetString();
                }
                Only(value, "rebuild", "image", "userData");
                return new(action, Image: imageName, UserData: userData);
            case ServerActions.Resize:
                if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("flavorRef", out var flavor) || flavor.ValueKind != JsonValueKind.String
                    || flavor.GetString() is not { Length: > 0 } flavorRef)
                    throw ApiException.Invalid("resize.flavorRef", "a resize names the new flavor (id or name)");
                Only(value, "resize", "flavorRef");
                return new(action, Flavor: flavorRef);
            default:
                if (value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Object) || (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Any()))
                    throw ApiException.Invalid(key, "takes nothing: null (or {})");
                return new(action);
        }
    }

    private static void Only(JsonElement value, string key, params string[] allowed)
    {
        foreach (var p in value.EnumerateObject())
        {
            if (!allowed.Contains(p.Name))
                throw ApiException.Invalid($"{key}.{p.Name}", $"is not a field of {key}: {string.Join(", ", allowed)}");
        }
    }
}

/// <summary>
/// Server actions after the create: checked against the server's status and task (409 naming them,
/// as Nova), begun in one transaction with the server's move and its host's revision
/// (<see cref="ServerActionStore"/>); the host's agent and its reports do the rest.
/// </summary>
internal sealed class ServerActionService(ResourceStore store, ServerActionStore actions, ServerService servers, ServerMoveService moves, HostSignals signals,
    ServerSettings settings)
{
    public async Task<ActionBegun> RequestAsync(Caller caller, string id, RequestedAction asked)
    {
        var server = await servers.FindAsync(caller, id);
        switch (asked.Action)
        {
            case ServerActions.Resize:
                return await moves.ResizeAsync(caller, server, store, asked.Flavor);
            case ServerActions.Migrate:
                return await moves.MigrateAsync(caller, server);
            case ServerActions.ConfirmResize:
                return await moves.ConfirmAsync(caller, server);
            case ServerActions.RevertResize:
                return await moves.RevertAsync(caller, server);
            case ServerActions.Evacuate:
                return await moves.EvacuateAsync(caller, server);
        }
        var change = asked.Action == ServerActions.Rebuild ? await RebuildAsync(server, asked) : null;
        var requestId = "req-" + Guid.NewGuid().ToString("D");
        (ActionBegun? begun, string? refusal) result;
        try
        {
            result = await actions.BeginAsync(server.Id, asked.Action, asked.Hard, requestId, caller.Token.Id,
                TimeSpan.FromSeconds(settings.ShutdownTimeoutSeconds), change);
        }
        catch (ImageGoneException)
        {
            throw ApiException.Conflict("image-gone", $"image {asked.Image} was deleted while the rebuild was being asked for", "rebuild.image");
        }
        if (result.begun is not { } begun)
            throw ApiException.Conflict("invalid-state", $"server {server.Name}: {result.refusal}");
        signals.Notify(begun.Host);
        return begun;
    }

    /// <summary>The actions of a server the caller sees, also once it is deleted (by its id then).</summary>
    public async Task<Page<ServerActionRecord>> ListAsync(Caller caller, string id, PageRequest? page = null)
    {
        caller.RequireUser();
        var server = await store.Servers.FindAsync(caller.ProjectScope, id);
        if (server is null)
        {
            var project = await actions.ProjectOfAsync(id);
            if (project is null || (caller.ProjectScope is { } scope && scope != project))
                throw ApiException.NotFound("server", id);
            return await actions.ListAsync(id, page);
        }
        return await actions.ListAsync(server.Id, page);
    }

    /// <summary>A rebuild's new spec: the image found as a create finds it (fitting the flavor's disk), the user data new or kept, the keys kept.</summary>
    private async Task<SpecChange> RebuildAsync(ServerRecord server, RequestedAction asked)
    {
        if (server.Spec is null)
            throw ApiException.Conflict("invalid-state", $"server {server.Name} has no spec to rebuild from");
        var spec = server.Spec.Value;
        var errors = new List<FieldError>();
        var (userData, _) = ServerBoot.Read(asked.UserData, null, errors);
        if (errors.Count > 0)
            throw ApiException.Invalid(errors.Select(e => e with { Field = "rebuild." + e.Field }).ToList());
        var old = spec.Boot ?? Isola.Rendering.Boot.GuestBoot.Blank;
        (Isola.Rendering.Boot.GuestBoot? Boot, ImageRecord? Image) found;
        try
        {
            found = await ServerBoot.ResolveAsync(store, server.ProjectId, spec.Flavor, asked.Image, asked.UserData is null ? old.UserData : userData, old.SshKeys);
        }
        catch (ApiException e)
        {
            throw e.Under("rebuild.");
        }
        var boot = found.Boot!;
        return new SpecChange(version => StoredDocument<ServerSpec>.Of(spec with { Boot = boot with { DiskVersion = version } }), found.Image!.Id);
    }
}
