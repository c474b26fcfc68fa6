using System.Globalization;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

public sealed record ServerGroupRecord(string Id, string ProjectId, string Name, string Policy);

/// <summary>Server groups (affinity policies) and their members.</summary>
public sealed class ServerGroupStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    /// <summary>Inserts a server group; false when the project has one of that name.</summary>
    public async Task<bool> TryCreateAsync(ServerGroupRecord g)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            await c.ExecuteAsync("INSERT INTO server_groups (id, project_id, name, policy, created_at) VALUES (@Id, @ProjectId, @Name, @Policy, @now)",
                new { g.Id, g.ProjectId, g.Name, g.Policy, now = Now });
            return true;
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return false;
        }
    }

    private static ServerGroupRecord Group(System.Data.Common.DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3));

    /// <summary>A page of the groups of the project (all for null), oldest first; of that name, when given.</summary>
    public async Task<Page<ServerGroupRecord>> ListAsync(string? projectId, string? name = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("server group", "server_groups", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId", ("projectId", projectId))
            .Filter("name = @name", "name", name)
            .PageAsync(c, "id, project_id, name, policy", page ?? PageRequest.All, Group, g => g.Id);
    }

    public async Task<ServerGroupRecord?> FindAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync("SELECT id, project_id, name, policy FROM server_groups WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId)",
            new { projectId, idOrName }, Group);
        return ByIdOrName.Pick(rows, idOrName, projectId, g => g.Id, g => g.ProjectId);
    }

    /// <summary>The ids of a group's members.</summary>
    public async Task<IReadOnlyList<string>> MembersAsync(string groupId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>("SELECT id FROM servers WHERE group_id = @groupId ORDER BY created_at, id", new { groupId })).ToList();
    }

    /// <summary>Deletes a group without members; not found when it is gone (another delete took it).</summary>
    public async Task<Removal> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        if (await c.ExecuteAsync("DELETE FROM server_groups WHERE id = @id AND NOT EXISTS (SELECT 1 FROM servers WHERE group_id = @id)", new { id }) > 0)
            return Removal.Deleted;
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM server_groups WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
