using System.Globalization;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

public sealed record ProjectRecord(string Id, string Name);

/// <summary>Projects: the tenants every other resource belongs to.</summary>
public sealed class ProjectStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    public async Task<ProjectRecord> CreateAsync(string name)
    {
        await using var c = await factory.OpenAsync();
        var project = new ProjectRecord(ResourceStore.NewId(), name);
        await c.ExecuteAsync("INSERT INTO projects (id, name, created_at) VALUES (@Id, @Name, @now)", new { project.Id, project.Name, now = Now });
        return project;
    }

    /// <summary>A page of the projects (of that name, when given), oldest first.</summary>
    public async Task<Page<ProjectRecord>> ListAsync(string? name = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("project", "projects", "created_at", "id").Filter("name = @name", "name", name)
            .PageAsync(c, "id, name", page ?? PageRequest.All, r => new ProjectRecord(r.GetString(0), r.GetString(1)), p => p.Id);
    }

    public async Task<ProjectRecord?> FindAsync(string idOrName)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync("SELECT id, name FROM projects WHERE id = @idOrName OR name = @idOrName", new { idOrName },
            r => new ProjectRecord(r.GetString(0), r.GetString(1)))).FirstOrDefault();
    }
}
