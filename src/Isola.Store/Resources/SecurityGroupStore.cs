using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

public sealed record SecurityGroupRecord(string Id, string ProjectId, string Name, string Description);

/// <summary>A security group rule, normalised (protocol a name or a number, null for any).</summary>
public sealed record SecurityGroupRuleRecord(
    string Id, string GroupId, string Direction, string Ethertype, string? Protocol, int? PortRangeMin, int? PortRangeMax, string? RemoteIpPrefix, string? RemoteGroupId)
{
    /// <summary>Everything but the id: two rules with the same key are the same rule.</summary>
    public string Key => string.Join('|', Direction, Ethertype, Protocol, PortRangeMin, PortRangeMax, RemoteIpPrefix, RemoteGroupId);
}

/// <summary>Security groups and their rules.</summary>
public sealed class SecurityGroupStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string SecurityGroupColumns = "id, project_id, name, description";

    private const string RuleColumns = "r.id, r.group_id, r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id";

    private static SecurityGroupRecord SecurityGroup(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));

    private static SecurityGroupRuleRecord SecurityGroupRule(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), (int?)r.NullableLong(5), (int?)r.NullableLong(6), r.NullableString(7), r.NullableString(8));

    /// <summary>Inserts a group; false when the project has one of that name.</summary>
    public async Task<bool> TryCreateAsync(SecurityGroupRecord g)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            await c.ExecuteAsync($"INSERT INTO security_groups ({SecurityGroupColumns}, created_at) VALUES (@Id, @ProjectId, @Name, @Description, @now)",
                new { g.Id, g.ProjectId, g.Name, g.Description, now = Now });
            return true;
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return false;
        }
    }

    /// <summary>
    /// The project's group named like <paramref name="candidate"/>, made with <paramref name="rules"/>
    /// when it has none. Two processes making it at once end with one group: the name is unique per project.
    /// </summary>
    public async Task<SecurityGroupRecord> EnsureAsync(SecurityGroupRecord candidate, IReadOnlyList<SecurityGroupRuleRecord> rules)
    {
        await using var c = await factory.OpenAsync();
        const string Find = $"SELECT {SecurityGroupColumns} FROM security_groups WHERE project_id = @ProjectId AND name = @Name";
        if ((await c.RowsAsync(Find, new { candidate.ProjectId, candidate.Name }, SecurityGroup)).FirstOrDefault() is { } found)
            return found;
        await using (var tx = await c.BeginTransactionAsync())
        {
            var made = await c.ExecuteAsync($"""
                INSERT INTO security_groups ({SecurityGroupColumns}, created_at) VALUES (@Id, @ProjectId, @Name, @Description, @now)
                ON CONFLICT (project_id, name) DO NOTHING
                """, new { candidate.Id, candidate.ProjectId, candidate.Name, candidate.Description, now = Now }, tx);
            if (made == 1)
            {
                foreach (var rule in rules)
                    await InsertRuleAsync(c, tx, rule);
            }
            await tx.CommitAsync();
        }
        return (await c.RowsAsync(Find, new { candidate.ProjectId, candidate.Name }, SecurityGroup)).First();
    }

    /// <summary>A page of the groups of the project (all for null), oldest first; of that name, when given.</summary>
    public async Task<Page<SecurityGroupRecord>> ListAsync(string? projectId, string? name = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("security group", "security_groups", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId", ("projectId", projectId))
            .Filter("name = @name", "name", name)
            .PageAsync(c, SecurityGroupColumns, page ?? PageRequest.All, SecurityGroup, g => g.Id);
    }

    /// <summary>A page of the rules of the project's groups (all for null), oldest first; of the group of that id or name, when given.</summary>
    public async Task<Page<SecurityGroupRuleRecord>> ListRulesAsync(string? projectId, string? group = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("security group rule", "security_group_rules r JOIN security_groups g ON g.id = r.group_id", "r.created_at", "r.id")
            .Scope("@projectId IS NULL OR g.project_id = @projectId", ("projectId", projectId))
            .Filter("r.group_id = @group OR g.name = @group", "group", group)
            .PageAsync(c, RuleColumns, page ?? PageRequest.All, SecurityGroupRule, r => r.Id);
    }

    /// <summary>A group of the project (any for null), by id or name.</summary>
    public async Task<SecurityGroupRecord?> FindAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"SELECT {SecurityGroupColumns} FROM security_groups WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId)",
            new { projectId, idOrName }, SecurityGroup);
        return ByIdOrName.Pick(rows, idOrName, projectId, g => g.Id, g => g.ProjectId);
    }

    /// <summary>The rules of the given groups, or of the project's groups (all for null) when none are given.</summary>
    public async Task<IReadOnlyList<SecurityGroupRuleRecord>> RulesAsync(string? projectId, IReadOnlyCollection<string>? groupIds = null)
    {
        await using var c = await factory.OpenAsync();
        var (ids, p) = InList.Of(groupIds ?? []);
        return groupIds is null
            ? await c.RowsAsync($"""
                SELECT {RuleColumns} FROM security_group_rules r JOIN security_groups g ON g.id = r.group_id
                WHERE @projectId IS NULL OR g.project_id = @projectId ORDER BY r.created_at, r.id
                """, new { projectId }, SecurityGroupRule)
            : await c.RowsAsync($"SELECT {RuleColumns} FROM security_group_rules r WHERE r.group_id IN {ids} ORDER BY r.created_at, r.id", p, SecurityGroupRule);
    }

    /// <summary>Adds a rule: Duplicate when the group has the same rule, ParentGone when its group (or remote group) is gone.</summary>
    public async Task<RuleCreate> TryCreateRuleAsync(SecurityGroupRuleRecord rule)
    {
        await using var c = await factory.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        try
        {
            await InsertRuleAsync(c, tx, rule);
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return RuleCreate.Duplicate;
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return RuleCreate.ParentGone;
        }
        await tx.CommitAsync();
        return RuleCreate.Created;
    }

    private Task InsertRuleAsync(DbConnection c, DbTransaction tx, SecurityGroupRuleRecord r) => c.ExecuteAsync("""
        INSERT INTO security_group_rules (id, group_id, direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix, remote_group_id, rule_key, created_at)
        VALUES (@Id, @GroupId, @Direction, @Ethertype, @Protocol, @PortRangeMin, @PortRangeMax, @RemoteIpPrefix, @RemoteGroupId, @Key, @now)
        """, new { r.Id, r.GroupId, r.Direction, r.Ethertype, r.Protocol, r.PortRangeMin, r.PortRangeMax, r.RemoteIpPrefix, r.RemoteGroupId, r.Key, now = Now }, tx);

    public async Task<bool> DeleteRuleAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM security_group_rules WHERE id = @id", new { id }) > 0;
    }

    /// <summary>Deletes a group no port uses (the foreign key backs the check against a racing port create); its rules go with it.</summary>
    public async Task<Removal> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            if (await c.ExecuteAsync("DELETE FROM security_groups WHERE id = @id AND NOT EXISTS (SELECT 1 FROM port_security_groups WHERE group_id = @id)", new { id }) > 0)
                return Removal.Deleted;
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return Removal.InUse;
        }
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM security_groups WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
