using System.Data.Common;
using System.Globalization;
using Dapper;
using Isola.Store.Listing;

namespace Isola.Store.Resources;

/// <summary>
/// An image: its declared disk format (raw, qcow2), status (queued: no bytes yet; active: uploaded and
/// checked), and once active the size of its bytes, the virtual size of the disk and their SHA-256 (hex).
/// </summary>
public sealed record ImageRecord(string Id, string ProjectId, string Name, string DiskFormat, string Status, long? Size, long? VirtualSize, string? Checksum,
    int MinDiskGiB, string Visibility, string CreatedAt, string UpdatedAt);

/// <summary>What an upload found in the bytes, as the image keeps it.</summary>
public sealed record ImageContent(long Size, long VirtualSize, string Checksum);

/// <summary>The image a server being created boots from was deleted (or is no longer active) before the server committed.</summary>
public sealed class ImageGoneException(string imageId) : Exception($"image {imageId} was deleted while the server was being created")
{
    public string ImageId { get; } = imageId;
}

/// <summary>Images: their rows; the bytes are kept apart (the server's image blobs).</summary>
public sealed class ImageStore(StoreConnectionFactory factory, TimeProvider time)
{
    public const string Queued = "queued";
    public const string Active = "active";
    public const string Public = "public";
    public const string Private = "private";

    private string Now => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private const string ImageColumns = "id, project_id, name, disk_format, status, size, virtual_size, checksum, min_disk, visibility, created_at, updated_at";

    private static ImageRecord Image(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
        r.NullableLong(5), r.NullableLong(6), r.NullableString(7), (int)r.Long(8), r.GetString(9), r.GetString(10), r.GetString(11));

    /// <summary>Inserts a queued image (its times are now); null when the project has an image of that name.</summary>
    public async Task<ImageRecord?> TryCreateAsync(string id, string projectId, string name, string diskFormat, int minDiskGiB, string visibility)
    {
        var now = Now;
        var image = new ImageRecord(id, projectId, name, diskFormat, Queued, null, null, null, minDiskGiB, visibility, now, now);
        await using var c = await factory.OpenAsync();
        try
        {
            await c.ExecuteAsync($"""
                INSERT INTO images ({ImageColumns})
                VALUES (@Id, @ProjectId, @Name, @DiskFormat, @Status, NULL, NULL, NULL, @MinDiskGiB, @Visibility, @CreatedAt, @UpdatedAt)
                """, image);
            return image;
        }
        catch (Exception e) when (StoreConnectionFactory.IsUniqueViolation(e))
        {
            return null;
        }
    }

    /// <summary>A page of the images the project sees: its own and public ones (all for null), oldest first; of that name and status, when given.</summary>
    public async Task<Page<ImageRecord>> ListAsync(string? projectId, string? name = null, string? status = null, PageRequest? page = null)
    {
        await using var c = await factory.OpenAsync();
        return await new ListSql("image", "images", "created_at", "id")
            .Scope("@projectId IS NULL OR project_id = @projectId OR visibility = 'public'", ("projectId", projectId))
            .Filter("name = @name", "name", name)
            .Filter("status = @status", "status", status)
            .PageAsync(c, ImageColumns, page ?? PageRequest.All, Image, i => i.Id);
    }

    /// <summary>An image the project sees (its own or public; any for null), by id or name; its own first.</summary>
    public async Task<ImageRecord?> FindAsync(string? projectId, string idOrName)
    {
        await using var c = await factory.OpenAsync();
        var rows = await c.RowsAsync($"""
            SELECT {ImageColumns} FROM images
            WHERE (id = @idOrName OR name = @idOrName) AND (@projectId IS NULL OR project_id = @projectId OR visibility = 'public')
            """, new { projectId, idOrName }, Image);
        return ByIdOrName.Pick(rows, idOrName, projectId, i => i.Id, i => i.ProjectId);
    }

    /// <summary>
    /// Makes a queued image active with what its upload found; false when it is not queued any more (another
    /// upload made it active first) or is gone (deleted meanwhile). Only one upload of an image ever wins.
    /// </summary>
    public async Task<bool> ActivateAsync(string id, ImageContent content)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteAsync("""
            UPDATE images SET status = 'active', size = @Size, virtual_size = @VirtualSize, checksum = @Checksum, updated_at = @now
            WHERE id = @id AND status = 'queued'
            """, new { id, content.Size, content.VirtualSize, content.Checksum, now = Now }) > 0;
    }

    /// <summary>Takes back an activation whose bytes could not be stored: the image is queued again (an upload may be retried).</summary>
    public async Task RequeueAsync(string id, string checksum)
    {
        await using var c = await factory.OpenAsync();
        await c.ExecuteAsync("""
            UPDATE images SET status = 'queued', size = NULL, virtual_size = NULL, checksum = NULL, updated_at = @now
            WHERE id = @id AND status = 'active' AND checksum = @checksum
            """, new { id, checksum, now = Now });
    }

    /// <summary>
    /// Inside a server's create transaction, after its row: the server boots from the image (<c>servers.image_id</c>).
    /// Throws <see cref="ImageGoneException"/> when the image is gone or not active: the create commits nothing.
    /// Against a delete at the same moment, the foreign key decides: the delete sees the server and answers in use,
    /// or the image is gone and this throws.
    /// </summary>
    public static async Task ReferAsync(DbConnection c, DbTransaction tx, string serverId, string imageId)
    {
        int n;
        try
        {
            n = await c.ExecuteAsync("""
                UPDATE servers SET image_id = @imageId
                WHERE id = @serverId AND EXISTS (SELECT 1 FROM images WHERE id = @imageId AND status = 'active')
                """, new { serverId, imageId }, tx);
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            throw new ImageGoneException(imageId);
        }
        if (n == 0)
            throw new ImageGoneException(imageId);
    }

    /// <summary>Whether a server that holds resources on <paramref name="host"/> (its agent builds or keeps it) boots from the image.</summary>
    public async Task<bool> UsedOnHostAsync(string id, string host)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM servers WHERE image_id = @id AND host = @host AND status IN ({ServerStatus.HoldingList})",
            new { id, host }) > 0;
    }

    /// <summary>Whether a server boots from the image.</summary>
    public async Task<bool> InUseAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM servers WHERE image_id = @id", new { id }) > 0;
    }

    /// <summary>Deletes an image no server uses (the foreign key backs the check against a racing server create); not found when it is gone.</summary>
    public async Task<Removal> DeleteAsync(string id)
    {
        await using var c = await factory.OpenAsync();
        try
        {
            if (await c.ExecuteAsync("DELETE FROM images WHERE id = @id AND NOT EXISTS (SELECT 1 FROM servers WHERE image_id = @id)", new { id }) > 0)
                return Removal.Deleted;
        }
        catch (Exception e) when (StoreConnectionFactory.IsForeignKeyViolation(e))
        {
            return Removal.InUse;
        }
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM images WHERE id = @id", new { id }) > 0 ? Removal.InUse : Removal.NotFound;
    }
}
