using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Isola.Tests.Support;

/// <summary>OpenSSH public key lines made from seeded bytes: the wire blob as ssh-keygen writes it (RFC 4253 strings), not real keys.</summary>
internal static class TestKeys
{
    /// <summary>An ed25519 key line: string("ssh-ed25519") string(32 bytes).</summary>
    public static string Ed25519(int seed, string? comment = "test@isola") => Line("ssh-ed25519", Blob("ssh-ed25519", Bytes(seed, 32)), comment);

    /// <summary>An ecdsa-sha2-nistp256 key line: string(type) string("nistp256") string(65-byte point).</summary>
    public static string Ecdsa256(int seed) => Line("ecdsa-sha2-nistp256", Blob("ecdsa-sha2-nistp256", Encoding.ASCII.GetBytes("nistp256"), Bytes(seed, 65)), null);

    /// <summary>The blob of a key line (its base64 body).</summary>
    public static byte[] BlobOf(string line) => Convert.FromBase64String(line.Split(' ')[1]);

    /// <summary>What ssh-keygen -l prints as the key's fingerprint.</summary>
    public static string Fingerprint(string line) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(BlobOf(line))).TrimEnd('=');

    public static string Line(string type, byte[] blob, string? comment) =>
        comment is null ? $"{type} {Convert.ToBase64String(blob)}" : $"{type} {Convert.ToBase64String(blob)} {comment}";

    /// <summary>SSH strings one after the other: a uint32 length, then the bytes.</summary>
    public static byte[] Blob(string type, params byte[][] parts)
    {
        var all = new[] { Encoding.ASCII.GetBytes(type) }.Concat(parts).ToList();
        var blob = new byte[all.Sum(p => 4 + p.Length)];
        var at = 0;
        foreach (var p in all)
        {
            BinaryPrimitives.WriteUInt32BigEndian(blob.AsSpan(at), (uint)p.Length);
            p.CopyTo(blob, at + 4);
            at += 4 + p.Length;
        }
        return blob;
    }

    private static byte[] Bytes(int seed, int n)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }
}
