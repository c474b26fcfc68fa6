namespace Isola.Server.Images;

/// <summary>
/// Where images' bytes are kept, by image id: files under the server's data directory
/// (<see cref="FileImageBlobs"/>) today, an object store later. An upload is staged first (streamed,
/// counted and hashed as it passes, never held in memory), checked, then committed; a staging that is not
/// committed leaves nothing behind.
/// </summary>
public interface IImageBlobs
{
    /// <summary>
    /// Stages <paramref name="bytes"/> for image <paramref name="id"/>: nothing is the image's until
    /// <see cref="StagedBlob.CommitAsync"/>. Throws <see cref="BlobTooLargeException"/> (nothing kept) as
    /// soon as more than <paramref name="maxBytes"/> arrive.
    /// </summary>
    Task<StagedBlob> StageAsync(string id, Stream bytes, long maxBytes, CancellationToken ct);

    /// <summary>The image's bytes for reading (seekable, its length known); null when there are none.</summary>
    Task<Stream?> OpenAsync(string id, CancellationToken ct);

    /// <summary>Deletes the image's bytes; none is no error.</summary>
    Task DeleteAsync(string id, CancellationToken ct);
}

/// <summary>
/// An upload's bytes, staged: their size and SHA-256 (lowercase hex), and a local file to inspect them in.
/// Disposing it without a commit removes it.
/// </summary>
public abstract class StagedBlob(long size, string sha256, string localPath) : IAsyncDisposable
{
    public long Size { get; } = size;

    public string Sha256 { get; } = sha256;

    /// <summary>A local file holding the bytes (what qemu-img reads); it goes with the staging.</summary>
    public string LocalPath { get; } = localPath;

    /// <summary>The staged bytes become the image's (replacing any it had).</summary>
    public abstract Task CommitAsync(CancellationToken ct);

    public abstract ValueTask DisposeAsync();
}

/// <summary>More bytes arrived than an upload may have.</summary>
public sealed class BlobTooLargeException(long maxBytes) : Exception($"more than {maxBytes} bytes")
{
    public long MaxBytes { get; } = maxBytes;
}
