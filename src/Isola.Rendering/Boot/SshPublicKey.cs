using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Isola.Rendering.Boot;

/// <summary>
/// An OpenSSH public key line as <c>authorized_keys</c> and cloud-init's <c>public-keys</c> take it:
/// <c>TYPE BASE64 [COMMENT]</c>, on one line. The base64 body is the key's wire blob, which starts with
/// its type again (RFC 4253 §6.6: a uint32 length and the type's name), so a body of another type, or
/// one cut short, is found. <c>authorized_keys</c> options (<c>from="..."</c>, <c>command=</c>) are not
/// part of a public key and are refused, as are certificates.
/// </summary>
public sealed record SshPublicKey(string Type, byte[] Blob, string? Comment)
{
    /// <summary>The key types taken: OpenSSH's current ones (DSA is gone from OpenSSH 9.8; certificates are not keys).</summary>
    public static readonly IReadOnlyList<string> Types =
    [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ];

    /// <summary>The longest line taken (a 16384-bit RSA key is about 2.8 KB of base64).</summary>
    public const int MaxLength = 8192;

    /// <summary>As <c>ssh-keygen -l</c> says it: <c>SHA256:</c> and the blob's SHA-256 in base64 without padding.</summary>
    public string Fingerprint => "SHA256:" + Convert.ToBase64String(SHA256.HashData(Blob)).TrimEnd('=');

    /// <summary>The line as it is kept: type, body and comment, one space apart.</summary>
    public string Line => Comment is null ? $"{Type} {Convert.ToBase64String(Blob)}" : $"{Type} {Convert.ToBase64String(Blob)} {Comment}";

    /// <summary>Reads one key line (spaces around it are dropped); null with the reason when it is not one.</summary>
    public static SshPublicKey? Parse(string? line, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(line))
            return Fail("is empty: a key is TYPE BASE64 [COMMENT]", out problem);
        if (line.Length > MaxLength)
            return Fail($"is {line.Length} characters long; a key line is at most {MaxLength}", out problem);
        if (line.IndexOfAny(['\n', '\r']) >= 0)
            return Fail("holds a line break: give one key per list item", out problem);
        if (line.Any(c => char.IsControl(c) && c != '\t'))
            return Fail("holds a control character", out problem);
        var parts = line.Trim().Split([' ', '\t'], 3, StringSplitOptions.RemoveEmptyEntries);
        var type = parts[0];
        if (!Types.Contains(type, StringComparer.Ordinal))
            return Fail($"starts with '{Clip(type)}', not a key type (one of {string.Join(", ", Types)}); authorized_keys options and certificates are not taken", out problem);
        if (parts.Length < 2)
            return Fail($"has no base64 body after {type}", out problem);
        byte[] blob;
        try
        {
            blob = Convert.FromBase64String(parts[1]);
        }
        catch (FormatException)
        {
            return Fail($"has a body that is not base64: '{Clip(parts[1])}'", out problem);
        }
        // The blob names its own type first: string(type) = uint32 length, then the bytes.
        var named = blob.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(blob) is var n && n <= blob.Length - 4
            ? Encoding.ASCII.GetString(blob, 4, (int)n) : null;
        if (named != type)
            return Fail(named is null ? $"has a body that is not an SSH key blob" : $"says {type} but its body is a {Clip(named)} key", out problem);
        if (blob.Length == 4 + named.Length)
            return Fail("has a body with the key's type and nothing of the key", out problem);
        var comment = parts.Length > 2 ? parts[2].Trim() : null;
        return new SshPublicKey(type, blob, string.IsNullOrEmpty(comment) ? null : comment);
    }

    private static SshPublicKey? Fail(string message, out string? problem)
    {
        problem = message;
        return null;
    }

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "…" : s;
}
