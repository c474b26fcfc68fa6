using System.Diagnostics;
using System.Text;
using Isola.Host.Boot;

namespace Isola.Lab.Guest;

/// <summary>
/// Isola's small test guest as a disk image, built from Debian packages on this machine: the installed
/// kernel and its modules, busybox as the whole userland (<see cref="GuestInit"/>), on a FAT file
/// system that syslinux boots (the whole disk is the file system, as on a USB stick: SeaBIOS boots its
/// first sector). qcow2 (or raw, by the file's extension); a few MiB.
/// </summary>
public static class GuestImage
{
    /// <summary>The image's size; the file system fills it (a server's disk may be larger; the guest only uses this much).</summary>
    public const int SizeMiB = 64;

    /// <summary>The programs the build needs, with the Debian package of each.</summary>
    public static IReadOnlyList<(string Program, string Package)> Tools { get; } =
        [("mkfs.vfat", "dosfstools"), ("syslinux", "syslinux"), ("mcopy", "mtools"), ("qemu-img", "qemu-utils")];

    /// <summary>Why no image can be built here (null: one can).</summary>
    public static string? Missing()
    {
        if (LabKernel.Find() is null)
            return "no kernel with its modules under /boot and /lib/modules (Debian: linux-image-amd64)";
        if (!File.Exists(LabKernel.Busybox))
            return $"{LabKernel.Busybox} is missing (Debian: busybox-static)";
        var missing = Tools.Where(t => !OnSbinPath(t.Program)).Select(t => $"{t.Program} (Debian: {t.Package})").ToList();
        return missing.Count > 0 ? "missing " + string.Join(", ", missing) : null;
    }

    /// <summary>Builds the image at <paramref name="output"/> (qcow2 unless it ends in .raw or .img).</summary>
    public static async Task BuildAsync(string output, CancellationToken ct = default)
    {
        if (Missing() is { } missing)
            throw new LabException($"the guest image cannot be built here: {missing}");
        var kernel = LabKernel.Find()!;
        var dir = Path.Join(Path.GetTempPath(), "isola-guest-image-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var modules = KernelModules.Resolve(kernel, GuestInit.Modules);
            var entries = new List<CpioEntry>();
            entries.AddRange(new[] { "bin", "dev", "proc", "sys", "run", "disk", "cidata", "modules" }.Select(CpioEntry.Dir));
            entries.Add(CpioEntry.Device("dev/console", 5, 1));
            entries.Add(CpioEntry.File("bin/busybox", await File.ReadAllBytesAsync(LabKernel.Busybox, ct), executable: true));
            foreach (var m in modules)
                entries.Add(CpioEntry.File("modules/" + Path.GetFileName(m), await File.ReadAllBytesAsync(Path.Join(kernel.Modules, m), ct)));
            entries.Add(CpioEntry.File("init", Encoding.UTF8.GetBytes(GuestInit.Script(modules)), executable: true));
            await File.WriteAllBytesAsync(Path.Join(dir, "initrd.img"), Cpio.Write(entries), ct);
            File.Copy(kernel.Image, Path.Join(dir, "vmlinuz"));
            await File.WriteAllTextAsync(Path.Join(dir, "syslinux.cfg"),
                "DEFAULT isola\nPROMPT 0\nTIMEOUT 0\nLABEL isola\n  KERNEL vmlinuz\n  INITRD initrd.img\n  APPEND console=ttyS0 panic=-1 quiet\n", ct);

            var raw = Path.Join(dir, "disk.raw");
            await using (var file = File.Create(raw))
                file.SetLength((long)SizeMiB << 20);
            await RunAsync(ct, "mkfs.vfat", "-n", GuestInit.DiskLabel, raw);
            await RunAsync(ct, "syslinux", "--install", raw);
            await RunAsync(ct, "mcopy", "-i", raw, Path.Join(dir, "vmlinuz"), Path.Join(dir, "initrd.img"), Path.Join(dir, "syslinux.cfg"), "::");
            var full = Path.GetFullPath(output);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var partial = full + ".partial";
            if (full.EndsWith(".raw", StringComparison.Ordinal) || full.EndsWith(".img", StringComparison.Ordinal))
                File.Copy(raw, partial, overwrite: true);
            else
                await RunAsync(ct, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, partial);
            File.Move(partial, full, overwrite: true);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static bool OnSbinPath(string program) =>
        LabKernel.OnPath(program) || new[] { "/usr/sbin", "/sbin" }.Any(d => File.Exists(Path.Join(d, program)));

    private static async Task RunAsync(CancellationToken ct, string program, params string[] args)
    {
        var path = new[] { "/usr/sbin", "/sbin" }.Select(d => Path.Join(d, program)).FirstOrDefault(File.Exists) ?? program;
        var info = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
            throw new LabException($"`{program} {string.Join(' ', args)}` exited {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}");
    }
}
