using System.Security.Cryptography;
using Isola.Server.Images;
using Isola.Tests.Support;

namespace Isola.Tests.Server.Images;

/// <summary>Images' bytes as files: staged beside the image's file, committed by a rename, never left half-written.</summary>
public sealed class FileImageBlobsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Images => _dir.Sub("images");

    private string[] Files() => Directory.GetFiles(Images).Select(f => Path.GetFileName(f)).Order().ToArray();

    [Fact]
    public async Task A_staged_upload_is_counted_and_hashed_as_it_passes_and_is_the_images_only_once_committed()
    {
        var blobs = new FileImageBlobs(Images, TimeProvider.System);
        var bytes = RandomNumberGenerator.GetBytes(3 << 20 | 17);

        await using (var staged = await blobs.StageAsync("img-1", new MemoryStream(bytes), bytes.Length, default))
        {
            Assert.Equal((bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes))), (staged.Size, staged.Sha256));
            Assert.Equal(bytes, await File.ReadAllBytesAsync(staged.LocalPath));
            Assert.Equal(Images, Path.GetDirectoryName(staged.LocalPath));
            Assert.Null(await blobs.OpenAsync("img-1", default));
            await staged.CommitAsync(default);
        }

        Assert.Equal(["img-1"], Files());
        await using (var read = (await blobs.OpenAsync("img-1", default))!)
        {
            var copy = new MemoryStream();
            await read.CopyToAsync(copy);
            Assert.Equal(bytes, copy.ToArray());
        }
        await blobs.DeleteAsync("img-1", default);
        await blobs.DeleteAsync("img-1", default);
        Assert.Empty(Files());
    }

    [Fact]
    public async Task An_upload_past_the_limit_or_not_committed_leaves_nothing()
    {
        var blobs = new FileImageBlobs(Images, TimeProvider.System);
        var e = await Assert.ThrowsAsync<BlobTooLargeException>(() => blobs.StageAsync("img-1", new MemoryStream(new byte[4097]), 4096, default));
        Assert.Equal(4096, e.MaxBytes);
        Assert.Empty(Files());

        await (await blobs.StageAsync("img-1", new MemoryStream(new byte[4096]), 4096, default)).DisposeAsync();
        Assert.Empty(Files());
    }

    [Fact]
    public async Task Uploads_a_crashed_server_left_are_removed_at_start_once_an_hour_old()
    {
        Directory.CreateDirectory(Images);
        await File.WriteAllTextAsync(Path.Join(Images, ".img-1.aaaa.upload"), "old");
        await File.WriteAllTextAsync(Path.Join(Images, ".img-2.bbbb.upload"), "new");
        await File.WriteAllTextAsync(Path.Join(Images, "img-3"), "an image");
        File.SetLastWriteTimeUtc(Path.Join(Images, ".img-1.aaaa.upload"), DateTime.UtcNow - TimeSpan.FromHours(2));

        _ = new FileImageBlobs(Images, TimeProvider.System);

        Assert.Equal([".img-2.bbbb.upload", "img-3"], Files());
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData(".hidden")]
    [InlineData("")]
    public async Task An_id_that_is_not_a_plain_file_name_is_refused(string id)
    {
        var blobs = new FileImageBlobs(Images, TimeProvider.System);
        await Assert.ThrowsAsync<ArgumentException>(() => blobs.StageAsync(id, new MemoryStream([1]), 10, default));
        await Assert.ThrowsAsync<ArgumentException>(() => blobs.OpenAsync(id, default));
        Assert.Empty(Files());
    }
}
