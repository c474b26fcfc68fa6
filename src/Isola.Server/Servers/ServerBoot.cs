using System.Text;
using Isola.Rendering.Boot;
using Isola.Scheduling.Requests;
using Isola.Server.Api;
using Isola.Store.Resources;

namespace Isola.Server.Servers;

/// <summary>
/// What a server create says it boots with, read: <c>image</c> (id or name, the project's own or a public
/// one, active), <c>userData</c> (base64, as Nova takes it; kept decoded, as UTF-8 text) and <c>sshKeys</c>
/// (OpenSSH public key lines). The rules of the disk and the guest are <see cref="BootRules"/>, the ones the
/// host plan is made with.
/// </summary>
internal static class ServerBoot
{
    /// <summary>Nova's limit on user_data: the base64 text is at most 65535 characters (about 48 KiB decoded).</summary>
    public const int MaxUserDataText = 65535;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The user data decoded and the keys as kept (one space apart, base64 canonical); what breaks a rule goes to <paramref name="errors"/>.</summary>
    public static (string? UserData, IReadOnlyList<string>? SshKeys) Read(string? userDataText, IReadOnlyList<string>? sshKeys, List<FieldError> errors)
    {
        string? userData = null;
        if (userDataText is { } text)
        {
            if (text.Length > MaxUserDataText)
                errors.Add(new("userData", $"is {text.Length} characters of base64; at most {MaxUserDataText}, as in Nova (about 48 KiB of user data)"));
            else if (Decode(text) is not { } bytes)
                errors.Add(new("userData", "is not base64 (RFC 4648, padded, as Nova's user_data is sent)"));
            else
            {
                try
                {
                    userData = bytes.Length == 0 ? null : StrictUtf8.GetString(bytes);
                }
                catch (DecoderFallbackException)
                {
                    errors.Add(new("userData", "decodes to bytes that are not UTF-8 text: Isola keeps user data as text (a cloud-config, a script, MIME multipart); binary or gzip-compressed user data is not taken"));
                }
            }
        }
        var keys = sshKeys is { Count: > 0 } given ? given : null;
        var guest = BootRules.CheckGuest(new GuestBoot(null, userData, keys));
        errors.AddRange(guest.Select(e => new FieldError(e.Field, e.Message)));
        if (guest.Count > 0 || keys is null)
            return (userData, null);
        return (userData, keys.Select(k => SshPublicKey.Parse(k, out _)!.Line).ToList());
    }

    /// <summary>
    /// The boot of a server of <paramref name="project"/> with <paramref name="flavor"/>: the image found (the
    /// project's own or a public one, active, fitting the flavor's disk) and the guest's data; null when the
    /// create names none of them (a blank disk, as before images).
    /// </summary>
    public static async Task<(GuestBoot? Boot, ImageRecord? Image)> ResolveAsync(ResourceStore store, string project, Flavor flavor, string? imageName,
        string? userData, IReadOnlyList<string>? keys)
    {
        ImageRef? image = null;
        ImageRecord? record = null;
        if (imageName is not null)
        {
            // Not found and another project's private image answer alike: the image's existence is not revealed.
            record = await store.Images.FindAsync(project, imageName)
                ?? throw ApiException.Invalid("image", $"the project sees no image '{imageName}' (its own, or a public one)");
            if (record.Status != ImageStore.Active)
                throw ApiException.Invalid("image", $"image {record.Name} is {record.Status}: a server boots only from an active image (upload its file: PUT /v1/images/{record.Id}/file)");
            image = new ImageRef(record.Id, record.DiskFormat, record.Checksum!, record.Size!.Value, record.VirtualSize ?? 0, record.MinDiskGiB);
            var disk = BootRules.CheckDisk(flavor, image, record.Name);
            if (disk.Count > 0)
                throw ApiException.Invalid(disk.Select(e => new FieldError(e.Field, e.Message)).ToList());
        }
        return image is null && userData is null && keys is null ? (null, null) : (new GuestBoot(image, userData, keys), record);
    }

    /// <summary>Standard base64, padded (whitespace between the characters is ignored); null when it is not.</summary>
    private static byte[]? Decode(string text)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
