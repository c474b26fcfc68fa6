using Isola.Server.Api;
using Isola.Store.Resources;
using Isola.Store.Listing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Isola.Server.Images;

public sealed record CreateImage(string? Name, string? DiskFormat, int? MinDisk, string? Visibility, string? Project = null);

/// <summary>
/// /v1/images (Glance's images): made queued, their bytes uploaded once with <c>PUT /v1/images/{id}/file</c>
/// (checked by qemu-img: <see cref="ImageInspector"/>), then read by their project, by everyone when public,
/// and by hosts' agents.
/// </summary>
internal static class ImageEndpoints
{
    /// <summary>The header that carries the bytes' SHA-256 (lowercase hex, as the image's <c>checksum</c>).</summary>
    public const string ChecksumHeader = "X-Image-Checksum";

    private const string Bytes = "application/octet-stream";

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPost("/images", async (CreateImage body, HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var errors = new List<FieldError>();
            ResourceNames.Check(body.Name, "name", errors);
            if (body.DiskFormat is not (ImageInspector.Raw or ImageInspector.Qcow2))
                errors.Add(new("diskFormat", "must be raw or qcow2"));
            if (body.MinDisk is < 0 or > 65536)
                errors.Add(new("minDisk", "must be 0-65536 GiB"));
            var visibility = body.Visibility ?? ImageStore.Private;
            if (visibility is not (ImageStore.Private or ImageStore.Public))
                errors.Add(new("visibility", "must be private or public"));
            else if (visibility == ImageStore.Public && !caller.IsAdmin)
                errors.Add(new("visibility", "only an admin makes an image public"));
            if (errors.Count > 0)
                throw ApiException.Invalid(errors);
            var project = await caller.ProjectForAsync(store, body.Project);
            var image = await store.Images.TryCreateAsync(ResourceStore.NewId(), project, body.Name!, body.DiskFormat!, body.MinDisk ?? 0, visibility)
                ?? throw ApiException.Conflict("name-taken", $"the project has an image named {body.Name}", "name");
            return Results.Created($"/v1/images/{image.Id}", View(image));
        });
        api.MapGet("/images", async (HttpContext http, ResourceStore store) =>
        {
            var caller = Caller.Of(http);
            caller.RequireUser();
            var query = ListQuery.Read(http, ListFilter.Text("name"), ListFilter.OneOf("status", [ImageStore.Queued, ImageStore.Active]));
            var images = await store.Images.ListAsync(caller.ProjectScope, query["name"], query["status"], query.Page);
            return ListAnswer.Of(http, images, images.Items.Select(View));
        });
        api.MapGet("/images/{id}", async (string id, HttpContext http, ResourceStore store) => Results.Ok(View(await ImageService.Find(store, Caller.Of(http), id))));
        api.MapDelete("/images/{id}", async (string id, HttpContext http, ImageService images) =>
        {
            await images.DeleteAsync(Caller.Of(http), id);
            return Results.NoContent();
        });
        api.MapPut("/images/{id}/file", async (string id, HttpContext http, ImageService images) =>
            Results.Ok(View(await images.UploadAsync(Caller.Of(http), id, http))))
            .WithMetadata(new StreamedBody(Bytes));
        api.MapGet("/images/{id}/file", async (string id, HttpContext http, ImageService images) =>
        {
            var (image, bytes) = await images.OpenAsync(Caller.Of(http), id, http.RequestAborted);
            http.Response.Headers[ChecksumHeader] = image.Checksum;
            // RFC 9530's digest of the representation: the same SHA-256, base64.
            http.Response.Headers["Repr-Digest"] = $"sha-256=:{Convert.ToBase64String(Convert.FromHexString(image.Checksum!))}:";
            return Results.Stream(bytes, Bytes, enableRangeProcessing: true, entityTag: new EntityTagHeaderValue($"\"{image.Checksum}\""));
        });
    }

    /// <summary>An image as the API shows it: the names it is created with, and once active what its upload found.</summary>
    public static object View(ImageRecord i) => new
    {
        i.Id, i.Name, project = i.ProjectId, i.DiskFormat, i.Status, i.Size, i.VirtualSize, i.Checksum, minDisk = i.MinDiskGiB, i.Visibility,
        created = i.CreatedAt, updated = i.UpdatedAt,
    };
}
