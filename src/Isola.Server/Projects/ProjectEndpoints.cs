using Isola.Server.Api;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Projects;

public sealed record CreateProject(string? Name);

/// <param name="Role">member (default), admin, or host.</param>
public sealed record CreateToken(string? Role, string? Project, string? Host);

/// <summary>/v1/projects and /v1/tokens: admin only. A token's secret is in the answer once and stored only hashed.</summary>
internal static class ProjectEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/projects", async (CreateProject body, HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            var errors = new List<FieldError>();
            Names.Check(body.Name, "name", errors);
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            if (await store.ProjectAsync(body.Name!) is not null)
                throw ApiException.Conflict("name-taken", $"a project named {body.Name} exists", "name");
            var project = await store.CreateProjectAsync(body.Name!);
            return Results.Created($"/v1/projects/{project.Id}", project);
        });
        api.MapGet("/projects", async (HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            return Results.Ok(await store.ProjectsAsync());
        });
        api.MapPost("/tokens", async (CreateToken body, HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            var role = body.Role ?? "member";
            string? project = null;
            switch (role)
            {
                case "member":
                    project = (await store.ProjectAsync(body.Project ?? throw ApiException.Invalid("project", "a member token belongs to a project"))
                        ?? throw ApiException.Invalid("project", $"no project '{body.Project}'")).Id;
                    break;
                case "host":
                    if (string.IsNullOrEmpty(body.Host))
                        throw ApiException.Invalid("host", "a host token names its host");
                    break;
                case "admin":
                    break;
                default:
                    throw ApiException.Invalid("role", "must be member, admin or host");
            }
            var (token, secret) = await store.CreateTokenAsync(role, project, role == "host" ? body.Host : null);
            return Results.Created($"/v1/tokens/{token.Id}", new { token.Id, token.Role, project = token.ProjectId, token.Host, secret });
        });
    }
}
