using Isola.Rendering;
using Isola.Rendering.Boot;
using Isola.Scheduling;
using Isola.Server.Api;
using Isola.Server.Supervision;
using Isola.Server.Ports;
using Isola.Server.Services;
using Isola.Store.Lifecycle;
using Isola.Store.Listing;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Servers;

/// <summary>A NIC on a network, its port made by the server create (and deleted with the server).</summary>
public sealed record ServerNic(string? Network, string? VnicType = null, bool Ha = false, IReadOnlyList<FixedIpBody>? FixedIps = null);

/// <param name="Image">The image it boots from (id or name); none: a blank root disk.</param>
/// <param name="UserData">Base64, as in Nova; kept decoded (UTF-8 text) for the config drive, never shown back.</param>
/// <param name="SshKeys">OpenSSH public key lines for the guest's meta-data.</param>
public sealed record CreateServer(string? Name, string? Flavor, IReadOnlyList<string>? Ports, string? AvailabilityZone = null, string? Project = null, string? Group = null,
    IReadOnlyList<ServerNic>? Networks = null, string? Image = null, string? UserData = null, IReadOnlyList<string>? SshKeys = null);

/// <summary>/v1/servers: the HTTP side of <see cref="ServerService"/>.</summary>
internal static class ServerEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/servers", async (CreateServer body, HttpContext http, ServerService servers) =>
        {
            var created = await servers.CreateAsync(Caller.Of(http), body);
            return Results.Created($"/v1/servers/{created.Server.Id}", View(created.Server, created.Placement));
        });
        api.MapGet("/servers", async (HttpContext http, ResourceStore store, LifecycleStore lifecycle, TimeProvider time) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var (filter, page) = await ServerListQuery.ReadAsync(http, caller, store);
            var servers = await store.Servers.ListAsync(caller.ProjectScope, filter, page);
            var agents = await lifecycle.AgentsAsync();
            var now = time.GetUtcNow();
            return ListAnswer.Of(http, servers, servers.Items.Select(s => View(s, null, AgentLiveness.HostStatus(s.Host is null ? null : agents.GetValueOrDefault(s.Host), now))));
        });
        api.MapGet("/servers/{id}", async (string id, HttpContext http, ServerService servers, LifecycleStore lifecycle, TimeProvider time) =>
        {
            var server = await servers.FindAsync(Caller.Of(http), id);
            var agent = server.Host is null ? null : (await lifecycle.AgentsAsync(server.Host)).GetValueOrDefault(server.Host);
            return Results.Ok(View(server, null, AgentLiveness.HostStatus(agent, time.GetUtcNow())));
        });
        api.MapGet("/servers/{id}/plan", async (string id, HttpContext http, ServerService servers) => Results.Ok(await servers.PlanAsync(Caller.Of(http), id)));
        // Nova's server actions: one key, the action (os-stop, os-start, reboot, pause, unpause, rebuild, resize, migrate, confirmResize, revertResize); 202 once begun.
        api.MapPost("/servers/{id}/action", async (string id, System.Text.Json.JsonElement body, HttpContext http, ServerActionService actions) =>
        {
            var begun = await actions.RequestAsync(Caller.Of(http), id, RequestedAction.Read(body));
            return Results.Json(new { begun.Action.RequestId, action = begun.Action.Action, begun.Step.Status, begun.Step.TaskState }, statusCode: 202);
        });
        // Nova's os-instance-actions: every action on the server, oldest first (also of a deleted server, by id).
        api.MapGet("/servers/{id}/actions", async (string id, HttpContext http, ServerActionService actions) =>
        {
            var page = await actions.ListAsync(Caller.Of(http), id, ListQuery.Read(http).Page);
            return ListAnswer.Of(http, page, page.Items.Select(ActionView));
        });
        api.MapGet("/servers/{id}/actions/{requestId}", async (string id, string requestId, HttpContext http, ServerActionService actions) =>
            Results.Ok(ActionView((await actions.ListAsync(Caller.Of(http), id)).Items.FirstOrDefault(a => a.RequestId == requestId)
                ?? throw ApiException.NotFound("action", requestId))));
        // Its resizes and migrations, oldest first (Nova's os-migrations for one server: also the confirmed and reverted ones).
        api.MapGet("/servers/{id}/migrations", async (string id, HttpContext http, ServerService servers, ServerMoveStore moves) =>
        {
            var server = await servers.FindAsync(Caller.Of(http), id);
            return Results.Ok((await moves.ListAsync(server.Id)).Select(m => new
            {
                m.Id, server = m.ServerId, m.Kind, m.Status, m.SourceHost, m.DestHost, sourceStatus = m.SourceStatus, m.DiskSent, created = m.CreatedAt, updated = m.UpdatedAt,
            }));
        });
        // The guest's serial console, as its host's agent last sent it (Nova's os-getConsoleOutput; lines: the last N only).
        api.MapGet("/servers/{id}/console-log", async (string id, int? lines, HttpContext http, ServerService servers, ServerConsoleStore consoles) =>
        {
            if (lines is < 1)
                throw ApiException.Invalid("lines", "is 1 or more");
            var server = await servers.FindAsync(Caller.Of(http), id);
            var log = await consoles.GetAsync(server.Id);
            var text = log?.Text ?? "";
            if (lines is { } n)
            {
                var all = text.Split('\n');
                var keep = all.Length > 0 && all[^1].Length == 0 ? all[..^1] : all; // a final newline ends the last line
                text = string.Join('\n', keep.Skip(Math.Max(0, keep.Length - n))) + (keep.Length < all.Length ? "\n" : "");
            }
            return Results.Ok(new { output = text, updatedAt = log?.UpdatedAt });
        });
        api.MapDelete("/servers/{id}", async (string id, HttpContext http, ServerService servers) =>
        {
            await servers.DeleteAsync(Caller.Of(http), id);
            return Results.NoContent();
        });
    }

    private static object ActionView(ServerActionRecord a) => new
    {
        a.RequestId,
        a.Action,
        server = a.ServerId,
        project = a.ProjectId,
        // Isola's callers are tokens: the token that asked (null: the system, e.g. a guest's own poweroff found by its host's agent).
        user = a.TokenId,
        a.StartedAt,
        a.FinishedAt,
        a.Result,
        a.Message,
    };

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
        flavor = s.Spec?.Value.Flavor.Name,
        // As Nova shows it (id, and here its name); null for a blank disk. The user data is not shown back (nor is it in Nova's view).
        image = s.ImageId is null ? null : new { id = s.ImageId, name = s.ImageName },
        sshKeys = (s.Spec?.Value.Boot?.SshKeys ?? []).Select(k => SshPublicKey.Parse(k, out _) is { } key
            ? new { key.Type, key.Fingerprint, key.Comment } : null),
        ports = s.Spec is null ? [] : s.Spec.Value.Ports.Select(p => new { p.Name, p.PortId, p.VnicType, p.Mac }),
        placement = placed ?? s.Placement?.Value,
    };
}

