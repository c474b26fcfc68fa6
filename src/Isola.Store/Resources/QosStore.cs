using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

public sealed record QosPolicyRecord(string Id, string ProjectId, string Name, string Description, bool Shared);

/// <summary>A QoS rule; which of the numbers are set depends on <see cref="Type"/>.</summary>
public sealed record QosRuleRecord(string Id, string PolicyId, string Type, string Direction, long? MaxKbps, long? MaxBurstKbps, long? MinKbps, int? DscpMark);

/// <summary>QoS policies and their rules (bandwidth limits, minimum bandwidth, DSCP marking).</summary>
public sealed class QosStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string QosPolicyColumns = "id, project_id, name, description, shared";

    private static QosPolicyRecord QosPolicy(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.Bool(4));

    private static QosRuleRecord QosRule(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableLong(4), r.NullableLong(5), r.NullableLong(6), (int?)r.NullableLong(7));

    /// <summary>Inserts a policy with its first rules in one transaction; false when the project has a policy of that name.</summary>
    public async Task<bool> TryCreatePolicyAsync(QosPolicyRecord q, IReadOnlyList<QosRuleRecord> rules)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        try
        {
            await c.ExecuteAsync($"INSERT INTO qos_policies ({QosPolicyColumns}, created_at) VALUES (@Id, @ProjectId, @Name, @Description, @Shared, @now)",
                new { q.Id, q.ProjectId, q.Name, q.Description, q.Shared, now = Now }, tx);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return false;
        }
        foreach (var r in rules)
            await InsertQosRuleAsync(c, tx, r);
        await tx.CommitAsync();
        return true;
    }

    private Task InsertQosRuleAsync(DbConnection c, DbTransaction tx, QosRuleRecord r) => c.ExecuteAsync("""
        INSERT INTO qos_rules (id, policy_id, type, direction, max_kbps, max_burst_kbps, min_kbps, dscp_mark, created_at)
        VALUES (@Id, @PolicyId, @Type, @Direction, @MaxKbps, @MaxBurstKbps, @MinKbps, @DscpMark, @now)
        """, new { r.Id, r.PolicyId, r.Type, r.Direction, r.MaxKbps, r.MaxBurstKbps, r.MinKbps, r.DscpMark, now = Now }, tx);

    /// <summary>A page of the policies the project sees: its own and shared ones (all for null), oldest first; of that name, when given.</summary>
    public async Task<Page<QosPolicyRecord>> PoliciesAsync(string? projectId, string? name = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("QoS policy", "qos_policies", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId OR shared", ("projectId", projectId))
            .Filter("name = @name", "name", name)
            .PageAsync(c, QosPolicyColumns, page ?? PageRequest.All, QosPolicy, p => p.Id);
    }

    /// <summary>A policy the project sees (its own or shared; any for null), by id or name; its own first.</summary>
    public async Task<QosPolicyRecord?> PolicyAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"""
            SELECT {QosPolicyColumns} FROM qos_policies
            WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId OR shared)
            """, new { projectId, idOrName }, QosPolicy);
        return ByIdOrName.Pick(rows, idOrName, projectId, q => q.Id, q => q.ProjectId);
    }

    /// <summary>The rules of the given policies.</summary>
    public async Task<IReadOnlyList<QosRuleRecord>> RulesAsync(IReadOnlyCollection<string> policyIds)
    {
        await using var c = await factory.OpenAsync();
        var (ids, p) = InList.Of(policyIds);
        return await c.RowsAsync($"""
            SELECT id, policy_id, type, direction, max_kbps, max_burst_kbps, min_kbps, dscp_mark FROM qos_rules
            WHERE policy_id IN {ids} ORDER BY created_at, id
            """, p, QosRule);
    }

    /// <summary>
    /// Adds a rule to a policy no port uses (a port's VF rates were made from the rules when it was
    /// created). The policy's row is locked while this checks and inserts.
    /// </summary>
    public async Task<RuleCreate> TryCreateRuleAsync(QosRuleRecord r)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        if (await c.ExecuteAsync("UPDATE qos_policies SET name = name WHERE id = @PolicyId", new { r.PolicyId }, tx) == 0)
            return RuleCreate.ParentGone;
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM ports WHERE qos_policy_id = @PolicyId", new { r.PolicyId }, tx) > 0)
            return RuleCreate.InUse;
        try
        {
            await InsertQosRuleAsync(c, tx, r);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return RuleCreate.Duplicate;
        }
        await tx.CommitAsync();
        return RuleCreate.Created;
    }

    /// <summary>Deletes a rule of a policy no port uses.</summary>
    public async Task<Removal> DeleteRuleAsync(string policyId, string ruleId)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync("UPDATE qos_policies SET name = name WHERE id = @policyId", new { policyId }, tx);
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM qos_rules WHERE id = @ruleId AND policy_id = @policyId", new { policyId, ruleId }, tx) == 0)
            return Removal.NotFound;
        if (await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM ports WHERE qos_policy_id = @policyId", new { policyId }, tx) > 0)
            return Removal.InUse;
        await c.ExecuteAsync("DELETE FROM qos_rules WHERE id = @ruleId", new { ruleId }, tx);
        await tx.CommitAsync();
        return Removal.Deleted;
    }

    /// <summary>Deletes a policy no port uses (the foreign key backs the check against a racing port create).</summary>
    public async Task<Removal> DeletePolicyAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            if (await c.ExecuteAsync("DELETE FROM qos_policies WHERE id = @id AND NOT EXISTS (SELECT 1 FROM ports WHERE qos_policy_id = @id)", new { id }) > 0)
                return Removal.Deleted;
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return Removal.InUse;
        }
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM qos_policies WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
