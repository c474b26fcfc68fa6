using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Projects;

public sealed record CreateProject(string? Name);

/// <summary>/v1/projects: admin only.</summary>
internal static class ProjectEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/projects", async (CreateProject body, HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            if (await store.Projects.FindAsync(body.Name!) is not null)
                throw ApiException.Conflict("name-taken", $"a project named {body.Name} exists", "name");
            var project = await store.Projects.CreateAsync(body.Name!);
            return Results.Created($"/v1/projects/{project.Id}", project);
        });
        api.MapGet("/projects", async (HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            var query = ListQuery.Read(http, ListFilter.Text("name"));
            var projects = await store.Projects.ListAsync(query["name"], query.Page);
            return ListAnswer.Of(http, projects, projects.Items);
        });
    }
}
