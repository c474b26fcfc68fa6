using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Isola.Server.QosPolicies;

public sealed record CreateQosPolicy(string? Name, bool Shared = false, string? Description = null, IReadOnlyList<CreateQosRule>? Rules = null, string? Project = null);

/// <summary>/v1/qos-policies and their rules: bandwidth-limit, minimum-bandwidth, dscp-marking (Neutron's meaning).</summary>
internal static class QosPolicyEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/qos-policies", async (CreateQosPolicy body, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            if (body.Description is { Length: > ResourceNames.MaxDescription })
                errors.Add(new("description", $"at most {ResourceNames.MaxDescription} characters"));
            if (body.Shared && !caller.IsAdmin)
                errors.Add(new("shared", "only an admin makes a QoS policy shared"));
            var id = ResourceStore.NewId();
            var rules = new List<QosRuleRecord>();
            for (var i = 0; i < (body.Rules?.Count ?? 0); i++)
            {
                if (QosRules.Check(body.Rules![i], id, $"rules[{i}].", errors) is not { } rule)
                    continue;
                if (rules.Any(r => (r.Type, r.Direction) == (rule.Type, rule.Direction)))
                    errors.Add(new($"rules[{i}]", $"a policy has one {rule.Type} rule per direction"));
                rules.Add(rule);
            }
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var policy = new QosPolicyRecord(id, await caller.ProjectForAsync(store, body.Project), body.Name!, body.Description ?? "", body.Shared);
            if (!await store.Qos.TryCreatePolicyAsync(policy, rules))
                throw ApiException.Conflict("name-taken", $"the project has a QoS policy named {policy.Name}", "name");
            return Results.Created($"/v1/qos-policies/{policy.Id}", View(policy, rules));
        });
        api.MapGet("/qos-policies", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var query = ListQuery.Read(http, ListFilter.Text("name"));
            var policies = await store.Qos.PoliciesAsync(caller.ProjectScope, query["name"], query.Page);
            var rules = (await store.Qos.RulesAsync(policies.Items.Select(p => p.Id).ToList())).ToLookup(r => r.PolicyId);
            return ListAnswer.Of(http, policies, policies.Items.Select(p => View(p, rules[p.Id].ToList())));
        });
        api.MapGet("/qos-policies/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var policy = await Find(store, Caller.Of(http), id);
            return Results.Ok(View(policy, await store.Qos.RulesAsync([policy.Id])));
        });
        api.MapDelete("/qos-policies/{id}", async (string id, HttpContext http, ResourceStore store) =>
        {
            var policy = await FindOwned(store, Caller.Of(http), id);
            return await store.Qos.DeletePolicyAsync(policy.Id) switch
            {
                Removal.InUse => throw ApiException.Conflict("in-use", $"ports use QoS policy {policy.Name}"),
                Removal.NotFound => throw ApiException.NotFound("QoS policy", id),
                _ => Results.NoContent(),
            };
        });
        api.MapPost("/qos-policies/{id}/rules", async (string id, CreateQosRule body, HttpContext http, ResourceStore store) =>
        {
            var policy = await FindOwned(store, Caller.Of(http), id);
            var errors = new List<FieldError>();
            var rule = QosRules.Check(body, policy.Id, "", errors);
            if (rule is null)
                throw ApiException.Invalid(errors);
            return await store.Qos.TryCreateRuleAsync(rule) switch
            {
                RuleCreate.Created => Results.Created($"/v1/qos-policies/{policy.Id}/rules/{rule.Id}", QosRules.View(rule)),
                RuleCreate.Duplicate => throw ApiException.Conflict("duplicate-rule", $"policy {policy.Name} has a {rule.Type} rule{(rule.Type == QosRules.DscpMarking ? "" : $" for {rule.Direction}")} already", "type"),
                RuleCreate.InUse => throw InUse(policy),
                _ => throw ApiException.NotFound("QoS policy", id),
            };
        });
        api.MapDelete("/qos-policies/{id}/rules/{ruleId}", async (string id, string ruleId, HttpContext http, ResourceStore store) =>
        {
            var policy = await FindOwned(store, Caller.Of(http), id);
            return await store.Qos.DeleteRuleAsync(policy.Id, ruleId) switch
            {
                Removal.InUse => throw InUse(policy),
                Removal.NotFound => throw ApiException.NotFound("QoS rule", ruleId),
                _ => Results.NoContent(),
            };
        });
    }

    /// <summary>
    /// A policy's rules change only while no port uses it: a port was checked against them when it was
    /// made (a rule its kind cannot have is refused then, never stored and ignored) and a VF's rates
    /// were set from them, so a rule added or deleted under a port could be one it cannot have.
    /// </summary>
    private static ApiException InUse(QosPolicyRecord policy) =>
        ApiException.Conflict("in-use", $"ports use QoS policy {policy.Name}: they were checked against its rules and their VF rates made from them; " +
            "change the rules of a policy no port uses");

    /// <summary>A policy the caller sees (its project's or shared), by id or name.</summary>
    public static async Task<QosPolicyRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Qos.PolicyAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("QoS policy", id);
    }

    private static async Task<QosPolicyRecord> FindOwned(ResourceStore store, Caller caller, string id)
    {
        var policy = await Find(store, caller, id);
        if (!caller.Sees(policy.ProjectId))
            throw ApiException.Forbidden("a shared QoS policy is changed by its owner");
        return policy;
    }

    public static object View(QosPolicyRecord p, IReadOnlyList<QosRuleRecord> rules) => new
    {
        p.Id,
        p.Name,
        project = p.ProjectId,
        p.Description,
        p.Shared,
        rules = rules.Select(QosRules.View),
    };
}
