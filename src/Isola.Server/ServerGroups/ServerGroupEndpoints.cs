using Isola.Coordination;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.ServerGroups;

public sealed record CreateServerGroup(string? Name, string? Policy, string? Project = null);

/// <summary>/v1/server-groups: Nova's server groups (affinity, anti-affinity and their soft forms) in a project.</summary>
internal static class ServerGroupEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/server-groups", async (CreateServerGroup body, HttpContext http, ResourceStore store, PlacementService placement) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            var policy = GroupPolicies.TryParse(body.Policy);
            if (policy is null)
                errors.Add(new("policy", $"must be {GroupPolicies.Names}"));
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var project = await caller.ProjectForAsync(store, body.Project);
            var group = new ServerGroupRecord(ResourceStore.NewId(), project, body.Name!, GroupPolicies.Name(policy!.Value));
            if (!await store.ServerGroups.TryCreateAsync(group))
                throw ApiException.Conflict("name-taken", $"the project has a server group named {body.Name}", "name");
            await placement.Placer.AddGroupAsync(group.Id, policy.Value);
            return Results.Created($"/v1/server-groups/{group.Id}", await View(store, group));
        });
        api.MapGet("/server-groups", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var query = ListQuery.Read(http, ListFilter.Text("name"));
            var groups = await store.ServerGroups.ListAsync(caller.ProjectScope, query["name"], query.Page);
            return ListAnswer.Of(http, groups, await Task.WhenAll(groups.Items.Select(g => View(store, g))));
        });
        api.MapGet("/server-groups/{id}", async (string id, HttpContext http, ResourceStore store) => Results.Ok(await View(store, await Find(store, Caller.Of(http), id))));
        api.MapDelete("/server-groups/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var group = await Find(store, Caller.Of(http), id);
            return await store.ServerGroups.DeleteAsync(group.Id) switch
            {
                Removal.InUse => throw ApiException.Conflict("in-use", $"server group {group.Name} has members; delete them first"),
                Removal.NotFound => throw ApiException.NotFound("server group", id),
                _ => Results.NoContent(),
            };
        });
    }

    public static async Task<ServerGroupRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.ServerGroups.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("server group", id);
    }

    private static async Task<object> View(ResourceStore store, ServerGroupRecord g) =>
        new { g.Id, g.Name, project = g.ProjectId, g.Policy, members = await store.ServerGroups.MembersAsync(g.Id) };
}
