using System.Text;
using Isola.Scheduling.Requests;

namespace Isola.Rendering.Boot;

/// <summary>
/// What a server boots with must keep (checked by the API at create) and how big its root disk is (read
/// by the host planner): one place, so the disk the API agreed to is the disk the host makes.
/// Fields are named as the server create names them: <c>flavor</c>, <c>userData</c>, <c>sshKeys[i]</c>.
/// </summary>
public static class BootRules
{
    public const long GiB = 1L << 30;

    /// <summary>The most user data a server takes, decoded (Nova's own limit is on the base64 text: 65535 characters).</summary>
    public const int MaxUserDataBytes = 65535;

    /// <summary>The most SSH keys a server's meta-data takes.</summary>
    public const int MaxSshKeys = 16;

    /// <summary>
    /// The root disk's size: the flavor's disk; a flavor with disk 0 takes its image's (its virtual size
    /// rounded up to whole GiB, at least its minDisk), as Nova's libvirt driver does; 0 without an image
    /// (the agent then makes a blank disk of 1 GiB, the least qemu-img is asked for).
    /// </summary>
    public static int RootDiskGiB(Flavor flavor, ImageRef? image) =>
        flavor.DiskGiB > 0 || image is null ? flavor.DiskGiB : (int)Math.Min(int.MaxValue, Math.Max(WholeGiB(image.VirtualSize), image.MinDiskGiB));

    /// <summary>Bytes as GiB, rounded up.</summary>
    public static long WholeGiB(long bytes) => bytes <= 0 ? 0 : (bytes - 1) / GiB + 1;

    /// <summary>All the rules: <see cref="CheckDisk"/> and <see cref="CheckGuest"/>.</summary>
    /// <param name="imageName">The image as messages name it (its id when not given).</param>
    public static IReadOnlyList<RequestError> Check(Flavor flavor, GuestBoot boot, string? imageName = null) =>
        [.. boot.Image is { } image ? CheckDisk(flavor, image, imageName) : [], .. CheckGuest(boot)];

    /// <summary>
    /// The flavor's disk holds the image: its minDisk and its virtual size (Nova compares the image's file
    /// size; the disk the guest gets must hold the virtual one), unless the disk is 0 and takes the image's size.
    /// </summary>
    public static IReadOnlyList<RequestError> CheckDisk(Flavor flavor, ImageRef image, string? imageName = null)
    {
        if (flavor.DiskGiB <= 0)
            return [];
        var name = imageName ?? image.Id;
        if (image.MinDiskGiB > flavor.DiskGiB)
            return [new("flavor", $"flavor {flavor.Name} has a {flavor.DiskGiB} GiB disk; image {name} needs at least {image.MinDiskGiB} GiB (its minDisk)")];
        if (image.VirtualSize > flavor.DiskGiB * GiB)
            return [new("flavor", $"flavor {flavor.Name} has a {flavor.DiskGiB} GiB disk; image {name} holds a {image.VirtualSize}-byte disk ({WholeGiB(image.VirtualSize)} GiB, its virtualSize)")];
        return [];
    }

    /// <summary>
    /// The user data is at most <see cref="MaxUserDataBytes"/> bytes of UTF-8; at most <see cref="MaxSshKeys"/>
    /// keys, each an OpenSSH public key line (<see cref="SshPublicKey"/>).
    /// </summary>
    public static IReadOnlyList<RequestError> CheckGuest(GuestBoot boot)
    {
        var errors = new List<RequestError>();
        if (boot.UserData is { } data && Encoding.UTF8.GetByteCount(data) is var bytes && bytes > MaxUserDataBytes)
            errors.Add(new("userData", $"is {bytes} bytes decoded; a server takes at most {MaxUserDataBytes}"));
        var keys = boot.SshKeys ?? [];
        if (keys.Count > MaxSshKeys)
            errors.Add(new("sshKeys", $"{keys.Count} keys; a server takes at most {MaxSshKeys}"));
        for (var i = 0; i < keys.Count; i++)
        {
            if (SshPublicKey.Parse(keys[i], out var problem) is null)
                errors.Add(new($"sshKeys[{i}]", problem!));
        }
        return errors;
    }
}
