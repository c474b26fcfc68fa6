using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

public sealed record NetworkRecord(string Id, string ProjectId, string Name, string Type, string? Physnet, long? Segment, int Mtu, bool Shared);

/// <summary>Networks and the segments (VLAN ids, tunnel keys) they hold.</summary>
public sealed class NetworkStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string NetworkColumns = "id, project_id, name, type, physnet, segment, mtu, shared";

    private static NetworkRecord Network(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4), r.NullableLong(5), (int)r.Long(6), r.Bool(7));

    /// <summary>Inserts a network; false when its segment (or its name in the project) is taken.</summary>
    public async Task<bool> TryCreateAsync(NetworkRecord n)
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

    /// <summary>A page of the networks the project sees: its own and shared ones (all for null); of that name, when given; oldest first.</summary>
    public async Task<Page<NetworkRecord>> ListAsync(string? projectId, string? name = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("network", "networks", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId OR shared", ("projectId", projectId))
            .Filter("name = @name", "name", name)
            .PageAsync(c, NetworkColumns, page ?? PageRequest.All, Network, n => n.Id);
    }

    /// <summary>A network the project sees (its own or shared; any for null), by id or name; its own first.</summary>
    public async Task<NetworkRecord?> FindAsync(string? projectId, string idOrName)
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
    public async Task<Removal> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            if (await c.ExecuteAsync("DELETE FROM networks WHERE id = @id AND NOT EXISTS (SELECT 1 FROM ports WHERE network_id = @id)", new { id }) > 0)
                return Removal.Deleted;
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return Removal.InUse;
        }
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM networks WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
