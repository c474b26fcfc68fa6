using System.Security.Cryptography;
using Isola.Host.Commands;
using Isola.Rendering.Boot;
using Isola.Rendering.Guest;

namespace Isola.Agent.Driver;

/// <summary>
/// A host's server files: the image cache (one copy of each image per host, fetched once, checked
/// against its size and SHA-256, under the agent's state directory), each server's root disk (a qcow2
/// overlay of the cached image, <c>qemu-img create -b</c>) and config drive (an ISO 9660 volume
/// labelled <c>cidata</c>, <c>genisoimage</c>) in its instance directory, and their removal. Paths are
/// the host's; on a simulated host they lie under its root.
/// </summary>
public sealed class InstanceStorage(ICommandRunner runner, string root, string stateDirectory, string instancesDirectory, IImageSource? images)
{
    // The image source carries disks between hosts too when it can (the controller client does).
    private readonly IDiskCarrier? _disks = images as IDiskCarrier;

    /// <summary>The host's instances directory (as the plans' paths say it).</summary>
    public string InstancesDirectory { get; } = instancesDirectory;

    private string ImageCache => Path.Join(stateDirectory, "images");

    /// <summary>Where an image is cached (a host path: the disks name it as their backing file).</summary>
    /// <exception cref="DriverException">The id is not a plain name (letters, digits, '-', '_'): it never becomes a path elsewhere.</exception>
    public string CachedImage(ImageRef image) =>
        image.Id.Length is > 0 and <= 64 && image.Id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? Path.Join(ImageCache, image.Id)
            : throw new DriverException($"image id '{image.Id}' is not a plain name: it is not cached");

    private string Local(string hostPath) => Path.Join(root, hostPath);

    public bool Exists(string hostPath) => File.Exists(Local(hostPath));

    /// <summary>A file's size and last write (null: not there), to tell whether it changed without reading it.</summary>
    public (long Length, DateTime Written)? Stamp(string hostPath)
    {
        var file = new FileInfo(Local(hostPath));
        return file.Exists ? (file.Length, file.LastWriteTimeUtc) : null;
    }

    /// <summary>
    /// The last <paramref name="maxBytes"/> of a text file (a serial console log) as UTF-8, from the first
    /// whole line when it is cut; null when it is not there. Bytes that are not UTF-8 read as U+FFFD.
    /// </summary>
    public string? Tail(string hostPath, int maxBytes)
    {
        try
        {
            using var file = new FileStream(Local(hostPath), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var cut = file.Length > maxBytes;
            if (cut)
                file.Seek(-maxBytes, SeekOrigin.End);
            var bytes = new byte[Math.Min(file.Length, maxBytes)];
            file.ReadExactly(bytes);
            var start = cut && Array.IndexOf(bytes, (byte)'\n') is var nl and >= 0 ? nl + 1 : 0;
            return System.Text.Encoding.UTF8.GetString(bytes, start, bytes.Length - start);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"reading {hostPath}: {e.Message}");
        }
    }

