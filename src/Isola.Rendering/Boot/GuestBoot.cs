namespace Isola.Rendering.Boot;

/// <summary>
/// An image a server boots from, as it was when the server was made (an image's bytes never change
/// once uploaded): the agent fetches it by id, checks it against the checksum and size, and keeps it
/// in its host's image cache.
/// </summary>
/// <param name="Checksum">The SHA-256 of the image's bytes, lower-case hex.</param>
/// <param name="Size">The bytes of the image's file (what the agent fetches).</param>
/// <param name="VirtualSize">The bytes of the disk the image holds (qemu-img's virtual size; 0 in specs of an earlier release).</param>
/// <param name="MinDiskGiB">The image's minDisk: the smallest root disk it needs.</param>
public sealed record ImageRef(string Id, string DiskFormat, string Checksum, long Size, long VirtualSize = 0, int MinDiskGiB = 0);

/// <summary>
/// What a server boots with besides its flavor and ports: the image (null: a blank root disk), the
/// user's user-data (decoded; null: none) and the SSH public keys for its meta-data.
/// </summary>
/// <param name="DiskVersion">The server's plan version when its root disk was last made (0: at its create; a rebuild makes a new disk at the next).</param>
public sealed record GuestBoot(ImageRef? Image = null, string? UserData = null, IReadOnlyList<string>? SshKeys = null, int DiskVersion = 0)
{
    public static GuestBoot Blank { get; } = new();
}

/// <summary>The server's root disk on its host: a qcow2 at <see cref="Path"/> of <see cref="SizeGiB"/>, an overlay of the image when it has one.</summary>
/// <param name="Version">Which making of the disk this is (<see cref="GuestBoot.DiskVersion"/>): an agent holding an older one makes it again, with the config drive, while the domain is shut off.</param>
public sealed record InstanceDisk(string Path, int SizeGiB, ImageRef? Image, int Version = 0);
