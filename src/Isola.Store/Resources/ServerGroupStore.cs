using System.Globalization;
using Dapper;

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

    public async Task<IReadOnlyList<ServerGroupRecord>> ListAsync(string? projectId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync("SELECT id, project_id, name, policy FROM server_groups WHERE @projectId IS NULL OR project_id = @projectId ORDER BY name, id",
            new { projectId }, r => new ServerGroupRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3)));
    }

    public async Task<ServerGroupRecord?> FindAsync(string? projectId, string idOrName) =>
        ByIdOrName.Pick((await ListAsync(projectId)).Where(g => g.Id == idOrName || g.Name == idOrName).ToList(), idOrName, projectId, g => g.Id, g => g.ProjectId);

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
