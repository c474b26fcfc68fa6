using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;

namespace Isola.Store.Resources;

/// <summary>Projects, tokens, networks, flavors, ports and servers as rows; rules about them live in the server.</summary>
public sealed partial class ResourceStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    public static string NewId() => Guid.NewGuid().ToString();

    // Projects (tokens: ResourceStore.Tokens.cs).

    public async Task<ProjectRecord> CreateProjectAsync(string name)
    {
        await using var c = await factory.OpenAsync();
        var project = new ProjectRecord(NewId(), name);
        await c.ExecuteAsync("INSERT INTO projects (id, name, created_at) VALUES (@Id, @Name, @now)", new { project.Id, project.Name, now = Now });
        return project;
    }

    public async Task<IReadOnlyList<ProjectRecord>> ProjectsAsync()
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync("SELECT id, name FROM projects ORDER BY name", null, r => new ProjectRecord(r.GetString(0), r.GetString(1)));
    }

    public async Task<ProjectRecord?> ProjectAsync(string idOrName)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT id, name FROM projects WHERE id = @idOrName OR name = @idOrName", new { idOrName },
            r => new ProjectRecord(r.GetString(0), r.GetString(1)))).FirstOrDefault();
    }

    // Networks.

    private const string NetworkColumns = "id, project_id, name, type, physnet, segment, mtu, shared";

    private static NetworkRecord Network(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.NullableLong(5), (int)r.Long(6), r.Bool(7));

    /// <summary>Inserts a network; false when its segment (or its name in the project) is taken.</summary>
    public async Task<bool> TryCreateNetworkAsync(NetworkRecord n)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            await c.ExecuteAsync($"""
                INSERT INTO networks ({NetworkColumns}, physnet_key, segment_key, created_at)
                VALUES (@Id, @ProjectId, @Name, @Type, @Physnet, @Segment, @Mtu, @Shared, @physnetKey, @segmentKey, @now)
                """, new { n.Id, n.ProjectId, n.Name, n.Type, n.Physnet, n.Segment, n.Mtu, n.Shared, physnetKey = n.Physnet ?? "", segmentKey = n.Segment ?? 0, now = Now });
            return true;
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return false;
        }
    }

    /// <summary>Networks the project sees: its own and shared ones (all for null).</summary>
    public async Task<IReadOnlyList<NetworkRecord>> NetworksAsync(string? projectId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync($"SELECT {NetworkColumns} FROM networks WHERE @projectId IS NULL OR project_id = @projectId OR shared ORDER BY name, id",
            new { projectId }, Network);
    }

    /// <summary>A network the project sees (its own or shared; any for null), by id or name; its own first.</summary>
    public async Task<NetworkRecord?> NetworkAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"""
            SELECT {NetworkColumns} FROM networks
            WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId OR shared)
            """, new { projectId, idOrName }, Network);
        return ByIdOrName.Pick(rows, idOrName, projectId, n => n.Id, n => n.ProjectId);
    }

    public async Task<IReadOnlyList<long>> SegmentsInUseAsync(string type, string? physnet)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<long>("SELECT segment_key FROM networks WHERE type = @type AND physnet_key = @key", new { type, key = physnet ?? "" })).ToList();
    }

    /// <summary>Deletes a network without ports (the foreign key backs the check against a racing port create); its subnets go with it.</summary>
    public async Task<Removal> DeleteNetworkAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            if (await c.ExecuteAsync("DELETE FROM networks WHERE id = @id AND NOT EXISTS (SELECT 1 FROM ports WHERE network_id = @id)", new { id }) > 0)
                return Removal.Deleted;
        }
        catch (Exception e) when (IsForeignKeyViolation(e))
        {
            return Removal.InUse;
        }
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM networks WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }

    // Flavors.

    public async Task<bool> TryCreateFlavorAsync(FlavorRecord f)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            await c.ExecuteAsync("INSERT INTO flavors (id, name, vcpus, ram_mib, disk_gib, extra_specs, created_at) VALUES (@Id, @Name, @Vcpus, @RamMiB, @DiskGiB, @specs, @now)",
                new { f.Id, f.Name, f.Vcpus, f.RamMiB, f.DiskGiB, specs = JsonSerializer.Serialize(f.ExtraSpecs), now = Now });
            return true;
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<FlavorRecord>> FlavorsAsync()
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync("SELECT id, name, vcpus, ram_mib, disk_gib, extra_specs FROM flavors ORDER BY name", null,
            r => new FlavorRecord(r.GetString(0), r.GetString(1), (int)r.Long(2), r.Long(3), (int)r.Long(4),
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(5)) ?? []));
    }

    public async Task<FlavorRecord?> FlavorAsync(string idOrName)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT id, name, vcpus, ram_mib, disk_gib, extra_specs FROM flavors WHERE id = @idOrName OR name = @idOrName", new { idOrName },
            r => new FlavorRecord(r.GetString(0), r.GetString(1), (int)r.Long(2), r.Long(3), (int)r.Long(4),
                JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(5)) ?? []))).FirstOrDefault();
    }

    public async Task<bool> DeleteFlavorAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM flavors WHERE id = @id", new { id }) > 0;
    }

    // Ports.

    private const string PortColumns = "id, project_id, network_id, name, mac, status, server_id, spec, binding";

    private static PortRecord Port(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.NullableString(6),
            r.Document<PortSpec>(7), r.NullableDocument<PortBinding>(8));

    public async Task<IReadOnlyList<PortRecord>> PortsAsync(string? projectId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync($"SELECT {PortColumns} FROM ports WHERE @projectId IS NULL OR project_id = @projectId ORDER BY name, id", new { projectId }, Port);
    }

    /// <summary>A port of the project (any for null) by id or name.</summary>
    public async Task<PortRecord?> PortAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"SELECT {PortColumns} FROM ports WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId)",
            new { projectId, idOrName }, Port);
        return ByIdOrName.Pick(rows, idOrName, projectId, p => p.Id, p => p.ProjectId);
    }

    public async Task<bool> DeletePortAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM ports WHERE id = @id AND server_id IS NULL", new { id }) > 0;
    }

    /// <summary>Deletes the unbound ports a server made for itself (when it goes, or when its create failed).</summary>
    public async Task<int> DeletePortsCreatedForAsync(string serverId)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM ports WHERE created_for = @serverId AND server_id IS NULL", new { serverId });
    }

    /// <summary>
    /// Deletes ports made for a server that never came to be (the process died between making them and
    /// committing the server), once older than <paramref name="before"/>.
    /// </summary>
    public async Task<int> DeleteOrphanedPortsAsync(DateTimeOffset before)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("""
            DELETE FROM ports WHERE created_for IS NOT NULL AND server_id IS NULL AND created_at < @before
                AND NOT EXISTS (SELECT 1 FROM servers s WHERE s.id = ports.created_for)
            """, new { before = before.ToString("O", CultureInfo.InvariantCulture) });
    }

    /// <summary>Binds ports to a server inside the server's commit, so a failed create binds nothing.</summary>
    public static async Task BindPortsAsync(DbConnection c, DbTransaction tx, string serverId, IEnumerable<(string PortId, PortBinding Binding)> bindings)
    {
        foreach (var (port, binding) in bindings)
        {
            var n = await c.ExecuteAsync("UPDATE ports SET server_id = @serverId, status = 'BOUND', binding = @binding WHERE id = @port AND server_id IS NULL",
                new { serverId, binding = StoredDocuments.Write(binding), port }, tx);
            if (n == 0)
            {
                // Lost a race: another create bound it first, or it was deleted meanwhile.
                var holder = await c.QuerySingleOrDefaultAsync<(string Id, string? ServerId)?>("SELECT id, server_id FROM ports WHERE id = @port", new { port }, tx);
                throw new PortBindingException(port, holder is null);
            }
        }
    }

    /// <summary>Frees a server's ports (inside its release).</summary>
    public static Task UnbindPortsAsync(DbConnection c, DbTransaction tx, string serverId) =>
        c.ExecuteAsync("UPDATE ports SET server_id = NULL, status = 'DOWN', binding = NULL WHERE server_id = @serverId", new { serverId }, tx);

    // Servers.

    /// <summary>A server of the project (any for null) by id or name.</summary>
    public async Task<ServerRecord?> ServerAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"SELECT {ServerColumns} FROM servers WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId)",
            new { projectId, idOrName }, Server);
        return ByIdOrName.Pick(rows, idOrName, projectId, s => s.Id, s => s.ProjectId);
    }

    public async Task<IReadOnlyList<ServerRecord>> ServersAsync(string? projectId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync($"SELECT {ServerColumns} FROM servers WHERE @projectId IS NULL OR project_id = @projectId ORDER BY name, id",
            new { projectId }, Server);
    }

    private const string ServerColumns = "id, project_id, name, status, host, placement, spec, task_state, power_state, vm_state, fault, group_id";

    private static ServerRecord Server(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4),
        r.NullableDocument<Placement>(5), r.NullableDocument<ServerSpec>(6), r.NullableString(7), r.GetString(8), r.NullableString(9), r.NullableString(10), r.NullableString(11));

    // Server groups.

    /// <summary>Inserts a server group; false when the project has one of that name.</summary>
    public async Task<bool> TryCreateServerGroupAsync(ServerGroupRecord g)
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

    public async Task<IReadOnlyList<ServerGroupRecord>> ServerGroupsAsync(string? projectId)
    {
        await using var c = await factory.OpenAsync();
        return await c.RowsAsync("SELECT id, project_id, name, policy FROM server_groups WHERE @projectId IS NULL OR project_id = @projectId ORDER BY name, id",
            new { projectId }, r => new ServerGroupRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3)));
    }

    public async Task<ServerGroupRecord?> ServerGroupAsync(string? projectId, string idOrName) =>
        ByIdOrName.Pick((await ServerGroupsAsync(projectId)).Where(g => g.Id == idOrName || g.Name == idOrName).ToList(), idOrName, projectId, g => g.Id, g => g.ProjectId);

    /// <summary>The ids of a group's members.</summary>
    public async Task<IReadOnlyList<string>> ServerGroupMembersAsync(string groupId)
    {
        await using var c = await factory.OpenAsync();
        return (await c.QueryAsync<string>("SELECT id FROM servers WHERE group_id = @groupId ORDER BY created_at, id", new { groupId })).ToList();
    }

    /// <summary>Deletes a group without members; not found when it is gone (another delete took it).</summary>
    public async Task<Removal> DeleteServerGroupAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        if (await c.ExecuteAsync("DELETE FROM server_groups WHERE id = @id AND NOT EXISTS (SELECT 1 FROM servers WHERE group_id = @id)", new { id }) > 0)
            return Removal.Deleted;
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM server_groups WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
