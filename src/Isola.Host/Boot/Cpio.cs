using System.Globalization;
using System.Text;

namespace Isola.Host.Boot;

/// <summary>An entry of an initramfs: a directory, a regular file with its bytes, or a character device.</summary>
public sealed record CpioEntry(string Path, int Mode, byte[]? Data = null, int DevMajor = 0, int DevMinor = 0)
{
    public const int Directory = 0x4000;
    public const int RegularFile = 0x8000;
    public const int CharDevice = 0x2000;

    public static CpioEntry Dir(string path) => new(path, Directory | 0x1ed); // 0755

    public static CpioEntry File(string path, byte[] data, bool executable = false) => new(path, RegularFile | (executable ? 0x1ed : 0x1a4), data);

    public static CpioEntry Device(string path, int major, int minor) => new(path, CharDevice | 0x180, null, major, minor); // 0600
}

/// <summary>
/// The "newc" cpio archive the kernel unpacks as its initramfs (what <c>cpio -H newc</c> writes): per
/// entry a 110-byte ASCII header of 8-digit hex fields, the NUL-terminated name, the data, each
/// padded to 4 bytes; a <c>TRAILER!!!</c> entry at the end. Uncompressed (the kernel takes it as is),
/// and deterministic: inode numbers in entry order, mtime 0.
/// </summary>
public static class Cpio
{
    public static byte[] Write(IEnumerable<CpioEntry> entries)
    {
        using var output = new MemoryStream();
        var ino = 1;
        foreach (var e in entries)
            Append(output, e, ino++);
        Append(output, new CpioEntry("TRAILER!!!", 0), 0);
        return output.ToArray();
    }

    private static void Append(MemoryStream output, CpioEntry e, int ino)
    {
        var name = Encoding.ASCII.GetBytes(e.Path.TrimStart('/') + "\0");
        var data = e.Data ?? [];
        var nlink = (e.Mode & 0xf000) == CpioEntry.Directory ? 2 : 1;
        var header = new StringBuilder("070701");
        foreach (var field in new long[] { ino, e.Mode, 0, 0, e.Mode == 0 ? 1 : nlink, 0, data.Length, 0, 0, e.DevMajor, e.DevMinor, name.Length, 0 })
            header.Append(field.ToString("x8", CultureInfo.InvariantCulture));
        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        output.Write(name);
        Pad(output);
        output.Write(data);
        Pad(output);
    }

    private static void Pad(MemoryStream output)
    {
        while (output.Length % 4 != 0)
            output.WriteByte(0);
    }
}
