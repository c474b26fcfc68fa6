using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.Projects;

/// <param name="Role">member (default), admin, or host.</param>
public sealed record CreateToken(string? Role, string? Project, string? Host);

/// <summary>
/// /v1/tokens. Admins make them; a token's secret is in the create answer once and stored only hashed.
/// Admins list and delete every token, members those of their own project; the last admin token stays.
/// </summary>
internal static class TokenEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/tokens", async (CreateToken body, HttpContext http, ResourceStore store) =>
        {
            Caller.Of(http).RequireAdmin();
            var role = body.Role ?? "member";
            string? project = null;
            switch (role)
            {
                case "member":
                    project = (await store.Projects.FindAsync(body.Project ?? throw ApiException.Invalid("project", "a member token belongs to a project"))
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
            var (token, secret) = await store.Tokens.CreateAsync(role, project, role == "host" ? body.Host : null);
            return Results.Created($"/v1/tokens/{token.Id}", new { token.Id, token.Role, project = token.ProjectId, token.Host, secret });
        });
        api.MapGet("/tokens", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var query = ListQuery.Read(http, ListFilter.OneOf("role", ["admin", "member", "host"]));
            var tokens = await store.Tokens.ListAsync(caller.ProjectScope, query["role"], query.Page);
            return ListAnswer.Of(http, tokens, tokens.Items.Select(View));
        });
        api.MapDelete("/tokens/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            // Another project's token is not there for a member: 404, as for every resource.
            if (await store.Tokens.FindAsync(id) is not { } token || (token.ProjectId is null ? !caller.IsAdmin : !caller.Sees(token.ProjectId)))
                throw ApiException.NotFound("token", id);
            return await store.Tokens.DeleteAsync(id) switch
            {
                TokenDeletion.Deleted => Results.NoContent(),
                TokenDeletion.LastAdmin => throw ApiException.Conflict("last-admin-token",
                    $"token {id} is the last admin token: make another first (a lost one is replaced with isola token reset-admin on the store)"),
                _ => throw ApiException.NotFound("token", id),
            };
        });
    }

    /// <summary>A token as listed: what it may do, never its secret.</summary>
    private static object View(TokenSummary t) => new { t.Id, t.Role, project = t.ProjectId, t.Host, created = t.CreatedAt };
}
