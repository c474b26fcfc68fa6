using Isola.Server.Api;
using Isola.Server.Services;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.SecurityGroups;

public sealed record CreateSecurityGroup(string? Name, string? Description = null, string? Project = null);

/// <summary>
/// /v1/security-groups and /v1/security-group-rules, as in Neutron: a project gets its 'default'
/// group on first use. They filter normal (virtio) ports only: an SR-IOV port bypasses the host's firewall.
/// </summary>
internal static class SecurityGroupEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/security-groups", async (CreateSecurityGroup body, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            if (body.Description is { Length: > ResourceNames.MaxDescription })
                errors.Add(new("description", $"at most {ResourceNames.MaxDescription} characters"));
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var project = await caller.ProjectForAsync(store, body.Project);
            await SecurityGroupService.DefaultGroupAsync(store, project);
            var group = new SecurityGroupRecord(ResourceStore.NewId(), project, body.Name!, body.Description ?? "");
            if (!await store.SecurityGroups.TryCreateAsync(group))
                throw ApiException.Conflict("name-taken", $"the project has a security group named {group.Name}", "name");
            return Results.Created($"/v1/security-groups/{group.Id}", View(group, []));
        });
        api.MapGet("/security-groups", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            if (caller.ProjectScope is { } project)
                await SecurityGroupService.DefaultGroupAsync(store, project);
            var query = ListQuery.Read(http, ListFilter.Text("name"));
            var groups = await store.SecurityGroups.ListAsync(caller.ProjectScope, query["name"], query.Page);
            var rules = (await store.SecurityGroups.RulesAsync(null, groups.Items.Select(g => g.Id).ToList())).ToLookup(r => r.GroupId);
            return ListAnswer.Of(http, groups, groups.Items.Select(g => View(g, rules[g.Id].ToList())));
        });
        api.MapGet("/security-groups/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var group = await Find(store, Caller.Of(http), id);
            return Results.Ok(View(group, await store.SecurityGroups.RulesAsync(null, [group.Id])));
        });
        api.MapDelete("/security-groups/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var group = await Find(store, Caller.Of(http), id);
            if (group.Name == SecurityGroupService.Default)
                throw ApiException.Conflict("default-group", "a project's default security group stays");
            return await store.SecurityGroups.DeleteAsync(group.Id) switch
            {
                Removal.InUse => throw ApiException.Conflict("in-use", $"ports use security group {group.Name}"),
                Removal.NotFound => throw ApiException.NotFound("security group", id),
                _ => Results.NoContent(),
            };
        });

        api.MapPost("/security-group-rules", async (CreateSecurityGroupRule body, HttpContext http, ResourceStore store, PeerRevisions peers) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            if (body.SecurityGroup is null)
                throw ApiException.Invalid("securityGroup", "a rule is in a security group");
            var group = await Find(store, caller, body.SecurityGroup);
            var errors = new List<FieldError>();
            string? remote = null;
            if (body.RemoteGroup is not null)
            {
                remote = (await store.SecurityGroups.FindAsync(group.ProjectId, body.RemoteGroup))?.Id;
                if (remote is null)
                    errors.Add(new("remoteGroup", $"the group's project has no security group '{body.RemoteGroup}'"));
            }
            var rule = SecurityGroupRules.Check(body, group.Id, remote, errors);
            if (rule is null || errors.Count > 0)
                throw ApiException.Invalid(errors);
            var created = await store.SecurityGroups.TryCreateRuleAsync(rule);
            if (created == RuleCreate.Created)
                await peers.TouchGroupAsync(group.Id);
            return created switch
            {
                RuleCreate.Created => Results.Created($"/v1/security-group-rules/{rule.Id}", SecurityGroupRules.View(rule)),
                RuleCreate.Duplicate => throw ApiException.Conflict("duplicate-rule", $"security group {group.Name} has this rule already"),
                _ => throw ApiException.NotFound("security group", body.SecurityGroup),
            };
        });
        api.MapGet("/security-group-rules", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var query = ListQuery.Read(http, ListFilter.Text("securityGroup"));
            var rules = await store.SecurityGroups.ListRulesAsync(caller.ProjectScope, query["securityGroup"], query.Page);
            return ListAnswer.Of(http, rules, rules.Items.Select(SecurityGroupRules.View));
        });
        api.MapGet("/security-group-rules/{id}", async (string id, HttpContext http, ResourceStore store) =>
            Results.Ok(SecurityGroupRules.View(await FindRule(store, Caller.Of(http), id))));
        api.MapDelete("/security-group-rules/{id}", async (string id, HttpContext http, ResourceStore store, PeerRevisions peers) =>
        {
            var rule = await FindRule(store, Caller.Of(http), id);
            if (!await store.SecurityGroups.DeleteRuleAsync(rule.Id))
                throw ApiException.NotFound("security group rule", id);
            await peers.TouchGroupAsync(rule.GroupId);
            return Results.NoContent();
        });
    }

    /// <summary>A group of the caller's project (any for admins), by id or name.</summary>
    public static async Task<SecurityGroupRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.SecurityGroups.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("security group", id);
    }

    private static async Task<SecurityGroupRuleRecord> FindRule(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return (await store.SecurityGroups.RulesAsync(caller.ProjectScope)).FirstOrDefault(r => r.Id == id) ?? throw ApiException.NotFound("security group rule", id);
    }

    public static object View(SecurityGroupRecord g, IReadOnlyList<SecurityGroupRuleRecord> rules) => new
    {
        g.Id,
        g.Name,
        project = g.ProjectId,
        g.Description,
        rules = rules.Select(SecurityGroupRules.View),
    };
}
