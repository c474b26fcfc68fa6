using System.Collections.Concurrent;
using Isola.Server.Api;
using Isola.Server.Settings;
using Isola.Store.Resources;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Isola.Server.Images;

/// <summary>
/// Images as the API uses them: found for a caller, their bytes uploaded (staged, checked by qemu-img,
/// then the image made active and the bytes committed), read and deleted.
/// </summary>
internal sealed class ImageService(ResourceStore store, IImageBlobs blobs, ImageInspector inspector, ServerSettings settings)
{
    /// <summary>Images this process is taking an upload for: a second upload of one of them is refused at once, not after its bytes.</summary>
    private readonly ConcurrentDictionary<string, byte> _uploading = new(StringComparer.Ordinal);

    /// <summary>An image the caller sees (its project's and public ones; an admin all), by id or name.</summary>
    public static async Task<ImageRecord> Find(ResourceStore store, Caller caller, string id)
    {
        caller.RequireUser();
        return await store.Images.FindAsync(caller.ProjectScope, id) ?? throw ApiException.NotFound("image", id);
    }

    /// <summary>
    /// An image's bytes for reading: for whoever sees the image, and for a host's agent the images of the
    /// servers placed on its host (a host token has no project; agents fetch the images of the servers they
    /// build). Any other image is not found for a host token, as another project's is for a member.
    /// </summary>
    public async Task<(ImageRecord Image, Stream Bytes)> OpenAsync(Caller caller, string id, CancellationToken ct)
    {
        var image = caller.IsHost
            ? await store.Images.FindAsync(null, id) is { } found && caller.Token.Host is { } host && await store.Images.UsedOnHostAsync(found.Id, host)
                ? found
                : throw new ApiException(404, "not-found", $"no image '{id}' that a server on host {caller.Token.Host} boots from")
            : await Find(store, caller, id);
        if (image.Status != ImageStore.Active)
            throw ApiException.Conflict("image-queued", $"image {image.Name} has no bytes yet: upload them with PUT /v1/images/{image.Id}/file");
        var bytes = await blobs.OpenAsync(image.Id, ct)
            ?? throw new InvalidOperationException($"image {image.Name} ({image.Id}) is active but its bytes are missing from the image store");
        return (image, bytes);
    }

    /// <summary>
    /// Takes the request's body as the bytes of a queued image of the caller's project: streamed to a staging
    /// file (counted against <see cref="ServerSettings.MaxImageBytes"/>, hashed as it passes), checked with
    /// qemu-img, and then, if the image is still queued, made active and the bytes committed. Anything that
    /// fails leaves no bytes and the image queued, so the upload can be made again.
    /// </summary>
    public async Task<ImageRecord> UploadAsync(Caller caller, string id, HttpContext http)
    {
        var image = await Find(store, caller, id);
        if (!caller.Sees(image.ProjectId))
            throw ApiException.Forbidden("a public image is uploaded by its owner");
        if (image.Status != ImageStore.Queued)
            throw Active(image);
        var max = settings.MaxImageBytes;
        if (http.Request.ContentLength > max)
            throw TooLarge(max, $"the image is {http.Request.ContentLength} bytes");
        if (!_uploading.TryAdd(image.Id, 0))
            throw ApiException.Conflict("image-uploading", $"an upload of image {image.Name} is under way");
        try
        {
            // This endpoint's bodies are images: Kestrel's limit (30 MB by default) is replaced by the setting, counted as the bytes arrive.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = null;
            await using var staged = await StageAsync(image, http.Request.Body, max, http.RequestAborted);
            if (staged.Size == 0)
                throw ApiException.Invalid("body", "the image is empty: send its bytes");
            var inspection = await inspector.InspectAsync(staged.LocalPath, image.DiskFormat, http.RequestAborted);
            if (inspection.Problems.Count > 0)
                throw ApiException.Invalid(inspection.Problems);
            var content = new ImageContent(staged.Size, inspection.VirtualSize, staged.Sha256);
            if (!await store.Images.ActivateAsync(image.Id, content))
                throw await store.Images.FindAsync(null, image.Id) is { } now ? Active(now) : ApiException.NotFound("image", id);
            try
            {
                await staged.CommitAsync(CancellationToken.None);
            }
            catch
            {
                await store.Images.RequeueAsync(image.Id, content.Checksum);
                throw;
            }
            // A delete between the activation and the commit removed the row and found no bytes yet: remove them now.
            if (await store.Images.FindAsync(null, image.Id) is not { } active)
            {
                await blobs.DeleteAsync(image.Id, CancellationToken.None);
                throw ApiException.NotFound("image", id);
            }
            return active;
        }
        finally
        {
            _uploading.TryRemove(image.Id, out _);
        }
    }

    private async Task<StagedBlob> StageAsync(ImageRecord image, Stream body, long max, CancellationToken ct)
    {
        try
        {
            return await blobs.StageAsync(image.Id, body, max, ct);
        }
        catch (BlobTooLargeException)
        {
            throw TooLarge(max, $"the image is over {max} bytes");
        }
    }

    /// <summary>Deletes an image no server uses, and then its bytes.</summary>
    public async Task DeleteAsync(Caller caller, string id)
    {
        var image = await Find(store, caller, id);
        if (!caller.Sees(image.ProjectId))
            throw ApiException.Forbidden("a public image is deleted by its owner");
        switch (await store.Images.DeleteAsync(image.Id))
        {
            case Removal.InUse:
                throw ApiException.Conflict("in-use", $"image {image.Name} is used by servers");
            case Removal.NotFound:
                // Of two deletes of one image, the second finds it gone.
                throw ApiException.NotFound("image", id);
        }
        await blobs.DeleteAsync(image.Id, CancellationToken.None);
    }

    private static ApiException Active(ImageRecord image) =>
        ApiException.Conflict("image-active", $"image {image.Name} is active: its bytes were uploaded and do not change (make a new image)");

    private static ApiException TooLarge(long max, string what) =>
        new(413, "too-large", $"{what}; this server takes images of at most {max} bytes (its MaxImageBytes setting)", "body");
}
