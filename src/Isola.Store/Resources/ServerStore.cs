using System.Data.Common;
using Isola.Rendering;
using Isola.Scheduling;
using Isola.Store.Documents;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

/// <summary>A server: where it was placed (<see cref="Placement"/>) and what it asked for (<see cref="Spec"/>), both null before a placement.</summary>
/// <param name="ImageId">The image it boots from (<c>servers.image_id</c>; null: a blank disk), and <paramref name="ImageName"/> its name.</param>
public sealed record ServerRecord(string Id, string ProjectId, string Name, string Status, string? Host, StoredDocument<Placement>? Placement, StoredDocument<ServerSpec>? Spec,
    string? TaskState = null, string PowerState = "paused", string? VmState = null, string? Fault = null, string? GroupId = null,
    string? ImageId = null, string? ImageName = null);

/// <summary>
/// Which servers a list shows (null: any): <paramref name="Project"/> by id or name, <paramref name="Name"/> a part of
/// the name, <paramref name="Image"/> the image's id or name, <paramref name="Flavor"/> the name of the flavor it was built with.
/// </summary>
public sealed record ServerFilter(string? Host = null, string? Status = null, string? Project = null, string? Name = null, string? Image = null, string? Flavor = null);

/// <summary>Servers as the API reads them (placements commit through PlacementStore, lifecycle moves through LifecycleStore).</summary>
public sealed class ServerStore(StoreConnectionFactory factory)
{
    /// <summary>A server of the project (any for null) by id or name.</summary>
    public async Task<ServerRecord?> FindAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"SELECT {ServerColumns} FROM {ServerRows} WHERE (s.id = @idOrName OR s.name = @idOrName) AND (@projectId IS NULL OR s.project_id = @projectId)",
            new { projectId, idOrName }, Server);
        return ByIdOrName.Pick(rows, idOrName, projectId, s => s.Id, s => s.ProjectId);
    }

    /// <summary>A page of the servers of the project (all for null) that match the filter, oldest first.</summary>
    public async Task<Page<ServerRecord>> ListAsync(string? projectId, ServerFilter filter, PageRequest page)
    {
        await using var c = await factory.OpenAsync();
        var engine = factory.Engine;
        return await new ListSql("server", ServerRows, "s.created_at", "s.id")
            .Scope("@projectId IS NULL OR s.project_id = @projectId", ("projectId", projectId))
            .Filter("s.project_id = @project OR s.project_id IN (SELECT id FROM projects WHERE name = @project)", "project", filter.Project)
            .Filter("s.host = @host", "host", filter.Host)
            .Filter("s.status = @status", "status", filter.Status)
            .Filter(SqlDialect.Contains(engine, "s.name", "@name"), "name", filter.Name)
            .Filter("s.image_id = @image OR i.name = @image", "image", filter.Image)
            .Filter($"{SqlDialect.JsonText(engine, "s.spec", "flavor", "name")} = @flavor", "flavor", filter.Flavor)
            .PageAsync(c, ServerColumns, page, Server, s => s.Id);
    }

    private const string ServerColumns =
        "s.id, s.project_id, s.name, s.status, s.host, s.placement, s.spec, s.task_state, s.power_state, s.vm_state, s.fault, s.group_id, s.image_id, i.name";

    /// <summary>Servers with the name of the image each boots from (an image a server uses is not deleted, so the join finds it).</summary>
    private const string ServerRows = "servers s LEFT JOIN images i ON i.id = s.image_id";

    private static ServerRecord Server(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.NullableString(4),
        r.NullableDocument<Placement>(5), r.NullableDocument<ServerSpec>(6), r.NullableString(7), r.GetString(8), r.NullableString(9), r.NullableString(10), r.NullableString(11),
        r.NullableString(12), r.NullableString(13));
}