    /// <summary>The ids of the images in the cache.</summary>
    public IReadOnlyList<string> CachedImages() =>
        Directory.Exists(Local(ImageCache))
            ? Directory.EnumerateFiles(Local(ImageCache)).Select(Path.GetFileName).Where(n => n is not null && !n.EndsWith(".partial", StringComparison.Ordinal)).Select(n => n!).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>The instance directories on the host, by name (the domain's name).</summary>
    public IReadOnlyList<string> InstanceDirectories() =>
        Directory.Exists(Local(InstancesDirectory))
            ? Directory.EnumerateDirectories(Local(InstancesDirectory)).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// Fetches an image into the cache unless it is there: into a partial file first, then checked
    /// (size, SHA-256) and renamed, so the cache never holds a wrong or half image.
    /// </summary>
    public async Task FetchImageAsync(ImageRef image, CancellationToken ct)
    {
        var target = Local(CachedImage(image));
        if (File.Exists(target))
            return;
        if (images is null)
            throw new DriverException($"image {image.Id} is not cached on this host and the agent has no image source");
        try
        {
            Directory.CreateDirectory(Local(ImageCache));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"making the image cache {Local(ImageCache)}: {e.Message}");
        }
        var partial = target + ".partial";
        try
        {
            string checksum;
            long size;
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await using (var hashing = new HashingStream(file, hash))
                    await images.CopyToAsync(image, hashing, ct);
                size = file.Length;
                checksum = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            if (size != image.Size || !string.Equals(checksum, image.Checksum, StringComparison.OrdinalIgnoreCase))
                throw new DriverException($"image {image.Id} arrived as {size} bytes with SHA-256 {checksum}; it is {image.Size} bytes with {image.Checksum}");
            File.Move(partial, target);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or TimeoutException
                                      || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // The HTTP client's own timeout is a failed fetch, not the agent's cancellation.
            throw new DriverException($"fetching image {image.Id}: {e.Message}");
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>Makes the server's root disk: an overlay of its cached image (or a blank qcow2), of the flavor's size.</summary>
    /// <param name="replace">Whether the new disk takes the place of the one there (a rebuild, its domain shut off); otherwise a disk that is there stays and this fails.</param>
    public async Task CreateDiskAsync(InstanceDisk disk, CancellationToken ct, bool replace = false)
    {
        try
        {
            await MakeDiskAsync(disk, replace, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"making the disk {disk.Path}: {e.Message}");
        }
    }

    private async Task MakeDiskAsync(InstanceDisk disk, bool replace, CancellationToken ct)
    {
        Directory.CreateDirectory(Local(Path.GetDirectoryName(disk.Path)!));
        var partial = disk.Path + ".partial";
        var size = $"{Math.Max(disk.SizeGiB, 1)}G";
        string[] argv = disk.Image is { } image
            ? ["qemu-img", "create", "-q", "-f", "qcow2", "-b", CachedImage(image), "-F", image.DiskFormat, partial, size]
            : ["qemu-img", "create", "-q", "-f", "qcow2", partial, size];
        await RunAsync(argv, ct);
        File.Move(Local(partial), Local(disk.Path), overwrite: replace); // never over a disk that is there, but on a rebuild
    }

    /// <summary>Sends a server's disk to its resize's or migration's destination (through the controller); its domain is shut off.</summary>
    public async Task SendDiskAsync(string serverId, InstanceDisk disk, CancellationToken ct)
    {
        var carrier = _disks ?? throw new DriverException($"the disk of server {serverId} cannot be sent: the agent has no controller to send it through");
        try
        {
            await using var file = new FileStream(Local(disk.Path), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            await carrier.SendDiskAsync(serverId, file, ct);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or TimeoutException
                                      || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new DriverException($"sending the disk {disk.Path} of server {serverId}: {e.Message}");
        }
    }

    /// <summary>
    /// Makes a server's disk from the one its source host sent (a resize or migration from another host): fetched into a
    /// partial file and checked against the SHA-256 the controller holds, its backing file set to this host's copy of its
    /// image (<c>qemu-img rebase -u</c>: the bytes are the same, only the path differs), grown to the flavor's size when it is bigger, then put in place.
    /// </summary>
    public async Task ReceiveDiskAsync(string serverId, InstanceDisk disk, CancellationToken ct)
    {
        var carrier = _disks ?? throw new DriverException($"the disk of server {serverId} cannot be fetched: the agent has no controller to fetch it from");
        var partial = disk.Path + ".partial";
        try
        {
            Directory.CreateDirectory(Local(Path.GetDirectoryName(disk.Path)!));
            string? expected;
            string checksum;
            await using (var file = new FileStream(Local(partial), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await using (var hashing = new HashingStream(file, hash))
                    expected = await carrier.ReceiveDiskAsync(serverId, hashing, ct);
                await file.FlushAsync(ct);
                file.Flush(flushToDisk: true);
                checksum = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            if (expected is not null && !string.Equals(expected, checksum, StringComparison.OrdinalIgnoreCase))
                throw new DriverException($"the disk of server {serverId} arrived with SHA-256 {checksum}; its source sent {expected}");
            if (disk.Image is { } image)
                await RunAsync(["qemu-img", "rebase", "-u", "-f", "qcow2", "-b", CachedImage(image), "-F", image.DiskFormat, partial], ct);
            await RunAsync(["qemu-img", "resize", "-q", "-f", "qcow2", partial, $"{Math.Max(disk.SizeGiB, 1)}G"], ct);
            File.Move(Local(partial), Local(disk.Path));
        }
        catch (Exception e) when (e is IOException or HttpRequestException or UnauthorizedAccessException or TimeoutException
                                      || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new DriverException($"fetching the disk of server {serverId}: {e.Message}");
        }
        finally
        {
            File.Delete(Local(partial));
        }
    }

    /// <summary>Grows a server's disk (its domain shut off) to its flavor's size (<c>qemu-img resize</c>): a resize to a flavor with a bigger disk.</summary>
    public Task GrowDiskAsync(InstanceDisk disk, CancellationToken ct) =>
        RunAsync(["qemu-img", "resize", "-q", "-f", "qcow2", disk.Path, $"{Math.Max(disk.SizeGiB, 1)}G"], ct);

    /// <summary>Writes the server's config drive: its three files as an ISO 9660 volume labelled cidata (Joliet and Rock Ridge names, as cloud-init reads them).</summary>
    public async Task WriteConfigDriveAsync(string path, ConfigDrive drive, CancellationToken ct)
    {
        try
        {
            await WriteDriveAsync(path, drive, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"writing the config drive {path}: {e.Message}");
        }
    }

    private async Task WriteDriveAsync(string path, ConfigDrive drive, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(path)!;
        var staging = Path.Join(dir, "config-drive");
        Directory.CreateDirectory(Local(staging));
        try
        {
            foreach (var (name, content) in drive.Files)
                await File.WriteAllTextAsync(Local(Path.Join(staging, name)), content, ct);
            await RunAsync(["genisoimage", "-quiet", "-output", path + ".partial", "-volid", ConfigDrive.VolumeLabel, "-joliet", "-rock",
                .. drive.Files.Select(f => Path.Join(staging, f.Name))], ct);
            File.Move(Local(path + ".partial"), Local(path), overwrite: true);
        }
        finally
        {
            Directory.Delete(Local(staging), recursive: true);
        }
    }

    /// <summary>
    /// Where libvirt's QEMU driver (system instance) keeps each domain's own log, <c>NAME.log</c> (QEMU's command line and
    /// what it wrote to stderr; rotated as <c>NAME.log.N</c>): libvirt leaves it when the domain is undefined.
    /// </summary>
    public const string LibvirtQemuLogs = "/var/log/libvirt/qemu";

    /// <summary>The domains libvirt kept a log of on the host (<see cref="LibvirtQemuLogs"/>), by name.</summary>
    public IReadOnlyList<string> DomainLogs()
    {
        var dir = Local(LibvirtQemuLogs);
        if (!Directory.Exists(dir))
            return [];
        return Directory.EnumerateFiles(dir).Select(Path.GetFileName).OfType<string>()
            .Select(n => n.IndexOf(".log", StringComparison.Ordinal) is var at and > 0 && (n.Length == at + 4 || n[at + 4] == '.') ? n[..at] : null)
            .OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Removes libvirt's log of a domain, rotated ones too (nothing when there is none).</summary>
    public void RemoveDomainLogs(string name)
    {
        var dir = Local(LibvirtQemuLogs);
        if (!Directory.Exists(dir))
            return;
        foreach (var file in Directory.EnumerateFiles(dir, name + ".log*").Where(f => Path.GetFileName(f) is var n && (n == name + ".log" || n.StartsWith(name + ".log.", StringComparison.Ordinal))))
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DriverException($"removing {file}: {e.Message}");
            }
        }
    }

    /// <summary>Removes a server's instance directory and everything in it (nothing when it is not there).</summary>
    public void RemoveInstance(string name)
    {
        var dir = Local(Path.Join(InstancesDirectory, name));
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"removing {dir}: {e.Message}");
        }
    }

    /// <summary>Removes a cached image no server here uses any more.</summary>
    public void RemoveCachedImage(string id)
    {
        var file = Local(Path.Join(ImageCache, id));
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DriverException($"removing {file}: {e.Message}");
        }
    }

    private async Task RunAsync(IReadOnlyList<string> argv, CancellationToken ct)
    {
        var result = await runner.RunAsync(argv, ct);
        if (!result.Succeeded)
            throw new DriverException(result.Describe(argv));
    }

    /// <summary>A write-through stream that hashes what passes.</summary>
    private sealed class HashingStream(Stream inner, IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            hash.AppendData(buffer, offset, count);
            inner.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
