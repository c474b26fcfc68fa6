using System.Buffers;
using System.Security.Cryptography;

namespace Isola.Server.Images;

/// <summary>
/// Images' bytes as files: <c>DIR/&lt;id&gt;</c>. An upload is written to <c>DIR/.&lt;id&gt;.&lt;random&gt;.upload</c>
/// (the same directory, so the commit is a rename: the image's file is either whole or absent), synced to
/// disk, and renamed onto <c>DIR/&lt;id&gt;</c> on commit; a failed or refused upload deletes its file.
/// Upload files a crashed process left are deleted when a server starts on the directory, once an hour old
/// (an upload under way writes all the time; one that stalls is ended by the server's minimum data rate).
/// </summary>
internal sealed class FileImageBlobs : IImageBlobs
{
    private const string UploadSuffix = ".upload";
    private const int BufferSize = 1 << 20;
    private static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(1);

    private readonly string _directory;

    public FileImageBlobs(string directory, TimeProvider time)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        foreach (var leftover in Directory.EnumerateFiles(directory, ".*" + UploadSuffix))
        {
            if (File.GetLastWriteTimeUtc(leftover) < time.GetUtcNow().UtcDateTime - LeftoverAge)
                File.Delete(leftover);
        }
    }

    public async Task<StagedBlob> StageAsync(string id, Stream bytes, long maxBytes, CancellationToken ct)
    {
        var path = Path.Join(_directory, $".{FileName(id)}.{Guid.NewGuid():N}{UploadSuffix}");
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous))
            {
                int read;
                while ((read = await bytes.ReadAsync(buffer.AsMemory(0, BufferSize), ct)) > 0)
                {
                    size += read;
                    if (size > maxBytes)
                        throw new BlobTooLargeException(maxBytes);
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                }
                // On disk before the rename makes it the image's: a crash leaves the old state or the whole file.
                file.Flush(flushToDisk: true);
            }
            return new Staged(path, Path.Join(_directory, FileName(id)), size, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        catch
        {
            File.Delete(path);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public Task<Stream?> OpenAsync(string id, CancellationToken ct)
    {
        try
        {
            // Shared with a delete: a reader already streaming keeps its bytes (the file goes when it closes).
            Stream file = new FileStream(Path.Join(_directory, FileName(id)), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult<Stream?>(file);
        }
        catch (FileNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task DeleteAsync(string id, CancellationToken ct)
    {
        File.Delete(Path.Join(_directory, FileName(id)));
        return Task.CompletedTask;
    }

    /// <summary>An image id as a file name: ids are the store's GUIDs; anything that could leave the directory or hide as a dot file is refused.</summary>
    private static string FileName(string id) =>
        id.Length == 0 || id[0] == '.' || id.IndexOfAny(['/', '\\', '\0']) >= 0 ? throw new ArgumentException($"'{id}' is not an image id", nameof(id)) : id;

    private sealed class Staged(string path, string target, long size, string sha256) : StagedBlob(size, sha256, path)
    {
        private bool _committed;

        public override Task CommitAsync(CancellationToken ct)
        {
            File.Move(LocalPath, target, overwrite: true);
            _committed = true;
            return Task.CompletedTask;
        }

        public override ValueTask DisposeAsync()
        {
            if (!_committed)
                File.Delete(LocalPath);
            return ValueTask.CompletedTask;
        }
    }
}
