using System.Globalization;
using Dapper;
using Isola.Store.Documents;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

public sealed record FlavorRecord(string Id, string Name, int Vcpus, long RamMiB, int DiskGiB, IReadOnlyDictionary<string, string> ExtraSpecs);

/// <summary>Flavors: a server's size and its extra specs.</summary>
public sealed class FlavorStore(StoreConnectionFactory factory, TimeProvider time)
{
    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string FlavorColumns = "id, name, vcpus, ram_mib, disk_gib, extra_specs";

    private static FlavorRecord Flavor(System.Data.Common.DbDataReader r) => new(r.GetString(0), r.GetString(1), (int)r.Long(2), r.Long(3), (int)r.Long(4),
        StoredDocuments.Read<Dictionary<string, string>>(r.GetString(5)));

    public async Task<bool> TryCreateAsync(FlavorRecord f)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            await c.ExecuteAsync("INSERT INTO flavors (id, name, vcpus, ram_mib, disk_gib, extra_specs, created_at) VALUES (@Id, @Name, @Vcpus, @RamMiB, @DiskGiB, @specs, @now)",
                new { f.Id, f.Name, f.Vcpus, f.RamMiB, f.DiskGiB, specs = StoredDocuments.Write(f.ExtraSpecs), now = Now });
            return true;
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return false;
        }
    }

    /// <summary>A page of the flavors (of that name, when given), oldest first.</summary>
    public async Task<Page<FlavorRecord>> ListAsync(string? name = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("flavor", "flavors", "created_at", "id").Filter("name = @name", "name", name)
            .PageAsync(c, FlavorColumns, page ?? PageRequest.All, Flavor, f => f.Id);
    }

    public async Task<FlavorRecord?> FindAsync(string idOrName)
    {
        await using var c = await factory.OpenAsync();
        return (await c.RowsAsync($"SELECT {FlavorColumns} FROM flavors WHERE id = @idOrName OR name = @idOrName", new { idOrName }, Flavor)).FirstOrDefault();
    }

    public async Task<bool> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("DELETE FROM flavors WHERE id = @id", new { id }) > 0;
    }
}
